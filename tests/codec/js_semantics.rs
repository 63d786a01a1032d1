//! Small JS semantics the value model must match (each case was found by a review, checked
//! against node, and failed before its fix): what `new Date(s)`, `Number(s)`, `BigInt(s)`
//! and `new RegExp(s).source` make of edge-case text, and JS property order in Errors.

use polycodec::codec::{Codec, MsgPack, SuperJson};
use polycodec::{Category, Date, JsError, Object, RegExp, Value};

/// `text` decoded as superjson, its root annotated with `ann`.
fn annotated(text: &str, ann: &str) -> polycodec::Result<Value> {
    let doc = format!(
        "{{\"json\":{},\"meta\":{{\"values\":[\"{ann}\"],\"v\":1}}}}",
        serde_json::to_string(text).unwrap()
    );
    SuperJson::new().decode_value(doc.as_bytes())
}

/// Each `(doc, js)`: polycodec's decode then encode of `doc` gives `js`, which is
/// `superjson.stringify(superjson.parse(doc))` in node.
fn assert_rewritten_as_js_does(cases: &[(&str, &str)]) {
    let sj = SuperJson::new();
    for (doc, js) in cases {
        let v = sj.decode_value(doc.as_bytes()).unwrap();
        let ours = String::from_utf8(sj.encode_value(&v).unwrap()).unwrap();
        assert_eq!(ours, *js, "{doc}");
    }
}

#[test]
fn dates_js_calls_invalid_are_invalid() {
    // node: new Date(s).getTime() is NaN for each.
    for s in [
        "2020-01-01T00:00:00.000Z ",
        " 2020-01-01T00:00:00Z",
        "\t2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00,5Z",
    ] {
        assert!(!Date::parse(s).is_valid(), "{s:?}");
    }
    assert_eq!(
        Date::parse("2020-01-01T00:00:00.5Z").time_value(),
        1_577_836_800_500.0
    );
}

#[test]
fn number_and_bigint_text_is_read_as_js_reads_it() {
    // U+0085 is no whitespace to JS (it is to Rust's `char::is_whitespace`), and `Number`
    // takes no `_` separators or signs after a radix prefix (num-bigint does).
    for (text, want) in [
        ("\u{85}5", f64::NAN),
        ("5\u{85}", f64::NAN),
        ("0x1_0", f64::NAN),
        ("0x+1", f64::NAN),
        ("0x", f64::NAN),
        ("\u{a0}5\u{2028}", 5.0),
        ("0x10", 16.0),
        ("0b101", 5.0),
    ] {
        let Value::Number(n) = annotated(text, "number").unwrap() else {
            panic!("{text:?}: not a number");
        };
        assert!(
            n == want || (n.is_nan() && want.is_nan()),
            "{text:?}: {n} != {want}"
        );
    }
    let err = annotated("\u{85}1", "bigint").unwrap_err();
    assert_eq!(err.message(), "Cannot convert \u{85}1 to a BigInt");
    assert_eq!(
        annotated(" 12 ", "bigint").unwrap(),
        Value::BigInt(12.into())
    );
}

#[test]
fn bigints_past_10_000_characters_are_a_limit_error_in_every_reader() {
    // Reading decimal text takes time quadratic in its length (2 MB of digits: 12.8 s).
    let long = "7".repeat(10_001);
    let err = annotated(&long, "bigint").unwrap_err();
    assert_eq!(err.classify(), Category::Limit);
    assert_eq!(
        err.message(),
        "bigint of 10001 characters is over the limit of 10000"
    );
    assert!(annotated(&long[1..], "bigint").is_ok());

    // MessagePack writes a bigint in bytes (msgpackr's 0x42), at most 4,160 of them: every
    // bigint of 10,000 digits fits; more is refused when reading.
    let big = Value::BigInt(long.parse().unwrap());
    for mp in [MsgPack::new(), MsgPack::msgpackr()] {
        let bytes = mp.encode_value(&big).unwrap();
        assert_eq!(mp.decode_value(&bytes).unwrap(), big);
        let huge = Value::BigInt(num_bigint::BigInt::from(1) << (4160 * 8));
        let err = mp
            .decode_value(&mp.encode_value(&huge).unwrap())
            .unwrap_err();
        assert_eq!(err.classify(), Category::Limit);
        assert_eq!(
            err.message(),
            "bigint extension of 4168 bytes is over the limit of 4160"
        );
    }
    // bincode writes what it is given, and refuses it when reading.
    let binary: Vec<Box<dyn Codec>> = vec![
        #[cfg(feature = "bincode")]
        Box::new(polycodec::codec::Bincode::new()),
    ];
    for codec in binary {
        let bytes = codec.encode_value(&big).unwrap();
        let err = codec.decode_value(&bytes).unwrap_err();
        assert_eq!(err.classify(), Category::Limit, "{}", codec.name());
        assert_eq!(
            err.message(),
            "bigint of 10001 characters is over the limit of 10000"
        );
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Big {
        #[serde(with = "polycodec::js::bigint")]
        n: num_bigint::BigInt,
    }
    let doc = format!(
        "{{\"json\":{{\"n\":\"{long}\"}},\"meta\":{{\"values\":{{\"n\":[\"bigint\"]}},\"v\":1}}}}"
    );
    let err = SuperJson::new()
        .from_slice::<Big>(doc.as_bytes())
        .unwrap_err();
    assert!(err.message().contains("over the limit of 10000"), "{err}");
}

#[test]
fn an_escaped_line_terminator_in_a_regexp_source_is_spelled_out() {
    // node: new RegExp("\\\n").source === "\\n", and so on.
    for (pattern, source) in [
        ("\\\n", "\\n"),
        ("\\\r", "\\r"),
        ("\\\u{2028}", "\\u2028"),
        ("a\\\u{2029}b", "a\\u2029b"),
        ("[\\\n]", "[\\n]"),
        ("\n", "\\n"),
        ("\\\\", "\\\\"),
    ] {
        assert_eq!(
            RegExp::new(pattern, "").unwrap().source(),
            source,
            "{pattern:?}"
        );
    }
}

#[test]
fn error_props_with_integer_keys_come_before_name_in_superjson() {
    // superjson.allowErrorProps("1", "code");
    // superjson.stringify(Object.assign(new Error("m"), {1: "one", code: "E1"}))
    let js = r#"{"json":{"1":"one","name":"Error","message":"m","code":"E1"},"meta":{"values":["Error"],"v":1}}"#;
    let mut props = Object::new();
    props.insert("code", Value::from("E1"));
    props.insert("1", Value::from("one"));
    let mut e = JsError::new("Error", "m");
    e.props = props;
    let v = Value::Error(Box::new(e));
    let sj = SuperJson::new();
    assert_eq!(sj.encode_value(&v).unwrap(), js.as_bytes());
    // And it reads back to the same Error (props compare in any order).
    assert_eq!(sj.decode_value(js.as_bytes()).unwrap(), v);
    assert_eq!(
        MsgPack::new()
            .decode_value(&MsgPack::new().encode_value(&v).unwrap())
            .unwrap(),
        v
    );
}

#[test]
fn reference_paths_read_as_superjson_reads_them() {
    // Each document through JS: superjson.stringify(superjson.parse(doc)).
    let cases = [
        // `array["01"]` is undefined: only canonical indexes name an element.
        (
            r#"{"json":{"a":[1,2],"b":null},"meta":{"referentialEqualities":{"a.01":["b"]},"v":1}}"#,
            r#"{"json":{"a":[1,2],"b":null},"meta":{"values":{"b":["undefined"]},"v":1}}"#,
        ),
        // A Set index equal to its size reads undefined (past it is an error).
        (
            r#"{"json":{"s":[1],"a":2},"meta":{"values":{"s":["set"]},"referentialEqualities":{"s.1":["a"]},"v":1}}"#,
            r#"{"json":{"s":[1],"a":null},"meta":{"values":{"s":["set"],"a":["undefined"]},"v":1}}"#,
        ),
        // `+"00" === 0`: the Map entry's key.
        (
            r#"{"json":{"m":[["k","v"]],"x":null},"meta":{"values":{"m":["map"]},"referentialEqualities":{"m.0.00":["x"]},"v":1}}"#,
            r#"{"json":{"m":[["k","v"]],"x":"k"},"meta":{"values":{"m":["map"]},"v":1}}"#,
        ),
    ];
    assert_rewritten_as_js_does(&cases);
}

#[test]
fn a_shared_primitive_is_written_as_it_is() {
    // JS shares no primitive by identity: no referentialEqualities for a `Ref` to one, and
    // a NaN's by-value entry once.
    let s = polycodec::Ref::new(Value::from("s"));
    let nan = polycodec::Ref::new(Value::Number(f64::NAN));
    let mut o = Object::new();
    o.insert("a", Value::Ref(s.clone()));
    o.insert("b", Value::Ref(s));
    o.insert("c", Value::Ref(nan.clone()));
    o.insert("d", Value::Ref(nan));
    let out = SuperJson::new().encode_value(&Value::Object(o)).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"json":{"a":"s","b":"s","c":"NaN","d":"NaN"},"meta":{"values":{"c":["number"],"d":["number"]},"referentialEqualities":{"c":["d"]},"v":1}}"#
    );
}

#[test]
fn number_and_typed_array_annotations_convert_as_js_does() {
    // Each document through JS: superjson.stringify(superjson.parse(doc)).
    let cases = [
        (
            r#"{"json":[7],"meta":{"values":["number"],"v":1}}"#,
            r#"{"json":7}"#,
        ),
        (
            r#"{"json":[],"meta":{"values":["number"],"v":1}}"#,
            r#"{"json":0}"#,
        ),
        (
            r#"{"json":[[1],null],"meta":{"values":["number"],"v":1}}"#,
            r#"{"json":"NaN","meta":{"values":["number"],"v":1}}"#,
        ),
        (
            r#"{"json":[true],"meta":{"values":["number"],"v":1}}"#,
            r#"{"json":"NaN","meta":{"values":["number"],"v":1}}"#,
        ),
        (
            r#"{"json":3,"meta":{"values":[["typed-array","Int16Array"]],"v":1}}"#,
            r#"{"json":[0,0,0],"meta":{"values":[["typed-array","Int16Array"]],"v":1}}"#,
        ),
    ];
    assert_rewritten_as_js_does(&cases);
}

/// A shared node reached again is written as JS writes it: JS reuses the first visit's
/// result, so a cycle cut there is cut at the repeat too (polycodec walked the repeat
/// against its own ancestors and expanded the cycle: `"b":{"c":{"o":{"p":null}}}`).
#[test]
fn a_repeat_of_a_shared_node_cuts_cycles_where_its_first_visit_did() {
    // const O = {}, P = {o: O}; O.p = P; superjson.stringify({a: O, b: {c: P}})
    let js = r#"{"json":{"a":{"p":{"o":null}},"b":{"c":{"o":null}}},"meta":{"referentialEqualities":{"a":["a.p.o"],"a.p":["b.c"]},"v":1}}"#;
    let mut p_out = None;
    let o = polycodec::Ref::new_cyclic(|o| {
        let mut pm = Object::new();
        pm.insert("o", Value::Ref(o.clone()));
        let p = polycodec::Ref::new(Value::Object(pm));
        p_out = Some(p.clone());
        let mut om = Object::new();
        om.insert("p", Value::Ref(p));
        Value::Object(om)
    });
    let mut c = Object::new();
    c.insert("c", Value::Ref(p_out.unwrap()));
    let mut root = Object::new();
    root.insert("a", Value::Ref(o));
    root.insert("b", Value::Object(c));
    let sj = SuperJson::new();
    assert_eq!(
        String::from_utf8(sj.encode_value(&Value::Object(root)).unwrap()).unwrap(),
        js
    );
    // And JS's text reads back to a graph that writes the same bytes.
    let v = sj.decode_value(js.as_bytes()).unwrap();
    assert_eq!(sj.encode_value(&v).unwrap(), js.as_bytes());
}

#[test]
fn an_unknown_annotation_is_named_as_js_strings_it() {
    // node: superjson.parse(doc) throws "Unknown transformation: <String(annotation)>";
    // `null` inside an array is empty there (`String([null, "x"])` is `",x"`).
    for (doc, message) in [
        (
            r#"{"json":1,"meta":{"values":[[null,"x"]],"v":1}}"#,
            "Unknown transformation: ,x",
        ),
        (
            r#"{"json":1,"meta":{"values":[["a",[null,1]]],"v":1}}"#,
            "Unknown transformation: a,,1",
        ),
        (
            r#"{"json":1,"meta":{"values":[7],"v":1}}"#,
            "Unknown transformation: 7",
        ),
    ] {
        let err = SuperJson::new().decode_value(doc.as_bytes()).unwrap_err();
        assert_eq!(err.message(), message, "{doc}");
    }
}
