// Prints codecs/msgpack/golden.json: fixed values encoded by @msgpack/msgpack with
// js/msgpack-extensions.mjs, each with superjson.stringify of the same value as the expected value.
//   node js/msgpack-golden.mjs > codecs/msgpack/golden.json
// -0 is left out: @msgpack/msgpack writes it as the integer 0 (see codecs/msgpack/README.md).
import { createRequire } from "node:module";
import superjson, { SuperJSON } from "superjson";
import { ExtData } from "@msgpack/msgpack";
import { ANNOTATION_KEY, encode } from "./msgpack-extensions.mjs";

const { version } = createRequire(import.meta.url)("@msgpack/msgpack/package.json");

// Annotated values (ext 7) stand for superjson class / symbol / custom values: their expected value
// is what a superjson instance that knows those types writes for the real JS value.
class Point {
  constructor(x, y) {
    this.x = x;
    this.y = y;
  }
}
class Decimal {
  constructor(text) {
    this.text = text;
  }
}
const active = Symbol("active");
const registered = new SuperJSON();
registered.registerClass(Point, "Point");
registered.registerSymbol(active, "status.active");
registered.registerCustom({ isApplicable: (v) => v instanceof Decimal, serialize: (v) => v.text, deserialize: (s) => new Decimal(s) }, "decimal.js");
const annotated = (annotation, value) => ({ [ANNOTATION_KEY]: annotation, value });

/** Distinct keys of 1 to 3 letters (never integer-like), to keep the 65536-entry map small. */
const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const shortKey = (i) => (i < 52 ? "" : shortKey(Math.floor(i / 52) - 1)) + LETTERS[i % 52];
const objectOf = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [shortKey(i), i % 2]));

// [name, () => value, extra]; extra.superjson overrides the expected text, extra.lossy says why
// superjson.stringify does not carry the whole value (the Rust test must special-case it).
const cases = [
  ["nil", () => null],
  ["bools", () => [true, false]],
  ["uint-widths", () => [0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991]],
  ["int-widths", () => [-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9007199254740991]],
  ["uint64-max-safe", () => 2 ** 53 - 1],
  ["uint64-below-max-safe", () => 2 ** 53 - 3],
  ["beyond-safe-is-float", () => [2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 64, 1e21]],
  ["floats", () => [0.5, -1.25, 0.1, 1 / 3, 5e-324, 1.7976931348623157e308, 1e-7]],
  ["nan", () => NaN],
  ["non-finite", () => [Infinity, -Infinity, NaN]],
  ["str-0", () => ""],
  ["str-31", () => "a".repeat(31)],
  ["str-32", () => "b".repeat(32)],
  ["str-255", () => "c".repeat(255)],
  ["str-256", () => "d".repeat(256)],
  ["str-70000", () => "0123456789".repeat(7000)],
  ["str-unicode", () => ["héllo", "日本語", "😀👍🏽", "\u0000\u001f\u2028", "ééééééééééééééé"]],
  ["bin-0", () => new Uint8Array(0)],
  ["bin-300", () => Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff)],
  ["array-15", () => Array.from({ length: 15 }, (_, i) => i)],
  ["array-16", () => Array.from({ length: 16 }, (_, i) => i)],
  ["array-65536", () => new Array(65536).fill(0)],
  ["object-15", () => objectOf(15)],
  ["object-16", () => objectOf(16)],
  ["object-65536", () => objectOf(65536)],
  ["object-key-order", () => ({ b: 1, 10: 2, a: 3, 2: 4, "": 5, "a.b": 6 })],
  ["empty-containers", () => [[], {}, new Map(), new Set()]],
  ["date-epoch-ts32", () => new Date(0)],
  ["date-whole-second-ts32", () => new Date("2021-01-01T00:00:00Z")],
  ["date-max-ts32", () => new Date((2 ** 32 - 1) * 1000)],
  ["date-ms-ts64", () => new Date("2021-01-01T00:00:00.123Z")],
  ["date-2106-ts64", () => new Date(2 ** 32 * 1000)],
  ["date-pre-1970-ts96", () => [new Date(-1), new Date("1969-12-31T23:59:59Z"), new Date("1900-01-01T00:00:00.5Z")]],
  ["date-year-3000-ts96", () => new Date("3000-01-01T00:00:00Z")],
  ["date-extremes-ts96", () => [new Date(8.64e15), new Date(-8.64e15), new Date("0000-01-01T00:00:00Z")]],
  ["date-invalid", () => new Date(NaN), { lossy: "superjson writes an invalid Date as null" }],
  ["undefined", () => undefined],
  ["undefined-nested", () => ({ a: undefined, b: [undefined, 1] })],
  ["bigint-int64", () => [0n, 5n, -5n, 12345678n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]],
  ["bigint-uint64", () => [2n ** 63n, 2n ** 64n - 1n]],
  ["bigint-beyond-64-bits", () => [2n ** 64n, -(2n ** 63n) - 1n, 2n ** 127n, -(2n ** 100n)]],
  ["bigint-40-digits", () => -1234567890123456789012345678901234567890n],
  ["numbers-past-32-bits-are-floats", () => [2 ** 32, -(2 ** 31) - 1, Date.UTC(2024, 0, 1), 2 ** 53 - 1]],
  ["application-extensions-kept", () => [1, 2, 3, 4, 5, 6, 7, 100, 127, -2, -128].map((t, i) =>
    new ExtData(t, Uint8Array.from({ length: [0, 1, 2, 3, 4, 8, 16, 17, 255, 256, 5][i] }, (_, j) => j & 0xff))),
    { lossy: "superjson has no form for an opaque extension (polycodec reads it as Value::Ext)" }],
  ["set", () => new Set([1, "a", null, 2n])],
  ["set-objects", () => new Set([{ a: 1 }, [1, 2], new Set()])],
  ["set-ext16", () => new Set(Array.from({ length: 300 }, (_, i) => i))],
  ["map-string-keys", () => new Map([["a", 1], ["b", "two"]])],
  ["map-number-keys", () => new Map([[1, "one"], [-2, "minus two"], [0.5, "half"]])],
  ["map-object-keys", () => new Map([[{ k: 1 }, "object"], [[1, 2], "array"], [new Date(0), "date"], [null, "null"]])],
  ["map-nested", () => new Map([["inner", new Map([[1, new Set([undefined])]])]])],
  ["regexp", () => [/a\/b/gi, /\u{1F600}/u, new RegExp(""), /[/]x$/msy]],
  ["error", () => new Error("boom")],
  ["error-cause", () => new TypeError("bad input", { cause: new Error("root cause") })],
  ["error-cause-value", () => new RangeError("out of range", { cause: { limit: 10n, at: new Date(0) } })],
  ["error-extra-props", () => Object.assign(new Error("with extras"), { code: "E_CODE", status: 404 }),
    { lossy: "the default superjson drops Error properties other than name, message and cause" }],
  ["url", () => [new URL("https://example.com/a?b=1#c"), new URL("http://user@[::1]:8080/ü")]],
  ["typed-arrays", () => [new Float32Array([1.5, -2, 0.1]), new Int16Array([1, -2, 32767, -32768]), new Float64Array([Math.PI, 1e300, -0.5])]],
  ["typed-arrays-more", () => [new Int8Array([-128, 127]), new Uint8ClampedArray([0, 255]), new Uint16Array([65535]), new Int32Array([-1]), new Uint32Array([4294967295])]],
  ["typed-array-ext32", () => Float64Array.from({ length: 8192 }, (_, i) => (i % 1024 === 0 ? i / 4 : 0))],
  ["annotated-class", () => annotated(["class", "Point"], { x: 1, y: 2 }), { superjson: registered.stringify(new Point(1, 2)) }],
  ["annotated-symbol", () => [annotated(["symbol", "status.active"], "active")], { superjson: registered.stringify([active]) }],
  ["annotated-custom", () => ({ price: annotated(["custom", "decimal.js"], "1.50") }), { superjson: registered.stringify({ price: new Decimal("1.50") }) }],
  ["nested-mix", () => ({
    user: { id: 9007199254740993n, name: "Zoë", tags: new Set(["a", "b"]), seen: new Date("2024-02-29T12:00:00.001Z") },
    scores: new Map([["x", [1, 2.5, NaN]], ["y", []]]),
    blob: Uint8Array.of(1, 2, 3),
    nothing: undefined,
    deep: [[[{ re: /x/g, url: new URL("https://example.org/") }]]],
  })],
];

const out = cases.map(([name, make, extra = {}]) => ({
  name,
  hex: Buffer.from(encode(make())).toString("hex"),
  superjson: extra.superjson ?? superjson.stringify(make()),
  ...(extra.lossy ? { lossy: extra.lossy } : {}),
}));

const generator = `@msgpack/msgpack ${version} with js/msgpack-extensions.mjs`;
process.stdout.write(`{"generator": ${JSON.stringify(generator)},\n"cases": [\n${out.map((c) => JSON.stringify(c)).join(",\n")}\n]}\n`);
