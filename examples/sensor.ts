/**
 * A sensor on the run loop (`@scope/mqtt5/supervisor`): it publishes a reading at QoS 1 every
 * `interval` milliseconds and survives broker restarts with nothing lost. Each `publish()`
 * resolves once the broker's PUBACK came, across reconnects: a reading published while the broker
 * is down waits in the queue, one in flight when the connection drops is sent again on the resumed
 * session (or queued again if the broker lost the session).
 *
 * `deno run --allow-net examples/sensor.ts [host] [port] [user] [password]`
 *
 * @module
 */

import { supervise } from "../src/supervisor/mod.ts";

/** Where the sensor publishes, and how much. */
export interface SensorOptions {
  /** The broker: `mqtt://user:password@host:port`. */
  url: string;
  /** The client identifier, which names the session. @default {"sensor-1"} */
  clientId?: string;
  /** The topic of the readings. @default {"sensors/1/temperature"} */
  topic?: string;
  /** How many readings to publish. @default {10} */
  count?: number;
  /** Milliseconds between readings. @default {1000} */
  interval?: number;
  /** Where the sensor writes its lines. @default {console.log} */
  log?: (line: string) => void;
}

/** Publishes `count` readings, each acknowledged by the broker, then stops. */
export async function sensor({
  url,
  clientId = "sensor-1",
  topic = "sensors/1/temperature",
  count = 10,
  interval = 1000,
  log = console.log,
}: SensorOptions): Promise<void> {
  await using mqtt = supervise({
    url,
    clientId,
    sessionExpiryInterval: 3600, // the broker keeps the session across restarts and cuts
    onStatus: (status) => log(status.type),
  });
  for (let seq = 1; seq <= count; seq++) {
    const reading = JSON.stringify({ seq, celsius: 20 + Math.random() * 5 });
    await mqtt.publish(topic, reading, { qos: 1 }); // resolves with the PUBACK
    log(`reading ${seq} delivered`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

if (import.meta.main) {
  const [host = "127.0.0.1", port = "1883", user = "", password = ""] = Deno.args;
  const auth = user === "" ? "" : `${encodeURIComponent(user)}:${encodeURIComponent(password)}@`;
  await sensor({ url: `mqtt://${auth}${host}:${port}` });
}
