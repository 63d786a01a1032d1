// Reads a JSON array of hex strings on stdin. Each is decoded with js/msgpack-extensions.mjs and
// encoded again; prints one JSON array with, per input:
//   {"hex": <re-encoded hex>, "superjson": superjson.stringify(decoded)}
// or {"error": "<name>: <message>"} (plus "superjson" when only re-encoding failed).
// "superjsonError" replaces "superjson" when superjson cannot stringify the value (BigInt64Array).
import superjson from "superjson";
import { decode, encode } from "./msgpack-extensions.mjs";

const describe = (err) => `${err?.name}: ${err?.message}`;

function roundTrip(hex) {
  if (typeof hex !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(hex)) return { error: "InputError: not a hex string" };
  let value;
  try {
    // A plain Uint8Array, not a Buffer, so that decoded bin values are Uint8Arrays too.
    value = decode(Uint8Array.from(Buffer.from(hex, "hex")));
  } catch (err) {
    return { error: describe(err) };
  }
  const out = {};
  try {
    out.hex = Buffer.from(encode(value)).toString("hex");
  } catch (err) {
    out.error = describe(err);
  }
  try {
    out.superjson = superjson.stringify(value);
  } catch (err) {
    out.superjsonError = describe(err);
  }
  return out;
}

let input = "";
for await (const chunk of process.stdin.setEncoding("utf8")) input += chunk;
process.stdout.write(JSON.stringify(JSON.parse(input).map(roundTrip)) + "\n");
