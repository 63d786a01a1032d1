// Reads {"mode": "msgpackr" | "@msgpack", "hexes": [...]} on stdin: MessagePack that polycodec
// wrote. Each is read by the real msgpackr 2.1.3 in three configurations and written again by
// `new Packr({ structuredClone: true })`; prints one JSON array with, per input,
//   {"packr": <hex or "error: ...">, "clone": <hex or "error: ...">, "unpack": "ok" | "error: ..."}
// packr: read by `new Packr()` (records, maps as Maps); clone: read by
// `new Packr({ structuredClone: true })`; unpack: read by the module's `unpack()` (maps as objects).
// In mode "@msgpack", each input is read by @msgpack/msgpack with no
// extension codec instead (default and `useBigInt64`): {"default": "ok" | "error: ...", "bigint64": ...}.
import { Packr, unpack } from "msgpackr";
import { decode } from "@msgpack/msgpack";

const writer = new Packr({ structuredClone: true });
const readers = { packr: new Packr(), clone: new Packr({ structuredClone: true }) };
const attempt = (f) => {
  try {
    return f();
  } catch (err) {
    return `error: ${err?.name}: ${err?.message}`;
  }
};

let input = "";
for await (const chunk of process.stdin.setEncoding("utf8")) input += chunk;
const { mode, hexes } = JSON.parse(input);
const msgpackOnly = mode === "@msgpack";
const out = hexes.map((hex) => {
  const bytes = Uint8Array.from(Buffer.from(hex, "hex"));
  if (msgpackOnly) {
    return {
      default: attempt(() => (decode(bytes), "ok")),
      bigint64: attempt(() => (decode(bytes, { useBigInt64: true }), "ok")),
    };
  }
  const r = {};
  for (const [name, reader] of Object.entries(readers)) {
    r[name] = attempt(() => Buffer.from(writer.pack(reader.unpack(bytes))).toString("hex"));
  }
  r.unpack = attempt(() => (unpack(bytes), "ok"));
  return r;
});
process.stdout.write(JSON.stringify(out) + "\n");
