//! The 79 golden vectors written by the real msgpackr 2.1.3 (`codecs/msgpackr/vectors.json`,
//! each re-packed byte for byte by its maker): polycodec's reader reads each as msgpackr
//! reads it (`msgpackr_decodes_to`, msgpackr's own notation), and the `msgpackr` profile
//! writes every vector made by `new Packr()` or `new Packr({ structuredClone: true })` back
//! byte for byte. The deliberate differences are named below, each with its reason.

use crate::common::*;
use polycodec::codec::{Codec, MsgPack, Profile};
use polycodec::Value;

/// A value in the notation of the vectors' `msgpackr_decodes_to`.
fn describe(v: &Value, stack: &mut Vec<usize>) -> String {
    let list = |items: &mut dyn Iterator<Item = String>| items.collect::<Vec<_>>().join(",");
    match v {
        Value::Undefined => "undefined".into(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_nan() => "number(NaN)".into(),
        Value::Number(n) if n.is_infinite() => {
            format!("number({}Infinity)", if *n < 0.0 { "-" } else { "" })
        }
        Value::Number(n) => format!("number({})", js_number(*n)),
        Value::BigInt(b) => format!("bigint({b}n)"),
        Value::String(s) => serde_json::to_string(s).unwrap(),
        Value::Bytes(b) => format!("Uint8Array[{}]", list(&mut b.iter().map(|x| x.to_string()))),
        Value::TypedArray(t) => format!(
            "{}[{}]",
            t.kind.name(),
            list(&mut t.elements.iter().map(|&x| js_number(x)))
        ),
        Value::Array(a) => format!("[{}]", list(&mut a.iter().map(|x| describe(x, stack)))),
        Value::Object(o) => format!(
            "{{{}}}",
            list(&mut o.iter().map(|(k, x)| format!("{k}:{}", describe(x, stack))))
        ),
        Value::Map(m) => format!(
            "Map{{{}}}",
            list(&mut m.iter().map(|(k, x)| format!(
                "{}=>{}",
                describe(k, stack),
                describe(x, stack)
            )))
        ),
        Value::Set(s) => format!("Set[{}]", list(&mut s.iter().map(|x| describe(x, stack)))),
        Value::Date(d) => match d.to_iso_string() {
            Some(s) => format!("Date({s})"),
            None => "Date(Invalid)".into(),
        },
        Value::RegExp(r) => format!("RegExp({})", r.to_literal()),
        Value::Error(e) => format!(
            "{}(name={},msg={},cause={})",
            e.name,
            e.name,
            serde_json::to_string(&e.message).unwrap(),
            e.cause
                .as_ref()
                .map_or("undefined".into(), |c| describe(c, stack))
        ),
        Value::Url(u) => format!("URL({u})"),
        Value::Annotated(a) => describe(&a.value, stack),
        Value::Ext { ty, data } => format!("Ext({ty},{data:02x?})"),
        Value::Ref(r) => {
            if stack.contains(&r.addr()) || r.is_back_reference() {
                return "<cycle>".into();
            }
            stack.push(r.addr());
            let s = describe(&r.resolve().unwrap(), stack);
            stack.pop();
            s
        }
    }
}

fn js_number(n: f64) -> String {
    let text = String::from_utf8(
        polycodec::codec::Json::new()
            .encode_value(&Value::Number(n))
            .unwrap(),
    )
    .unwrap();
    if n == 0.0 && n.is_sign_negative() {
        "-0".into()
    } else {
        text
    }
}

/// Vectors whose reading differs from msgpackr's on purpose: name, what polycodec reads.
const READ_DIFFERENCES: &[(&str, &str)] = &[
    // No `Value` kind for 64-bit integer arrays or ArrayBuffer: kept opaque, written back.
    (
        "BigInt64Array (ext 0x74 code 9)",
        "Ext(116,[09, 01, 00, 00, 00, 00, 00, 00, 00])",
    ),
    ("ArrayBuffer (ext 0x74 code 16)", "Ext(116,[10, 09, 08])"),
    // msgpackr's `mapsAsObjects` refuses an object key; the liberal reader makes a Map.
    (
        "Map with object key, useRecords:false",
        "{k:number(1)}=>\"obj\"",
    ),
    // With records on, a msgpackr map is a Map; a fixmap object (records off plus
    // `variableMapSize`) cannot be told from one (see `codecs/msgpack/README.md`).
    ("object, variableMapSize", "Map{\"a\"=>number(1)}"),
    // msgpackr 2.1.3 cannot read its own cycle with records off (spec §8); polycodec can.
    (
        "cycle, useRecords:false+structuredClone",
        "{name:\"self\",self:<cycle>}",
    ),
];

/// Vectors that need state from other messages or msgpackr's string bundle: a named error.
const REFUSED: &[(&str, &str)] = &[
    ("bundleStrings", "bundled strings"),
    ("sequential: second message", "`sequential`"),
    ("shared structures (persisted)", "shared `structures`"),
];

/// `{}` vectors the `msgpackr` profile writes in its `structuredClone` form instead.
const WRITTEN_AS_STRUCTURED_CLONE: &[&str] = &["Uint8Array", "Buffer"];

#[test]
fn msgpackr_vectors_read_as_msgpackr_reads_them_and_write_back_byte_for_byte() {
    let file = load_json("msgpackr/vectors.json");
    let vectors = file.as_array().unwrap();
    assert_eq!(vectors.len(), 79);
    let (reader, writer) = (MsgPack::msgpackr(), MsgPack::msgpackr());
    let mut failures = Vec::new();
    let (mut byte_exact, mut byte_checked) = (0, 0);
    for v in vectors {
        let name = s(v, "name");
        let bytes = unhex(s(v, "hex"));
        let decoded = match reader.decode_value(&bytes) {
            Ok(d) => d,
            Err(e) => {
                match REFUSED.iter().find(|(n, _)| *n == name) {
                    Some((_, word)) if e.to_string().contains(word) => {}
                    _ => failures.push(format!("{name}: decode: {e}")),
                }
                continue;
            }
        };
        if REFUSED.iter().any(|(n, _)| *n == name) {
            failures.push(format!("{name}: read as {decoded:?}, not refused"));
            continue;
        }
        let got = describe(&decoded, &mut Vec::new());
        let want = s(v, "msgpackr_decodes_to")
            .replace("Buffer[", "Uint8Array[")
            .split(" (")
            .next()
            .unwrap()
            .to_owned();
        let want = match READ_DIFFERENCES.iter().find(|(n, _)| *n == name) {
            Some((_, mine)) => mine.to_string(),
            None => want,
        };
        if !got.contains(&want) {
            failures.push(format!("{name}: read {got}\n   msgpackr reads {want}"));
        }
        // Every vector reads back equal from the profile's own bytes.
        let again = writer.encode_value(&decoded).unwrap();
        let back = match reader.decode_value(&again) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{name}: re-read {}: {e}", hex(&again)));
                continue;
            }
        };
        if back != decoded {
            failures.push(format!("{name}: {back:?} after a round, was {decoded:?}"));
        }
        let options = serde_json::to_string(&polycodec_to_json(get(v, "options"))).unwrap();
        let tree_form = options == "{}" || options == r#"{"structuredClone":true}"#;
        if tree_form && !WRITTEN_AS_STRUCTURED_CLONE.contains(&name) {
            byte_checked += 1;
            if again == bytes {
                byte_exact += 1;
            } else {
                failures.push(format!(
                    "{name}: wrote {}\n   msgpackr {}",
                    hex(&again),
                    s(v, "hex")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures ({byte_exact}/{byte_checked} byte-exact):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(byte_checked, 59);
    assert_eq!(writer.profile(), Profile::Msgpackr);
}

fn polycodec_to_json(v: &Value) -> serde_json::Value {
    serde_json::from_slice(&polycodec::codec::Json::new().encode_value(v).unwrap()).unwrap()
}

#[test]
fn the_uint8array_vectors_are_written_in_the_structured_clone_form() {
    // `new Packr()` writes a Uint8Array as bin; `{ structuredClone: true }` as ext 0x74,
    // which every msgpackr reads as a Uint8Array.
    let v = MsgPack::msgpackr()
        .decode_value(&unhex("c403010203"))
        .unwrap();
    assert_eq!(
        hex(&MsgPack::msgpackr().encode_value(&v).unwrap()),
        "c7047401010203"
    );
    assert_eq!(hex(&MsgPack::new().encode_value(&v).unwrap()), "c403010203");
}
