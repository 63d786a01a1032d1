// JS anchors for the codec comparison: times superjson.stringify/parse,
// JSON.stringify/parse and msgpackr's `new Packr()` pack/unpack (records on) on the same
// payloads the Rust side uses.
// Usage: node benches/compare/js-codecs.mjs <payloads.json> <ms per measurement>
// payloads.json maps a payload name to its superjson text (written by polycodec).
// Each line read from stdin runs one round; each round prints one JSON line:
// {name: {sjStringify, sjParse, jsonStringify, jsonParse, msgpackrPack, msgpackrUnpack}} in ops/s. The Rust side runs its
// own rounds in between, so that both sides of every ratio share the machine's slow spells.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import superjson from "superjson";
import { Packr } from "msgpackr";

const [file, msArg = "1000"] = process.argv.slice(2);
const ms = Number(msArg);
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

const cases = Object.entries(payloads).map(([name, text]) => {
  const value = superjson.parse(text);
  const json = JSON.stringify(value);
  const packr = new Packr();
  // A copy: pack() returns a view of the Packr's own buffer, which the next pack reuses.
  const packed = Uint8Array.from(packr.pack(value));
  return {
    name,
    ops: {
      sjStringify: () => superjson.stringify(value),
      sjParse: () => superjson.parse(text),
      jsonStringify: () => JSON.stringify(value),
      jsonParse: () => JSON.parse(json),
      msgpackrPack: () => packr.pack(value),
      msgpackrUnpack: () => packr.unpack(packed),
    },
  };
});

// Warm every operation up once (the JIT), before the first round.
for (const { ops } of cases) for (const fn of Object.values(ops)) time(fn);

for await (const _ of createInterface({ input: process.stdin })) {
  const out = {};
  for (const { name, ops } of cases) {
    out[name] = {};
    for (const [op, fn] of Object.entries(ops)) out[name][op] = time(fn);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
