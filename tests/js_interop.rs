//! Live interop with the real npm packages under node: `superjson@2.2.6` and
//! `@msgpack/msgpack` with the shipped `js/msgpack-extensions.mjs`.
//!
//! These tests need `node` and the packages in `node_modules` (`scripts/test` installs them).
//! They fail, rather than skip, when either is missing: an interop test that silently does
//! nothing proves nothing.

mod common;

use common::*;
use polycodec::codec::{Codec, Json, MsgPack, SuperJson};
use polycodec::{Limits, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Run `node js/<script>` with `stdin`, return its stdout parsed as JSON.
fn node(script: &str, stdin: &[u8]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("node_modules/superjson").exists(),
        "node_modules is missing: run scripts/test (it runs `npm ci`)"
    );
    let mut child = Command::new("node")
        .arg(root.join("js").join(script))
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node {script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Json::new()
        .with_limits(Limits::unlimited())
        .decode_value(&out.stdout)
        .expect("node printed JSON")
}

fn json_array_of_strings(items: &[String]) -> Vec<u8> {
    let v = Value::Array(items.iter().map(|s| Value::String(s.clone())).collect());
    Json::new().encode_value(&v).unwrap()
}

/// Values Rust builds: the vectors' values (as polycodec decodes them) plus the JS corpus.
fn rust_values() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let file = load_json("superjson/vectors.json");
    for case in get(&file, "cases").as_array().unwrap() {
        let tags = get(case, "tags").as_array().unwrap();
        // js-deserialize-bug: JS's reviver rebuilds a different graph (superjson #346).
        if tags.iter().any(|t| {
            matches!(
                t.as_str(),
                Some("js-only" | "lone-surrogate" | "js-deserialize-bug")
            )
        }) || s(case, "instance") != "default"
        {
            continue;
        }
        if let Ok(v) = SuperJson::new().decode_value(s(case, "stringified").as_bytes()) {
            out.push((s(case, "name").to_owned(), v));
        }
    }
    out
}

#[test]
fn values_encoded_by_rust_are_read_by_js_superjson_and_come_back_equal() {
    let values = rust_values();
    assert!(values.len() > 120);
    let texts: Vec<String> = values
        .iter()
        .map(|(_, v)| SuperJson::new().encode_value_to_string(v).unwrap())
        .collect();
    let results = node("superjson-roundtrip.mjs", &json_array_of_strings(&texts));
    let mut failures = Vec::new();
    for ((name, v), r) in values.iter().zip(results.as_array().unwrap()) {
        let Some(js_text) = r.get("ok").and_then(Value::as_str) else {
            failures.push(format!("{name}: JS threw {:?}", r.get("error")));
            continue;
        };
        let back = SuperJson::new().decode_value(js_text.as_bytes()).unwrap();
        if normalize(&back) != normalize(v) {
            failures.push(format!("{name}: came back as {back:?}, sent {v:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn js_superjson_output_decoded_by_rust_reencodes_byte_identical() {
    let corpus = node("superjson-corpus.mjs", b"");
    let cases = corpus.as_array().unwrap();
    assert!(cases.len() >= 250, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let text = s(case, "stringified");
        match SuperJson::new()
            .decode_value(text.as_bytes())
            .and_then(|v| SuperJson::new().encode_value_to_string(&v))
        {
            Ok(again) if again == text => {}
            Ok(again) => failures.push(format!(
                "{}:\n  js   {text}\n  rust {again}",
                s(case, "name")
            )),
            Err(e) => failures.push(format!("{}: {e}", s(case, "name"))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn msgpack_from_rust_is_read_by_js_and_js_reencoding_reads_back_equal() {
    // MessagePack has no references: a cyclic value is an error (documented), the rest go.
    let values: Vec<(String, Value)> = rust_values()
        .into_iter()
        .filter(|(_, v)| MsgPack::new().encode_value(v).is_ok())
        .collect();
    assert!(values.len() > 110, "{}", values.len());
    let hexes: Vec<String> = values
        .iter()
        .map(|(_, v)| {
            MsgPack::new()
                .encode_value(v)
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    let results = node("msgpack-roundtrip.mjs", &json_array_of_strings(&hexes));
    let mut failures = Vec::new();
    for (((name, v), sent), r) in values.iter().zip(&hexes).zip(results.as_array().unwrap()) {
        let Some(js_hex) = r.get("hex").and_then(Value::as_str) else {
            // @msgpack/msgpack's encoder refuses nesting deeper than 100 (its `maxDepth`).
            let err = r.get("error").and_then(Value::as_str).unwrap_or("");
            if !err.contains("Too deep objects in depth 101") {
                failures.push(format!("{name}: JS failed: {err}"));
            }
            continue;
        };
        let bytes: Vec<u8> = (0..js_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&js_hex[i..i + 2], 16).unwrap())
            .collect();
        let back = MsgPack::new().decode_value(&bytes).unwrap();
        // JS writes -0 as the integer 0 (a documented @msgpack/msgpack behaviour).
        if normalize(&back) != normalize(v) && !sent.contains("cb8000000000000000") {
            failures.push(format!("{name}: came back as {back:?}, sent {v:?}"));
        }
        // What JS decoded is the same value superjson says it is.
        if let Some(sj) = r.get("superjson").and_then(Value::as_str) {
            let js_view = SuperJson::new().decode_value(sj.as_bytes()).unwrap();
            if normalize(&js_view) != normalize(v)
                && !sent.contains("cb8000000000000000")
                && !sj.contains("\"Error\"")
            {
                failures.push(format!("{name}: JS sees {js_view:?}, sent {v:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
