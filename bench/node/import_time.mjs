// Import time of MQTT.js on Node: `node import_time.mjs` prints the milliseconds that
// `import("mqtt")` takes in a fresh process.

const t0 = performance.now();
await import("mqtt");
console.log(JSON.stringify({ ms: performance.now() - t0 }));
