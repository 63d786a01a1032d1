// JS anchors for the codec comparison: times superjson.stringify/parse and
// JSON.stringify/parse on the same payloads the Rust side uses.
// Usage: node benches/compare/js-codecs.mjs <payloads.json> <ms per measurement> <runs>
// payloads.json maps a payload name to its superjson text (written by polycodec).
// Prints one JSON object: {name: {sjStringify, sjParse, jsonStringify, jsonParse}} in ops/s.
import { readFileSync } from "node:fs";
import superjson from "superjson";

const [file, msArg = "1000", runsArg = "3"] = process.argv.slice(2);
const ms = Number(msArg);
const runs = Number(runsArg);
const payloads = JSON.parse(readFileSync(file, "utf8"));

// Run `fn` repeatedly for about `ms` milliseconds; ops per second.
function time(fn) {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 8; i++) fn();
    n += 8;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const out = {};
for (const [name, text] of Object.entries(payloads)) {
  const value = superjson.parse(text);
  const json = JSON.stringify(value);
  // Warm up each operation once for about a third of the budget.
  const ops = {
    sjStringify: () => superjson.stringify(value),
    sjParse: () => superjson.parse(text),
    jsonStringify: () => JSON.stringify(value),
    jsonParse: () => JSON.parse(json),
  };
  out[name] = { superjsonBytes: Buffer.byteLength(text), jsonBytes: Buffer.byteLength(json) };
  for (const [op, fn] of Object.entries(ops)) {
    time(fn);
    out[name][op] = median(Array.from({ length: runs }, () => time(fn)));
  }
}
process.stdout.write(JSON.stringify(out) + "\n");
