/**
 * Request/response with MQTT 5.0 (section 4.10): the requester asks for Response Information in
 * CONNECT, builds its response topic from it (or from its client identifier when the server gives
 * none, as Mosquitto does), and publishes a request with a Response Topic and Correlation Data; the
 * responder answers on that topic with the same Correlation Data.
 *
 * `deno run --allow-net examples/request_response.ts [host] [port] [user] [password]`
 *
 * @module
 */

import { Client, connectTcp } from "../mod.ts";
import { logger } from "./_log.ts";

/** Where the example connects. */
export interface RequestResponseOptions {
  /** The broker host. */
  hostname: string;
  /** The broker port. */
  port: number;
  /** The user name. */
  username?: string;
  /** The password. */
  password?: string;
  /** Where the example writes its lines. */
  log?: (line: string) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs one request and its response; returns the response text. */
export async function requestResponse(options: RequestResponseOptions): Promise<string> {
  const log = options.log ?? console.log;
  const connectTo = () => connectTcp({ hostname: options.hostname, port: options.port });
  const auth = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  const run = crypto.randomUUID().slice(0, 8);
  const requestTopic = `mqtt5/rr/${run}/requests`;

  // The responder: subscribes to requests.
  const responder = new Client({ logger });
  await responder.connect(await connectTo(), { clientId: `responder-${run}`, ...auth });
  await responder.subscribe({ filter: requestTopic, qos: 1 });
  await responder.poll({ signal: AbortSignal.timeout(5000) }); // SUBACK

  // The requester: asks for Response Information and subscribes to its response topic.
  const requester = new Client({ logger });
  const connack = await requester.connect(await connectTo(), {
    clientId: `requester-${run}`,
    requestResponseInformation: true,
    ...auth,
  });
  const base = connack.responseInformation ?? `mqtt5/rr/${run}/responses/`;
  log(
    `Response Information: ${
      JSON.stringify(connack.responseInformation)
    }; response topics under ${base}`,
  );
  const responseTopic = `${base}${connack.clientId}`;
  await requester.subscribe({ filter: responseTopic, qos: 1 });
  await requester.poll({ signal: AbortSignal.timeout(5000) }); // SUBACK

  const correlationData = encoder.encode(crypto.randomUUID());
  await requester.publish(
    {
      topic: requestTopic,
      qos: 1,
      properties: {
        responseTopic,
        correlationData,
        contentType: "text/plain",
        payloadFormatIndicator: 1,
      },
    },
    "What time is it?",
  );

  // The responder answers on the Response Topic with the same Correlation Data.
  for (;;) {
    const event = await responder.poll({ signal: AbortSignal.timeout(5000) });
    if (event.type !== "message") continue;
    const { responseTopic: to, correlationData: id } = event.properties;
    log(`responder got ${JSON.stringify(decoder.decode(event.payload))}, answering on ${to}`);
    if (to === undefined) continue;
    await responder.publish(
      { topic: to, qos: 1, properties: id ? { correlationData: id } : {} },
      "It is " + new Date(0).toISOString(),
    );
    break;
  }

  // The requester matches the response by its Correlation Data.
  let answer: string | undefined;
  while (answer === undefined) {
    const event = await requester.poll({ signal: AbortSignal.timeout(5000) });
    if (event.type !== "message") continue;
    const id = event.properties.correlationData;
    if (id && decoder.decode(id) === decoder.decode(correlationData)) {
      answer = decoder.decode(event.payload);
    }
  }
  log(`requester got the response: ${JSON.stringify(answer)}`);
  await requester.disconnect();
  await responder.disconnect();
  return answer;
}

if (import.meta.main) {
  const [hostname = "127.0.0.1", port = "1883", username, password] = Deno.args;
  await requestResponse({
    hostname,
    port: Number(port),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  });
}
