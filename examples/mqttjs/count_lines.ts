/**
 * Counts the lines of logic of the run loop's three examples (`examples/sensor.ts`, `worker.ts`,
 * `rpc.ts`) and of their MQTT.js 5 equivalents in this folder, and prints the table.
 *
 * A line of logic is a line that is not blank and not a comment, outside the import statements,
 * the TypeScript type declarations (`interface`, `type`: the `.mjs` files have none) and the
 * program's wrapper (`if (import.meta.main) { ... }`, `if (import.meta.url === ...) { ... }`),
 * which only parses the command line.
 *
 * `deno run --allow-read examples/mqttjs/count_lines.ts`
 *
 * @module
 */

/** The programs compared: ours, then MQTT.js's. */
export const PROGRAMS: readonly { name: string; ours: string; mqttjs: string }[] = [
  { name: "sensor", ours: "../sensor.ts", mqttjs: "./sensor.mjs" },
  { name: "worker", ours: "../worker.ts", mqttjs: "./worker.mjs" },
  { name: "rpc", ours: "../rpc.ts", mqttjs: "./rpc.mjs" },
];

/** The lines of logic of a source text, by the rules of this module's documentation. */
export function logicLines(source: string): string[] {
  const kept: string[] = [];
  let inComment = false;
  /** The end of the block being skipped: `;` for an import, `}` at column 0 for the rest. */
  let skipUntil: RegExp | undefined;
  for (const line of source.split("\n")) {
    const text = line.trim();
    if (inComment) {
      if (text.includes("*/")) inComment = false;
      continue;
    }
    if (skipUntil !== undefined) {
      if (skipUntil.test(line)) skipUntil = undefined;
      continue;
    }
    if (text === "" || text.startsWith("//")) continue;
    if (text.startsWith("/*")) {
      if (!text.includes("*/")) inComment = true;
      continue;
    }
    if (/^import\b/.test(text)) {
      if (!text.endsWith(";")) skipUntil = /;\s*$/;
      continue;
    }
    if (/^(export )?(interface|type) /.test(text)) {
      if (text.endsWith("{")) skipUntil = /^}/;
      continue;
    }
    if (/^if \(import\.meta\.(main|url)\b/.test(text)) {
      skipUntil = /^}/;
      continue;
    }
    kept.push(line);
  }
  return kept;
}

if (import.meta.main) {
  const count = async (path: string) =>
    logicLines(await Deno.readTextFile(new URL(path, import.meta.url))).length;
  const rows = await Promise.all(
    PROGRAMS.map(async (p) => ({ ...p, a: await count(p.ours), b: await count(p.mqttjs) })),
  );
  console.log("| program | mqtt5 supervisor | MQTT.js 5 | ratio |");
  console.log("| ------- | ---------------- | --------- | ----- |");
  for (const { name, a, b } of rows) {
    console.log(`| ${name} | ${a} | ${b} | ${(a / b).toFixed(2)} |`);
  }
  const total = rows.reduce((sum, r) => ({ a: sum.a + r.a, b: sum.b + r.b }), { a: 0, b: 0 });
  console.log(`| total | ${total.a} | ${total.b} | ${(total.a / total.b).toFixed(2)} |`);
  if (Deno.args.includes("--show")) {
    for (const p of PROGRAMS) {
      for (const path of [p.ours, p.mqttjs]) {
        console.log(`\n${path}:`);
        const text = await Deno.readTextFile(new URL(path, import.meta.url));
        console.log(logicLines(text).join("\n"));
      }
    }
  }
}
