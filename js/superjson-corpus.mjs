// Prints [{"name", "stringified": superjson.stringify(value)}] for ~300 values: hand-written edge
// cases, then random nested values from a fixed-seed PRNG. The output is the same on every run.
// Every value is freshly built: no object appears twice and there are no cycles.
import superjson from "superjson";

const edge = {
  "null": () => null,
  "true": () => true,
  "false": () => false,
  "small-ints": () => [0, 1, 42, 127, 128, 255, 65536, -1, -32, -129],
  "fractions": () => [0.5, -1.25, 0.1, 1 / 3, 123.456],
  "large-and-tiny": () => [1e21, 1e-7, 5e-324, 1.7976931348623157e308, 2 ** 53 + 2, -(2 ** 53)],
  "non-finite": () => [NaN, Infinity, -Infinity],
  "negative-zero": () => ({ z: -0, zs: [-0, 0] }),
  "nan-top": () => NaN,
  "strings-unicode": () => ["", "héllo", "日本語", "😀👍🏽", "e\u0301", "\u{10FFFF}"],
  "strings-escapes": () => ["\u0000\u001f", 'say "hi"', "back\\slash", "</script>", "line\u2028sep\u2029", "tab\tnl\n"],
  "bigints": () => [0n, -1n, 123n, -9007199254740993n, 1234567890123456789012345678901234567890n],
  "bigint-top": () => -1234567890123456789012345678901234567890n,
  "undefined-top": () => undefined,
  "undefined-in-object": () => ({ a: undefined, b: 1 }),
  "undefined-in-array": () => [undefined, 1, undefined],
  "undefined-in-map": () => new Map([[undefined, 1], ["k", undefined]]),
  "undefined-in-set": () => new Set([undefined, 1]),
  "dates": () => [new Date(0), new Date("2024-02-29T12:34:56.789Z"), new Date(-1), new Date("1900-01-01T00:00:00Z")],
  "date-year-0": () => new Date("0000-01-01T00:00:00.000Z"),
  "date-extremes": () => [new Date(8.64e15), new Date(-8.64e15), new Date("+010000-01-01T00:00:00Z")],
  "date-invalid": () => ({ d: new Date(NaN) }),
  "regexps": () => [/abc/, /a.b/gi, /\u{1F600}/u, /a\/b\/c/m, /[/]/y, new RegExp("", "dgimsuy".replace("u", ""))],
  "errors": () => [new Error("plain"), new TypeError("bad type"), new RangeError("")],
  "error-cause": () => new Error("outer", { cause: new Error("inner", { cause: 42 }) }),
  "error-cause-object": () => new Error("x", { cause: { code: "E1", at: new Date(5) } }),
  "urls": () => [new URL("https://example.com/a?b=1#c"), new URL("http://user:pw@[::1]:8080/p%20q"), new URL("file:///tmp/x y")],
  "map-string-keys": () => new Map([["a", 1], ["b", [2]], ["", null]]),
  "map-number-keys": () => new Map([[1, "one"], [NaN, "nan"], [-0, "zero"], [1.5, "x"]]),
  "map-object-keys": () => new Map([[{ k: 1 }, "obj"], [[1, 2], "arr"], [new Map([[1, 2]]), "map"]]),
  "map-date-keys": () => new Map([[new Date(0), "epoch"], [new Date(86400000), "day"]]),
  "set-primitives": () => new Set([1, "1", null, true, 2n, NaN]),
  "set-objects": () => new Set([{ a: 1 }, [1], new Set([2]), new Date(3)]),
  "nested": () => ({ a: [{ b: { c: [new Map([["d", new Set([new Date(1)])]])] } }] }),
  "keys-special": () => ({ "a.b": 1, "\\": 2, "": 3, "a\\.b": new Date(4), ".": undefined }),
  "keys-integer-like": () => ({ z: 1, 10: 2, 2: 3, "-1": 4, "01": 5, a: 6 }),
  "keys-like-polycodec-kinds": () => [{ "$polycodec::Date": 5 }, { "$polycodec::Set": [1], a: 1 }, { "$polycodec::Map": new Map([[1, 2]]) }],
  "empty-containers": () => [[], {}, new Map(), new Set()],
  "deep-array": () => [[[[[[[[1]]]]]]]],
  "repeated-specials": () => ({ a: NaN, b: [NaN, 7n], c: 7n }),
};

/** mulberry32: a tiny 32-bit PRNG, fixed seed so the corpus is reproducible. */
function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(0x5eed1234);
const int = (n) => Math.floor(random() * n);
const pick = (list) => list[int(list.length)];

const NUMBERS = [0, 1, -1, 7, 255, -129, 65536, 0.5, -2.75, 1e21, 1e-7, 5e-324, 1.7976931348623157e308,
  NaN, Infinity, -Infinity, -0, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER];
const CODE_POINTS = [0x61, 0x7a, 0x20, 0x2e, 0x5c, 0x22, 0x2f, 0x0, 0x1f, 0x7f, 0xe9, 0x3b1, 0x65e5, 0x2028, 0xfeff, 0x1f600, 0x10ffff];
const KEYS = ["a", "b", "id", "", ".", "a.b", "\\", "2", "10", "0", "key with space", "ключ", "😀", "$polycodec::Date"];

const randomString = () => String.fromCodePoint(...Array.from({ length: int(8) }, () => pick(CODE_POINTS)));
const randomDate = () => new Date(Math.round((random() * 2 - 1) * 8.64e15 * (random() < 0.7 ? 1e-4 : 1)));
const randomBigInt = () => (random() < 0.5 ? -1n : 1n) * BigInt(Math.floor(random() * 2 ** 53)) ** BigInt(1 + int(3));

function randomLeaf() {
  switch (int(11)) {
    case 0: return pick([null, true, false, undefined]);
    case 1: case 2: return random() < 0.5 ? pick(NUMBERS) : int(2000) - 1000;
    case 3: case 4: return randomString();
    case 5: return randomBigInt();
    case 6: return randomDate();
    case 7: return pick([() => /x+/g, () => /[a-z]\/\d/iu, () => new RegExp(randomString().replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&"), "s")])();
    case 8: return random() < 0.5 ? new Error(randomString()) : new TypeError(randomString(), { cause: randomLeaf() });
    case 9: return new URL(`https://example.com/${int(100)}?q=${encodeURIComponent(randomString())}#${int(9)}`);
    default: return random() < 0.5 ? -0 : 0.25;
  }
}

function randomValue(depth) {
  if (depth >= 4 || random() < 0.35) return randomLeaf();
  const n = int(5);
  const child = () => randomValue(depth + 1);
  switch (int(4)) {
    case 0: return Array.from({ length: n }, child);
    case 1: {
      const obj = {};
      for (let i = 0; i < n; i++) obj[pick(KEYS)] = child();
      return obj;
    }
    case 2: return new Map(Array.from({ length: n }, () => [random() < 0.6 ? pick([...KEYS, 1, 2.5, NaN]) : child(), child()]));
    default: return new Set(Array.from({ length: n }, child));
  }
}

const cases = Object.entries(edge).map(([name, make]) => ({ name, stringified: superjson.stringify(make()) }));
for (let i = 0; cases.length < 300; i++) {
  cases.push({ name: `random-${String(i).padStart(3, "0")}`, stringified: superjson.stringify(randomValue(0)) });
}
process.stdout.write(JSON.stringify(cases, null, 1) + "\n");
