//! Every case of the superjson malformed corpus (`codecs/superjson/malformed.json`, from
//! the real superjson@2.2.6): a typed error where JS throws, the value JS returns where JS
//! is lenient, never a panic or a hang. Each deliberate difference is listed with its
//! reason.

use crate::common::*;
use polycodec::codec::{Codec, SuperJson};
use polycodec::{Category, Limits, Value};

/// JS returns a value; polycodec returns a typed error instead, on purpose.
const REFUSED_WHERE_JS_IS_LENIENT: &[(&str, &str)] = &[
    (
        "top-number",
        "a document that is not an object is not superjson (JS returns undefined)",
    ),
    (
        "top-string",
        "a document that is not an object is not superjson (JS returns undefined)",
    ),
    (
        "path-missing-leaf",
        "an annotation for a path json lacks is reported, not silently invented",
    ),
    (
        "path-through-string",
        "an annotation for a path json lacks is reported, not silently ignored",
    ),
    (
        "path-array-out-of-range",
        "an annotation for a path json lacks is reported, not silently invented",
    ),
    (
        "v1-same-path-different-meaning",
        "under v:1 the path names a key json lacks: reported, not ignored",
    ),
    (
        "error-from-string",
        "an Error annotation on a string is malformed (JS makes an empty Error)",
    ),
];

/// JS throws; polycodec returns a value, on purpose.
const ACCEPTED_WHERE_JS_THROWS: &[(&str, &str)] = &[
    (
        "unknown-class",
        "class annotations are kept opaque and written back unchanged",
    ),
    (
        "unknown-custom",
        "custom annotations are kept opaque and written back unchanged",
    ),
    (
        "unknown-symbol",
        "symbol annotations are kept opaque and written back unchanged",
    ),
    (
        "unknown-typed-array",
        "unknown typed arrays are kept opaque and written back unchanged",
    ),
    (
        "typed-array-bigint-ctor",
        "BigInt64Array (superjson HEAD) is kept opaque and written back unchanged",
    ),
];

/// Both return a value, and the values differ, on purpose.
const DIFFERENT_VALUE: &[(&str, &str)] = &[
    ("date-non-iso", "JS's implementation-defined parsing of non-ISO date strings is not reproduced: they read as Invalid Date"),
    ("error-extra-fields", "polycodec keeps every field of an Error; superjson copies only allowed props"),
    ("re-map-index-equal-size", "a reference to a Map row that does not exist reads as undefined; JS then adds an undefined key to the Map"),
    ("path-map-bad-subindex", "JS moves the Map entry while rewriting it; polycodec rewrites it in place"),
    ("ser-date-toiso-overflow", "an invalid Date is written as \"\" under `Date` (superjson PR #355), which every JS reader revives as an invalid Date; 2.2.6 writes null and loses it"),
];

/// Cases that need JS registrations or JS-only inputs to mean anything.
const NOT_APPLICABLE: &[(&str, &str)] = &[
    (
        "custom-wrong-shape",
        "needs the JS program's registered custom transformer; polycodec keeps it opaque",
    ),
    (
        "pp-class-proto-key",
        "needs the JS program's registered class; polycodec keeps it opaque",
    ),
    (
        "ser-constructor-in-class",
        "a registered JS class instance has no Rust input",
    ),
    (
        "ser-bigint64array",
        "BigInt64Array has no polycodec TypedArray kind",
    ),
];

fn listed(list: &[(&str, &str)], name: &str) -> bool {
    list.iter().any(|(n, _)| *n == name)
}

/// The inputs the generator left out because of their size, rebuilt here.
fn generated_input(name: &str) -> Option<Result<Value, polycodec::Error>> {
    match name {
        "ser-depth-3000" => {
            let mut v = Value::Null;
            for _ in 0..3000 {
                let mut o = polycodec::Object::new();
                o.insert("a", v);
                v = Value::Object(o);
            }
            let out = SuperJson::new().encode_value(&v).map(|_| Value::Null);
            // Drop iteratively-built deep values without recursion trouble.
            std::mem::forget(v);
            Some(out)
        }
        "deser-deep-values-tree-3000" => {
            let json = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
            let mut tree = String::from("[\"set\"]");
            for _ in 1..3000 {
                tree = format!("[\"set\",{{\"0\":{tree}}}]");
            }
            let doc = format!("{{\"json\":{json},\"meta\":{{\"values\":{tree},\"v\":1}}}}");
            Some(SuperJson::new().decode_value(doc.as_bytes()))
        }
        _ => None,
    }
}

#[test]
fn every_malformed_case_gives_js_value_or_typed_error() {
    let file = load_json("superjson/malformed.json");
    let cases = get(&file, "cases").as_array().unwrap();
    assert_eq!(cases.len(), 93);
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in cases {
        let name = s(case, "name");
        if listed(NOT_APPLICABLE, name) {
            continue;
        }
        let result = get(case, "result");
        let js_ok = get(result, "ok") == &Value::Bool(true);
        let ours: Result<Value, polycodec::Error> = if let Some(out) = generated_input(name) {
            out
        } else if s(case, "direction") == "parse" {
            SuperJson::new().decode_value(s(case, "input").as_bytes())
        } else {
            let input = Tv::convert(get(case, "input")).expect(name);
            SuperJson::new()
                .encode_value_to_string(&input)
                .map(Value::String)
        };
        match (js_ok, ours) {
            (false, Err(_)) => {}
            (false, Ok(_)) if listed(ACCEPTED_WHERE_JS_THROWS, name) => {}
            (false, Ok(v)) => failures.push(format!("{name}: JS throws, polycodec gave {v:?}")),
            (true, Err(_)) if listed(REFUSED_WHERE_JS_IS_LENIENT, name) => {}
            (true, Err(e)) => failures.push(format!("{name}: JS is fine, polycodec failed: {e}")),
            (true, Ok(_)) if listed(DIFFERENT_VALUE, name) => {}
            (true, Ok(ours)) => {
                let want = if s(case, "direction") == "serialize" {
                    get(result, "value").clone()
                } else {
                    tv_field(result, "value")
                        .and_then(|tv| Tv::convert(&tv))
                        .unwrap_or_else(|| panic!("{name}: TV not convertible"))
                };
                compared += 1;
                if normalize(&ours) != normalize(&want) {
                    failures.push(format!("{name}: got {ours:?}, JS gave {want:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 40, "only {compared} values compared");
}

#[test]
fn exact_error_messages_match_js() {
    // (input, the message JS throws, what polycodec says: same words, plus where)
    let table = [
        (
            r#"{"json":{"a":"x"},"meta":{"values":{"a\\":["undefined"]},"v":1}}"#,
            "invalid path",
        ),
        (
            r#"{"json":{"a":"x"},"meta":{"values":{"a":[null]},"v":1}}"#,
            "Unknown transformation: null",
        ),
        (
            r#"{"json":{"a":"x"},"meta":{"values":{"a":["date"]},"v":1}}"#,
            "Unknown transformation: date",
        ),
        (
            r#"{"json":{"a":1},"meta":{"values":{"__proto__.polluted":["undefined"]},"v":1}}"#,
            "__proto__ is not allowed as a property",
        ),
        (
            r#"{"json":{"a":1},"meta":{"referentialEqualities":{"a":["constructor.prototype.x"]}}}"#,
            "prototype is not allowed as a property",
        ),
        (
            r#"{"json":{"s":[1]},"meta":{"values":{"s":["set"]},"referentialEqualities":{"s.999999999999":["x"]},"v":1}}"#,
            "index out of bounds",
        ),
        (
            r#"{"json":{"a":1.5},"meta":{"values":{"a":["bigint"]},"v":1}}"#,
            "The number 1.5 cannot be converted to a BigInt because it is not an integer",
        ),
        (
            r#"{"json":{"a":[1]},"meta":{"values":{"a":["map"]},"v":1}}"#,
            "Iterator value 1 is not an entry object",
        ),
    ];
    for (input, js_message) in table {
        let err = SuperJson::new().decode_value(input.as_bytes()).unwrap_err();
        assert_eq!(err.message(), js_message, "{input}");
        assert_eq!(err.classify(), Category::Data, "{input}");
    }
}

#[test]
fn syntax_errors_name_the_byte() {
    let table = [
        (
            r#"{"json":"#,
            "unexpected end of input at byte 8",
            Category::Eof,
        ),
        (
            r#"{"json":[1,]}"#,
            "trailing comma in array at byte 11",
            Category::Syntax,
        ),
        (
            r#"{"json":1} x"#,
            "trailing characters after the document: `x` at byte 11",
            Category::Syntax,
        ),
    ];
    for (input, msg, cat) in table {
        let err = SuperJson::new().decode_value(input.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), msg, "{input}");
        assert_eq!(err.classify(), cat);
    }
    let bad_utf8 = b"{\"json\":\"a\xff\"}";
    let err = SuperJson::new().decode_value(bad_utf8).unwrap_err();
    assert_eq!(err.to_string(), "invalid UTF-8 in string at byte 10");
}

#[test]
fn a_small_payload_never_expands_into_a_huge_tree() {
    let file = load_json("superjson/malformed.json");
    let case = get(&file, "cases")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| s(c, "name") == "re-dag-amplification")
        .unwrap();
    let input = s(case, "input");
    assert!(input.len() < 10_000);
    let v = SuperJson::new().decode_value(input.as_bytes()).unwrap();
    // With `dedupe`, every repeat is a reference: the output stays as small as the input.
    let again = SuperJson::new().dedupe(true).encode_value(&v).unwrap();
    assert!(again.len() < 2 * input.len(), "{} bytes", again.len());
    // Without it, superjson writes each repeat in full (JS would too, into 2^24 nodes), and
    // so does plain JSON: both stop at the expansion limit instead.
    let err = SuperJson::new().encode_value(&v).unwrap_err();
    assert!(err.is_limit(), "{err}");
    let err = polycodec::codec::Json::new().encode_value(&v).unwrap_err();
    assert!(err.is_limit(), "{err}");
    // The same holds when the value sits inside a typed struct.
    let err = polycodec::codec::Json::new().to_vec(&vec![&v]).unwrap_err();
    assert!(err.is_limit(), "{err}");
}

#[test]
fn nesting_of_1000_levels_works_and_the_limit_is_configurable() {
    let doc = format!("{{\"json\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let v = SuperJson::new().decode_value(doc.as_bytes()).unwrap();
            assert_eq!(SuperJson::new().encode_value(&v).unwrap(), doc.as_bytes());
            let err = SuperJson::new()
                .with_limits(Limits::default().max_depth(100))
                .decode_value(doc.as_bytes())
                .unwrap_err();
            assert_eq!(err.classify(), Category::Limit);
            assert_eq!(err.message(), "nesting deeper than the depth limit of 100");
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A deliberate difference: a date-time string without an offset is read as UTC. JS reads it
/// as local time, which depends on the machine's time zone (a server's reading of a
/// client's text must not); a date-only string is UTC in both.
#[test]
fn a_date_time_without_an_offset_reads_as_utc() {
    let utc = 1_583_576_430_000.0; // 2020-03-07T10:20:30Z
    for (text, want) in [
        ("2020-03-07T10:20:30", utc),
        ("2020-03-07T10:20:30.000", utc),
        ("2020-03-07T10:20:30Z", utc),
        ("2020-03-07T11:20:30+01:00", utc),
        ("2020-03-07", 1_583_539_200_000.0),
    ] {
        let doc = format!(r#"{{"json":"{text}","meta":{{"values":["Date"],"v":1}}}}"#);
        let v = SuperJson::new().decode_value(doc.as_bytes()).unwrap();
        let Value::Date(d) = v else {
            panic!("{text}: {v:?}")
        };
        assert_eq!(d.time_value(), want, "{text}");
    }
}
