/**
 * Import time in a fresh Deno process: `import_time.ts <specifier>` prints the milliseconds that
 * `import(specifier)` takes (`../../mod.ts` for this library, `mqtt` for MQTT.js). The specifier
 * comes from the command line so that Deno cannot load it before the clock starts.
 *
 * @module
 */

const specifier = Deno.args[0];
if (specifier === undefined) throw new Error("usage: import_time.ts <specifier>");
const t0 = performance.now();
await import(specifier);
console.log(JSON.stringify({ ms: performance.now() - t0 }));
