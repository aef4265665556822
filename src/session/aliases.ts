/**
 * Topic aliases in both directions, for one connection (aliases never outlive it
 * [MQTT-3.3.2-7]): those the server sets towards the client, resolved on arrival, and those the
 * client sets towards the server, explicitly or by the automatic policy.
 *
 * @module
 */

/** The aliases the server set on this connection (section 3.3.2.3.4, receiver's side). */
export class InboundAliases {
  #topics = new Map<number, string>();

  /** Forgets every alias (a new connection). */
  clear(): void {
    this.#topics.clear();
  }

  /** The topic an alias stands for, if the server set it. */
  get(alias: number): string | undefined {
    return this.#topics.get(alias);
  }

  /** Records what an alias stands for from now on. */
  set(alias: number, topic: string): void {
    this.#topics.set(alias, topic);
  }
}

/** The aliases the client set on this connection, by alias and by topic. */
export class OutboundAliases {
  #topics = new Map<number, string>();
  #aliases = new Map<string, number>();

  /** Forgets every alias (a new connection). */
  clear(): void {
    this.#topics.clear();
    this.#aliases.clear();
  }

  /** The topic an alias stands for, if the client set it. */
  topic(alias: number): string | undefined {
    return this.#topics.get(alias);
  }

  /** The alias a topic has, if it has one. */
  alias(topic: string): number | undefined {
    return this.#aliases.get(topic);
  }

  /** How many aliases are set. */
  get size(): number {
    return this.#topics.size;
  }

  /** The lowest alias no topic holds (explicit aliases may have taken any of them). */
  lowestFree(): number {
    let alias = 1;
    while (this.#topics.has(alias)) alias++;
    return alias;
  }

  /** Records that `alias` stands for `topic` from now on (replacing what it stood for). */
  set(alias: number, topic: string): void {
    const previous = this.#topics.get(alias);
    if (previous !== undefined) this.#aliases.delete(previous);
    this.#topics.set(alias, topic);
    this.#aliases.set(topic, alias);
  }
}
