/**
 * MessagePack extension types of polycodec's `msgpack` codec, for `@msgpack/msgpack` 3.x.
 *
 * The mapping is the one documented in polycodec's `codecs/msgpack/README.md`:
 *
 * | ext | JS value                              | payload                                          |
 * |----:|---------------------------------------|--------------------------------------------------|
 * |   0 | `undefined`                           | empty                                            |
 * |   1 | `bigint`                              | decimal digits in ASCII (`-12`)                  |
 * |   2 | `Set`                                 | one MessagePack array of the members             |
 * |   3 | `Map`                                 | one MessagePack map, keys of any type, in order  |
 * |   4 | `RegExp`                              | `[source, flags]`                                |
 * |   5 | `Error`                               | map `{name, message, cause?, ...own props}`      |
 * |   6 | `URL`                                 | the href in UTF-8                                |
 * |   7 | `{__polycodecAnnotation, value}`      | `[JSON text of the annotation, value]`           |
 * |   8 | typed arrays other than `Uint8Array`  | `[constructor name, bin of little-endian items]` |
 * |   9 | invalid `Date`                        | empty                                            |
 * |  -1 | valid `Date`                          | the standard timestamp                           |
 *
 * Payloads that hold MessagePack are complete documents encoded with this same codec, so the
 * mapping applies at any depth.
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
  BIGINT: 1,
  SET: 2,
  MAP: 3,
  REGEXP: 4,
  ERROR: 5,
  URL: 6,
  ANNOTATED: 7,
  TYPED_ARRAY: 8,
  INVALID_DATE: 9,
  TIMESTAMP: -1,
});

/**
 * Key that marks an annotated value (ext 7): `{ [ANNOTATION_KEY]: ["class", "Point"], value: {...} }`.
 * The annotation is any JSON value (the superjson annotation of the value).
 */
export const ANNOTATION_KEY = "__polycodecAnnotation";

const EMPTY = new Uint8Array(0);
const UNDEFINED_EXT = new ExtData(EXT.UNDEFINED, EMPTY);
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Typed array constructors written as ext 8, by name. `Uint8Array` (and Buffer) stay bin. */
const TYPED_ARRAYS = Object.fromEntries(
  [
    "Int8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
    "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
  ]
    .filter((name) => typeof globalThis[name] === "function")
    // the DataView accessor suffix: getInt16, setFloat32, ...
    .map((name) => [name, name === "Uint8ClampedArray" ? "Uint8" : name.slice(0, -"Array".length)]),
);

const STANDARD_ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

const isPlainObject = (v) =>
  v !== null && typeof v === "object" &&
  [Object.prototype, null].includes(Object.getPrototypeOf(v));

const isAnnotated = (v) => isPlainObject(v) && Object.hasOwn(v, ANNOTATION_KEY);

const typedArrayName = (v) =>
  ArrayBuffer.isView(v) && !(v instanceof Uint8Array) && Object.hasOwn(TYPED_ARRAYS, v[Symbol.toStringTag])
    ? v[Symbol.toStringTag]
    : undefined;

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

function encodeTypedArray(array, name) {
  const size = array.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(array.length * size);
  const view = new DataView(bytes.buffer);
  const set = view[`set${TYPED_ARRAYS[name]}`];
  for (let i = 0; i < array.length; i++) set.call(view, i * size, array[i], true);
  return encode([name, bytes]);
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
  const payload = decode(bytes);
  const [name, data] = Array.isArray(payload) && payload.length === 2 ? payload : [];
  if (!Object.hasOwn(TYPED_ARRAYS, name) || !(data instanceof Uint8Array)) {
    fail(EXT.TYPED_ARRAY, "payload must be [typed array constructor name, bin]");
  }
  const Ctor = globalThis[name];
  if (data.length % Ctor.BYTES_PER_ELEMENT !== 0) fail(EXT.TYPED_ARRAY, `${data.length} bytes is not a whole number of ${name} items`);
  const array = new Ctor(data.length / Ctor.BYTES_PER_ELEMENT);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const get = view[`get${TYPED_ARRAYS[name]}`];
  for (let i = 0; i < array.length; i++) array[i] = get.call(view, i * Ctor.BYTES_PER_ELEMENT, true);
  return array;
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
  [EXT.UNDEFINED, () => null, requireEmpty(EXT.UNDEFINED, () => undefined)],
  [EXT.BIGINT, (v) => (typeof v === "bigint" ? utf8.encode(v.toString()) : null), (bytes) => {
    const text = strictUtf8.decode(bytes);
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) fail(EXT.BIGINT, `not a canonical decimal integer: ${JSON.stringify(text)}`);
    return BigInt(text);
  }],
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
    const name = typedArrayName(v);
    return name === undefined ? null : encodeTypedArray(v, name);
  }, decodeTypedArray],
  [EXT.INVALID_DATE, (v) => (v instanceof Date && Number.isNaN(v.getTime()) ? EMPTY : null),
    requireEmpty(EXT.INVALID_DATE, () => new Date(NaN))],
  [EXT.TIMESTAMP, (v) => (v instanceof Date && !Number.isNaN(v.getTime()) ? encodeTimestampExtension(v) : null),
    decodeTimestampExtension],
];
for (const [type, encode, decode] of extensions) extensionCodec.register({ type, encode, decode });

const encoder = new Encoder({ extensionCodec });
const decoder = new Decoder({ extensionCodec });

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
