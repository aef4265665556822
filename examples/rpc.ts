/**
 * Request and response on the run loop (`@scope/mqtt5/supervisor`): a server answers `[a, b]` with
 * `a + b` through `respond()`, and a client asks several sums at once through `request()`, which
 * sets the Response Topic and the Correlation Data, subscribes to the responses once and matches
 * each response to its request.
 *
 * `deno run --allow-net examples/rpc.ts [host] [port] [user] [password]`
 *
 * @module
 */

import { supervise } from "../src/supervisor/mod.ts";

/** Where the example connects, and what it asks. */
export interface RpcOptions {
  /** The broker: `mqtt://user:password@host:port`. */
  url: string;
  /** The topic of the requests. @default {"rpc/add"} */
  topic?: string;
  /** The sums to ask, all at once. @default {[[1, 2], [3, 4], [5, 6]]} */
  pairs?: [number, number][];
  /** Where the example writes its lines. @default {console.log} */
  log?: (line: string) => void;
}

/** Starts the adding server, asks it every pair at once, and returns the sums. */
export async function rpc({
  url,
  topic = "rpc/add",
  pairs = [[1, 2], [3, 4], [5, 6]],
  log = console.log,
}: RpcOptions): Promise<number[]> {
  await using server = supervise({ url });
  await server.respond(topic, (request) => {
    const [a, b] = JSON.parse(request.text());
    return JSON.stringify(a + b);
  });
  await using client = supervise({ url });
  const replies = await Promise.all(
    pairs.map((pair) =>
      client.request(topic, JSON.stringify(pair), { signal: AbortSignal.timeout(5000) })
    ),
  );
  const sums = replies.map((reply) => JSON.parse(reply.text()));
  log(`sums: ${sums.join(", ")}`);
  return sums;
}

if (import.meta.main) {
  const [host = "127.0.0.1", port = "1883", user = "", password = ""] = Deno.args;
  const auth = user === "" ? "" : `${encodeURIComponent(user)}:${encodeURIComponent(password)}@`;
  await rpc({ url: `mqtt://${auth}${host}:${port}` });
}
