/**
 * The browser tests' observer: a Deno client on TCP, subscribed before the page starts, that
 * sees what the broker delivered. `await using` disconnects it (or drops it when gone).
 *
 * @module
 */

import { Client } from "../../src/client/mod.ts";
import { connectTcp } from "../../src/transport/mod.ts";
import { waitFor } from "../client/_client.ts";

/** A connected, subscribed observer client. */
export interface Observer extends AsyncDisposable {
  /** The client; poll it for what the broker delivered. */
  readonly client: Client;
}

/** Connects an observer to the broker's TCP `port` and subscribes to `filter` at QoS 2. */
export async function startObserver(
  port: number,
  options: { username: string; password: string; clientId: string; filter: string },
): Promise<Observer> {
  const client = new Client();
  const observer: Observer = {
    client,
    [Symbol.asyncDispose]: () =>
      client.state === "connected"
        ? client.disconnect({ signal: AbortSignal.timeout(5000) }).catch(() => client.abort())
        : Promise.resolve(client.abort()),
  };
  const { username, password, clientId, filter } = options;
  await client.connect(await connectTcp({ port }), { clientId, username, password });
  await client.subscribe({ filter, qos: 2 });
  await waitFor(client, "subscribed");
  return observer;
}
