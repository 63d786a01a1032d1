/**
 * MessagePack extension types of polycodec's `msgpack` codec (the standard profile), for
 * `@msgpack/msgpack` 3.x. (A msgpackr client needs none of this: it talks to the `msgpackr`
 * profile, `polycodec.msgpackr`, with no extension code.)
 *
 * The mapping is the one documented in polycodec's `codecs/msgpack/README.md`. Bigints are
 * MessagePack integers (int 64 `d3` within [-2^63, 2^63), uint 64 `cf` up to 2^64), so the
 * encoder and decoder run with `useBigInt64`; a Number past 32 bits is a float 64.
 *
 * |  ext | JS value                              | payload                                          |
 * |-----:|---------------------------------------|--------------------------------------------------|
 * |    0 | `undefined`                           | `d4 00 00` (any payload reads as `undefined`)    |
 * | 0x42 | `bigint` beyond 64 bits               | big-endian two's complement, whole 64-bit words  |
 * | 0x74 | typed arrays other than `Uint8Array`  | msgpackr's: element code, little-endian items    |
 * | 0x50 | `Set`                                 | one MessagePack array of the members             |
 * | 0x51 | `Map`                                 | one MessagePack map, keys of any type, in order  |
 * | 0x52 | `RegExp`                              | `[source, flags]`                                |
 * | 0x53 | `Error`                               | map `{name, message, cause?, ...own props}`      |
 * | 0x54 | `URL`                                 | the href in UTF-8                                |
 * | 0x55 | `{__polycodecAnnotation, value}`      | `[JSON text of the annotation, value]`           |
 * | 0x56 | invalid `Date`                        | empty                                            |
 * |   -1 | valid `Date`                          | the standard timestamp                           |
 *
 * 0x50–0x56 is polycodec's private block (a server can move it: `MsgPack::with_private_ext_base`;
 * {@link EXT} here must follow). Payloads that hold MessagePack are complete documents encoded
 * with this same codec, so the mapping applies at any depth. Any other extension decodes to an
 * `ExtData` and is written back unchanged.
 *
 * Use the {@link encode} and {@link decode} helpers of this module. Passing {@link extensionCodec}
 * to `@msgpack/msgpack`'s own `encode` also works, except that `undefined` inside plain objects and
 * arrays is then written as nil: `@msgpack/msgpack` writes `null` and `undefined` as nil before it
 * asks the extension codec, so {@link encode} first replaces each `undefined` with an ext 0 value.
 *
 * @module
 */
import {
  Decoder,
  DecodeError,
  Encoder,
  ExtData,
  ExtensionCodec,
  decodeTimestampExtension,
  encodeTimestampExtension,
} from "@msgpack/msgpack";

/** Extension type numbers used by polycodec. */
export const EXT = Object.freeze({
  UNDEFINED: 0,
  BIGINT: 0x42,
  TYPED_ARRAY: 0x74,
  SET: 0x50,
  MAP: 0x51,
  REGEXP: 0x52,
  ERROR: 0x53,
  URL: 0x54,
  ANNOTATED: 0x55,
  INVALID_DATE: 0x56,
  TIMESTAMP: -1,
});

/**
 * Key that marks an annotated value (ext 7): `{ [ANNOTATION_KEY]: ["class", "Point"], value: {...} }`.
 * The annotation is any JSON value (the superjson annotation of the value).
 */
export const ANNOTATION_KEY = "__polycodecAnnotation";

const EMPTY = new Uint8Array(0);
const UNDEFINED_EXT = new ExtData(EXT.UNDEFINED, Uint8Array.of(0));
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** msgpackr's typed-array codes (ext 0x74): the index in this list. `Uint8Array` stays bin. */
const TYPED_ARRAY_CODES = [
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
  "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
];

const STANDARD_ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

const isPlainObject = (v) =>
  v !== null && typeof v === "object" &&
  [Object.prototype, null].includes(Object.getPrototypeOf(v));

const isAnnotated = (v) => isPlainObject(v) && Object.hasOwn(v, ANNOTATION_KEY);

const typedArrayCode = (v) =>
  ArrayBuffer.isView(v) && !(v instanceof Uint8Array) ? TYPED_ARRAY_CODES.indexOf(v[Symbol.toStringTag]) : -1;

const INT64_MIN = -(2n ** 63n);
const INT64_END = 2n ** 63n;
const UINT64_END = 2n ** 64n;

/** A bigint beyond 64 bits as msgpackr's ext 0x42: big-endian two's complement, whole words. */
function bigintWords(v) {
  const words = [];
  const fill = v < 0n ? -1n : 0n;
  let rest = v;
  for (;;) {
    words.push(BigInt.asUintN(64, rest));
    if (rest >> 63n === fill) break;
    rest >>= 64n;
  }
  const out = new Uint8Array(words.length * 8);
  const view = new DataView(out.buffer);
  words.reverse().forEach((w, i) => view.setBigUint64(i * 8, w));
  return out;
}

/** `@msgpack/msgpack` with `useBigInt64` writes every non-negative bigint as uint 64 and
 * silently truncates one beyond 64 bits: this writes int 64 within int 64 (as msgpackr and
 * polycodec do) and ext 0x42 beyond. */
class PolycodecEncoder extends Encoder {
  constructor(options) {
    super(options);
    this.options = options;
  }
  clone() {
    return new PolycodecEncoder(this.options);
  }
  encodeBigInt64(v) {
    if (v >= INT64_MIN && v < INT64_END) {
      this.writeU8(0xd3);
      this.writeBigInt64(v);
    } else if (v >= 0n && v < UINT64_END) {
      this.writeU8(0xcf);
      this.writeBigUint64(v);
    } else {
      this.encodeExtension(new ExtData(EXT.BIGINT, bigintWords(v)));
    }
  }
}

/** True for objects that one of this module's extensions writes (and so are not walked as maps). */
const isExtensionObject = (v) =>
  v instanceof Date || v instanceof Set || v instanceof Map || v instanceof RegExp ||
  v instanceof Error || v instanceof URL || v instanceof ExtData || isAnnotated(v) ||
  ArrayBuffer.isView(v);

const fail = (ext, message) => {
  throw new DecodeError(`ext ${ext}: ${message}`);
};

// ---------------------------------------------------------------------------------------------
// Encoding

/** Containers whose payload is being encoded right now, to report cycles instead of overflowing. */
const ancestors = new Set();

const enter = (obj) => {
  if (ancestors.has(obj)) throw new TypeError("Cannot encode a cyclic structure to MessagePack");
  ancestors.add(obj);
};

/**
 * Returns `value` with every `undefined` that `@msgpack/msgpack` would walk to (array items, plain
 * object values, the top level) replaced by an ext 0 value. Copies only what changes.
 */
function undefinedToExt(value) {
  if (value === undefined) return UNDEFINED_EXT;
  if (value === null || typeof value !== "object" || isExtensionObject(value)) return value;
  enter(value);
  try {
    let out = value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item = undefinedToExt(value[i]);
        if (item === value[i]) continue;
        if (out === value) out = value.slice();
        out[i] = item;
      }
    } else {
      for (const key of Object.keys(value)) {
        const item = undefinedToExt(value[key]);
        if (item === value[key]) continue;
        if (out === value) out = { ...value };
        Object.defineProperty(out, key, { value: item, writable: true, enumerable: true, configurable: true });
      }
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

/** Encodes `inner` as the payload of the extension object `container`. */
function encodePayload(container, inner) {
  enter(container);
  try {
    return encode(inner);
  } finally {
    ancestors.delete(container);
  }
}

function mapHeader(size) {
  if (size < 16) return Uint8Array.of(0x80 | size);
  if (size < 0x10000) return Uint8Array.of(0xde, size >> 8, size & 0xff);
  return Uint8Array.of(0xdf, size >>> 24, (size >> 16) & 0xff, (size >> 8) & 0xff, size & 0xff);
}

/** Map payload: encode the entries as one flat array, then swap its header for a map header. */
function encodeMap(map) {
  const flat = [];
  for (const [key, value] of map) flat.push(key, value);
  const body = encodePayload(map, flat);
  const arrayHeaderLength = flat.length < 16 ? 1 : flat.length < 0x10000 ? 3 : 5;
  const header = mapHeader(map.size);
  const out = new Uint8Array(header.length + body.length - arrayHeaderLength);
  out.set(header);
  out.set(body.subarray(arrayHeaderLength), header.length);
  return out;
}

function encodeError(err) {
  const fields = { name: String(err.name), message: String(err.message) };
  if ("cause" in err) fields.cause = err.cause;
  for (const key of Object.keys(err)) {
    if (key !== "name" && key !== "message" && key !== "cause") {
      Object.defineProperty(fields, key, { value: err[key], writable: true, enumerable: true, configurable: true });
    }
  }
  return encodePayload(err, fields);
}

function encodeAnnotated(v) {
  const text = JSON.stringify(v[ANNOTATION_KEY]);
  if (typeof text !== "string") throw new TypeError(`${ANNOTATION_KEY} must be a JSON value`);
  return encodePayload(v, [text, v.value]);
}

/** msgpackr's layout: the code, then the elements in little-endian order. */
function encodeTypedArray(array, code) {
  const size = array.BYTES_PER_ELEMENT;
  const out = new Uint8Array(1 + array.length * size);
  out[0] = code;
  const view = new DataView(out.buffer, 1);
  const accessor = `set${TYPED_ARRAY_CODES[code] === "Uint8ClampedArray" ? "Uint8" : TYPED_ARRAY_CODES[code].slice(0, -5)}`;
  for (let i = 0; i < array.length; i++) view[accessor](i * size, array[i], true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

function decodeMap(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = bytes[0];
  let size;
  let offset;
  if (head >= 0x80 && head <= 0x8f) [size, offset] = [head & 0x0f, 1];
  else if (head === 0xde && bytes.length >= 3) [size, offset] = [view.getUint16(1), 3];
  else if (head === 0xdf && bytes.length >= 5) [size, offset] = [view.getUint32(1), 5];
  else fail(EXT.MAP, "payload must be one MessagePack map");
  // Each key and value is a complete document: read them one after another so keys keep their type.
  const items = [...decoder.decodeMulti(bytes.subarray(offset))];
  if (items.length !== size * 2) fail(EXT.MAP, `map header says ${size} entries but ${items.length} keys and values follow`);
  const map = new Map();
  for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
  return map;
}

function decodeError(bytes) {
  const fields = decode(bytes);
  if (!isPlainObject(fields) || typeof fields.name !== "string" || typeof fields.message !== "string") {
    fail(EXT.ERROR, "payload must be a map with string name and message");
  }
  const { name, message, cause, ...extra } = fields;
  const Ctor = Object.hasOwn(STANDARD_ERRORS, name) ? STANDARD_ERRORS[name] : Error;
  const err = Object.hasOwn(fields, "cause") ? new Ctor(message, { cause }) : new Ctor(message);
  if (err.name !== name) err.name = name;
  return Object.assign(err, extra);
}

function decodeTypedArray(bytes) {
  if (bytes.length === 0) fail(EXT.TYPED_ARRAY, "no element type code");
  const code = bytes[0];
  const data = bytes.slice(1);
  if (code === 16) return data.buffer;
  if (code === 17) return new DataView(data.buffer);
  const name = TYPED_ARRAY_CODES[code];
  if (name === undefined) fail(EXT.TYPED_ARRAY, `unknown element type code ${code}`);
  const Ctor = globalThis[name];
  if (data.length % Ctor.BYTES_PER_ELEMENT !== 0) fail(EXT.TYPED_ARRAY, `${data.length} bytes is not a whole number of ${name} items`);
  return new Ctor(data.buffer);
}

function decodeBigintWords(bytes) {
  if (bytes.length === 0) fail(EXT.BIGINT, "empty payload");
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return BigInt.asIntN(bytes.length * 8, v);
}

function decodePair(ext, bytes, what) {
  const payload = decode(bytes);
  if (!Array.isArray(payload) || payload.length !== 2 || typeof payload[0] !== "string") fail(ext, `payload must be ${what}`);
  return payload;
}

const requireEmpty = (ext, value) => (bytes) => {
  if (bytes.length !== 0) fail(ext, "payload must be empty");
  return value();
};

// ---------------------------------------------------------------------------------------------

/**
 * The `ExtensionCodec` with all of polycodec's extension types. It replaces the built-in
 * timestamp encoder so that invalid dates are written as ext 9 instead of a bogus timestamp.
 *
 * @type {ExtensionCodec}
 */
export const extensionCodec = new ExtensionCodec();

const extensions = [
  // `undefined` never reaches an encoder (see the module comment): it arrives as an ExtData.
  [EXT.UNDEFINED, () => null, () => undefined],
  // Bigints reach the encoder's `encodeBigInt64`, never an extension.
  [EXT.BIGINT, () => null, decodeBigintWords],
  [EXT.SET, (v) => (v instanceof Set ? encodePayload(v, [...v]) : null), (bytes) => {
    const members = decode(bytes);
    if (!Array.isArray(members)) fail(EXT.SET, "payload must be one MessagePack array");
    return new Set(members);
  }],
  [EXT.MAP, (v) => (v instanceof Map ? encodeMap(v) : null), decodeMap],
  [EXT.REGEXP, (v) => (v instanceof RegExp ? encodePayload(v, [v.source, v.flags]) : null), (bytes) => {
    const [source, flags] = decodePair(EXT.REGEXP, bytes, "[source, flags]");
    if (typeof flags !== "string") fail(EXT.REGEXP, "flags must be a string");
    return new RegExp(source, flags);
  }],
  [EXT.ERROR, (v) => (v instanceof Error ? encodeError(v) : null), decodeError],
  [EXT.URL, (v) => (v instanceof URL ? utf8.encode(v.href) : null), (bytes) => new URL(strictUtf8.decode(bytes))],
  [EXT.ANNOTATED, (v) => (isAnnotated(v) ? encodeAnnotated(v) : null), (bytes) => {
    const [text, value] = decodePair(EXT.ANNOTATED, bytes, "[annotation JSON text, value]");
    return { [ANNOTATION_KEY]: JSON.parse(text), value };
  }],
  [EXT.TYPED_ARRAY, (v) => {
    const code = typedArrayCode(v);
    return code < 0 ? null : encodeTypedArray(v, code);
  }, decodeTypedArray],
  [EXT.INVALID_DATE, (v) => (v instanceof Date && Number.isNaN(v.getTime()) ? EMPTY : null),
    requireEmpty(EXT.INVALID_DATE, () => new Date(NaN))],
  [EXT.TIMESTAMP, (v) => (v instanceof Date && !Number.isNaN(v.getTime()) ? encodeTimestampExtension(v) : null),
    // msgpackr writes an invalid Date as a 1-byte timestamp (`d4 ff ff`).
    (bytes, type, context) => ([4, 8, 12].includes(bytes.length) ? decodeTimestampExtension(bytes, type, context) : new Date(NaN))],
];
for (const [type, encode, decode] of extensions) extensionCodec.register({ type, encode, decode });

const encoder = new PolycodecEncoder({ extensionCodec, useBigInt64: true });
const decoder = new Decoder({ extensionCodec, useBigInt64: true });

/**
 * Encodes a value to MessagePack with polycodec's extension types, keeping `undefined` as ext 0.
 *
 * @param {unknown} value
 * @returns {Uint8Array}
 * @throws {TypeError} for a cyclic structure or an annotation that is not JSON
 */
export function encode(value) {
  return encoder.encode(undefinedToExt(value));
}

/**
 * Decodes one MessagePack document with polycodec's extension types. Unknown extension types
 * decode to `ExtData` (and {@link encode} writes an `ExtData` back unchanged).
 *
 * @param {ArrayLike<number> | BufferSource} bytes
 * @returns {unknown}
 * @throws {DecodeError | RangeError} on malformed input
 */
export function decode(bytes) {
  return decoder.decode(bytes);
}
