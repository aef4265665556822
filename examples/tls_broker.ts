/**
 * A local Mosquitto with a TLS listener made from the throw-away example certificates in
 * `examples/pki/`: it presents `server.crt` (for `localhost` and `127.0.0.1`), requires a client
 * certificate signed by `ca.crt`, and takes that certificate's Common Name as the user name.
 *
 * - `deno run -P=demo examples/tls_broker.ts [port]` (`deno task broker:tls`): TLS on
 *   localhost:8883 (or the port given) until Ctrl-C; run `examples/tls.ts` against it.
 * - `deno run -P=demo examples/tls_broker.ts --demo` (`deno task demo:tls`): TLS on a free port,
 *   runs `examples/tls.ts` against it, and stops the broker.
 *
 * @module
 */

import { type MosquittoTlsOptions, startMosquitto, tlsConfig } from "../tests/_util/mosquitto.ts";
import { EXAMPLE_PKI, tlsDemo } from "./tls.ts";

const path = (name: string) => decodeURIComponent(new URL(name, EXAMPLE_PKI).pathname);
const tls: MosquittoTlsOptions = {
  cafile: path("ca.crt"),
  certfile: path("server.crt"),
  keyfile: path("server.key"),
};

if (Deno.args[0] === "--demo") {
  await using broker = await startMosquitto({ tls });
  console.log(`Mosquitto runs with TLS on localhost:${broker.port}; running examples/tls.ts`);
  await tlsDemo({ hostname: "localhost", port: broker.port });
} else {
  const port = Number(Deno.args[0] ?? 8883);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`Cannot listen on port "${Deno.args[0]}": give a number from 1 to 65535`);
    Deno.exit(2);
  }
  // The fixture's own listener (plain TCP on a free port, with a password) stays; the TLS
  // listener on the fixed port comes after it.
  await using broker = await startMosquitto({
    config: [`listener ${port} 127.0.0.1`, ...tlsConfig(tls)],
  });
  console.log(
    `Mosquitto runs with TLS on localhost:${port} (client certificates from examples/pki/; ` +
      `also plain TCP on ${broker.hostname}:${broker.port} for user ${broker.username}).\n` +
      `Try: deno run --allow-net --allow-read examples/tls.ts localhost ${port}\n` +
      "Ctrl-C stops it.",
  );
  const { promise, resolve } = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", resolve);
  await promise;
  Deno.removeSignalListener("SIGINT", resolve);
  console.log("\nstopping");
}
