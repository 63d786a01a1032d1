// Random JS values with every kind msgpackr writes (objects, class instances, arrays, Maps with
// any keys, Sets, Dates valid and invalid, RegExps, Errors with causes, bigints of every size,
// typed arrays, Buffers, undefined, NaN, -0, shared objects and cycles), packed by the real
// msgpackr 2.1.3 in its common configurations, and the check that what polycodec makes of them
// reads back in msgpackr as msgpackr itself reads the original.
//   {"mode": "corpus", "count": N, "seed": S}  -> [{"config": name, "hex": ...}]
//   {"mode": "compare", "cases": [{"config", "orig", "rust"}]} -> [{"ok": true} | {"diff": ...}]
// In "compare", `orig` is read by a Packr of the case's configuration (what msgpackr makes of
// it) and `rust` (polycodec's `msgpackr` profile output) by `new Packr({ structuredClone: true })`.
import { Packr, pack, unpack } from "msgpackr";

const CONFIGS = {
  default: { options: {} },
  structuredClone: { options: { structuredClone: true } },
  useRecordsFalse: { options: { useRecords: false } },
  modulePack: { module: true },
  useRecordsFalseClone: { options: { useRecords: false, structuredClone: true } },
};

function rng(seed) {
  let x = BigInt(seed) | 1n;
  return () => {
    x ^= x << 13n; x &= (1n << 64n) - 1n;
    x ^= x >> 7n;
    x ^= x << 17n; x &= (1n << 64n) - 1n;
    return Number(x % 1000000007n);
  };
}

class Point {
  constructor(x, y) { this.x = x; this.y = y; }
}

function value(next, depth, cfg, pool) {
  const pick = (xs) => xs[next() % xs.length];
  const n = next() % (depth === 0 ? 9 : 16);
  switch (n) {
    case 0: return pick([undefined, null, true, false]);
    case 1: return pick([0, -0, 1, 63, 64, 127, 128, -33, 2 ** 32, -(2 ** 31) - 1, 0.5, NaN, Infinity, -Infinity, 2 ** 53, 1e21, Date.UTC(2024, 0, 1)]);
    case 2: {
      const big = [5n, -5n, 0n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, -(2n ** 63n)];
      // Beyond 64 bits only where the configuration can write it (ext 0x42).
      if (cfg.options?.structuredClone) big.push(2n ** 64n, -(2n ** 100n), 2n ** 127n);
      return pick(big);
    }
    case 3: return pick(["", "a", "héllo", "😀", "x".repeat(40), "line\nbreak"]);
    case 4: return pick([new Date(0), new Date(1700000000123), new Date(-1500), new Date(NaN), new Date(Date.UTC(2200, 0, 1))]);
    case 5: return pick([Uint8Array.of(1, 2, 3), Buffer.from([9, 8]), new Uint8Array(0)]);
    case 6: return pick([/ab+c/gi, /x/, /[/]\d/mu]);
    case 7: {
      // Typed arrays other than Uint8Array only with moreTypes: without it msgpackr 2.1.3
      // writes garbage (spec §8).
      if (!cfg.options?.structuredClone) return pick([1, "t"]);
      return pick([Float64Array.of(1.5, -2), Int32Array.of(1, -1), Int8Array.of(-128, 127), Float32Array.of(0.5), Uint16Array.of(65535), BigInt64Array.of(1n, -2n)]);
    }
    case 8: return pick([new Error("boom"), new TypeError("bad", { cause: new Error("root") }), new RangeError("r")]);
    case 9: case 10: {
      const o = {};
      const keys = ["a", "b", "id", "name", "1", "x y", "k" + (next() % 70)];
      for (let i = next() % 4; i > 0; i--) o[pick(keys)] = value(next, depth - 1, cfg, pool);
      pool.push(o);
      return o;
    }
    case 11: {
      const a = [];
      for (let i = next() % 4; i > 0; i--) a.push(value(next, depth - 1, cfg, pool));
      pool.push(a);
      return a;
    }
    case 12: {
      const m = new Map();
      for (let i = next() % 3; i > 0; i--) {
        const k = pick(["k" + i, i, cfg.options?.useRecords === false || cfg.module ? "s" + i : { k: i }]);
        m.set(k, value(next, depth - 1, cfg, pool));
      }
      return m;
    }
    case 13: return new Set(["m" + (next() % 5), next() % 7]);
    case 14: return new Point(next() % 10, value(next, depth - 1, cfg, pool));
    default: {
      // A node seen before: shared (and perhaps a cycle) where references are written.
      if (!cfg.options?.structuredClone || pool.length === 0) return null;
      return pick(pool);
    }
  }
}

function corpus(count, seed) {
  const next = rng(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    for (const [config, cfg] of Object.entries(CONFIGS)) {
      const pool = [];
      const v = [value(next, 4, cfg, pool), value(next, 4, cfg, pool)];
      // msgpackr cannot read its own cycles with records off (spec §8): no shared nodes there.
      if (config === "useRecordsFalseClone") continue;
      let bytes;
      try {
        bytes = cfg.module ? pack(v) : new Packr(cfg.options).pack(v);
        (cfg.module ? unpack(bytes) : new Packr(cfg.options).unpack(bytes));
      } catch {
        continue;
      }
      out.push({ config, hex: Buffer.from(bytes).toString("hex") });
    }
  }
  return out;
}

// ---- comparing, as msgpackr reads the two

const kind = (v) => {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (v instanceof Uint8Array) return "bytes";
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (v instanceof Map) return "Map";
  if (v instanceof Set) return "Set";
  if (v instanceof Date) return "Date";
  if (v instanceof RegExp) return "RegExp";
  if (v instanceof Error) return "Error";
  return typeof v;
};

function same(a, b, path, seen, mapsMayBeObjects) {
  const ka = kind(a);
  let kb = kind(b);
  // Records off: msgpackr reads a Map's plain map as an object; polycodec keeps the Map.
  if (mapsMayBeObjects && ka === "object" && kb === "Map") {
    b = Object.fromEntries(b);
    kb = "object";
  }
  if (typeof a === "object" && a !== null) {
    const pair = seen.get(a);
    if (pair !== undefined) return pair === b || kind(pair) === "Map" ? null : `${path}: identity differs`;
    seen.set(a, b);
  }
  if (ka !== kb) return `${path}: ${ka} vs ${kb}`;
  switch (ka) {
    case "number": return Object.is(a, b) || (a === 0 && b === 0) ? null : `${path}: ${a} vs ${b}`;
    case "bigint": case "string": case "boolean": case "undefined": case "null":
      return a === b ? null : `${path}: ${String(a)} vs ${String(b)}`;
    case "Date": return Object.is(a.getTime(), b.getTime()) ? null : `${path}: ${a} vs ${b}`;
    case "RegExp": return String(a) === String(b) ? null : `${path}: ${a} vs ${b}`;
    case "Error":
      if (a.name !== b.name || a.message !== b.message) return `${path}: ${a} vs ${b}`;
      return same(a.cause, b.cause, `${path}.cause`, seen, mapsMayBeObjects);
    case "bytes": case "Float64Array": case "Int32Array": case "Int8Array": case "Float32Array":
    case "Uint16Array": case "BigInt64Array":
      return a.length === b.length && a.every((x, i) => Object.is(x, b[i])) ? null : `${path}: ${a} vs ${b}`;
    case "array": case "Set": {
      const xs = [...a];
      const ys = [...b];
      if (xs.length !== ys.length) return `${path}: length ${xs.length} vs ${ys.length}`;
      for (let i = 0; i < xs.length; i++) {
        const d = same(xs[i], ys[i], `${path}.${i}`, seen, mapsMayBeObjects);
        if (d) return d;
      }
      return null;
    }
    case "Map": {
      const xs = [...a];
      const ys = [...b];
      if (xs.length !== ys.length) return `${path}: size ${xs.length} vs ${ys.length}`;
      for (let i = 0; i < xs.length; i++) {
        const d = same(xs[i][0], ys[i][0], `${path}.key${i}`, seen, mapsMayBeObjects) ??
          same(xs[i][1], ys[i][1], `${path}.${i}`, seen, mapsMayBeObjects);
        if (d) return d;
      }
      return null;
    }
    default: {
      const ka2 = Object.keys(a);
      const kb2 = Object.keys(b);
      if (ka2.join("\u0000") !== kb2.join("\u0000")) return `${path}: keys ${ka2} vs ${kb2}`;
      for (const k of ka2) {
        const d = same(a[k], b[k], `${path}.${k}`, seen, mapsMayBeObjects);
        if (d) return d;
      }
      return null;
    }
  }
}

function compare(cases) {
  const clone = new Packr({ structuredClone: true });
  return cases.map(({ config, orig, rust }) => {
    const cfg = CONFIGS[config];
    const o = Buffer.from(orig, "hex");
    const want = cfg.module ? unpack(o) : new Packr(cfg.options).unpack(o);
    let got;
    try {
      got = clone.unpack(Buffer.from(rust, "hex"));
    } catch (err) {
      return { diff: `msgpackr cannot read polycodec's output: ${err.message}` };
    }
    const mapsMayBeObjects = cfg.module || cfg.options?.useRecords === false;
    const d = same(want, got, "$", new Map(), mapsMayBeObjects);
    return d ? { diff: d } : { ok: true };
  });
}

let input = "";
for await (const chunk of process.stdin.setEncoding("utf8")) input += chunk;
const req = JSON.parse(input);
const out = req.mode === "corpus" ? corpus(req.count, req.seed) : compare(req.cases);
process.stdout.write(JSON.stringify(out) + "\n");
