//! The `polycodec` command line: transcoding between every pair of codecs, canonical
//! superjson re-encoding of the conformance vectors, and one-line errors.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn polycodec(args: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polycodec"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run polycodec");
    // The command may stop reading early (an input over `--max-bytes` is refused after one
    // byte past the bound), and then the rest of the write meets a closed pipe.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn superjson_to_superjson_reproduces_every_vector() {
    // One process for all vectors would be faster; one per vector is what a user runs.
    let file = load_json("superjson/vectors.json");
    let mut checked = 0;
    for case in get(&file, "cases").as_array().unwrap() {
        let name = s(case, "name");
        let tags = get(case, "tags").as_array().unwrap();
        let skip = tags.iter().any(|t| {
            matches!(
                t.as_str(),
                Some("js-only" | "version-dependent" | "js-deserialize-bug")
            )
        }) || s(case, "instance") == "dedupe";
        if skip || checked >= 200 {
            continue;
        }
        let text = s(case, "stringified");
        let (code, out, err) = polycodec(
            &["transcode", "--from", "superjson", "--to", "superjson"],
            text.as_bytes(),
        );
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(String::from_utf8(out).unwrap(), text, "{name}");
        checked += 1;
    }
    assert!(checked > 140);
}

#[test]
fn every_pair_of_codecs_transcodes() {
    let doc = br#"{"json":{"d":"2024-01-02T03:04:05.678Z","n":[1,2.5,"NaN"],"s":["a"],"m":[[1,"one"]],"b":"12345678901234567890"},"meta":{"values":{"d":["Date"],"n.2":["number"],"s":["set"],"m":["map"],"b":["bigint"]},"v":1}}"#;
    let names: Vec<String> = String::from_utf8(polycodec(&["codecs"], b"").1)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    assert!(names.len() >= 3);
    for to in &names {
        let (code, mid, err) = polycodec(&["transcode", "--from", "superjson", "--to", to], doc);
        assert_eq!(code, 0, "superjson -> {to}: {err}");
        for back in &names {
            let (code, _, err) = polycodec(&["transcode", "--from", to, "--to", back], &mid);
            assert_eq!(code, 0, "{to} -> {back}: {err}");
        }
        // Codecs that hold every JS kind give the same document back.
        if to != "json" {
            let (_, again, _) = polycodec(&["transcode", "--from", to, "--to", "superjson"], &mid);
            assert_eq!(
                String::from_utf8(again).unwrap().as_bytes(),
                doc,
                "via {to}"
            );
        }
    }
}

#[test]
fn bad_input_exits_1_with_one_line_naming_the_place() {
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "superjson",
            br#"{"json":[1,}"#,
            "polycodec: cannot decode superjson: expected a value, found `}` at byte 11\n",
        ),
        (
            "superjson",
            br#"{"json":{"a":"x"},"meta":{"values":{"a":["date"]},"v":1}}"#,
            "polycodec: cannot decode superjson: Unknown transformation: date at path `values.a`\n",
        ),
        (
            "json",
            b"[1, 2",
            "polycodec: cannot decode json: unexpected end of input at byte 5\n",
        ),
        (
            "msgpack",
            b"\x92\x01",
            "polycodec: cannot decode msgpack: unexpected end of input at byte 2\n",
        ),
    ];
    for (from, input, msg) in cases {
        let (code, out, err) = polycodec(&["transcode", "--from", from, "--to", "json"], input);
        assert_eq!(code, 1);
        assert!(out.is_empty());
        assert_eq!(err, msg);
    }
    let (code, _, err) = polycodec(&["transcode", "--from", "nope", "--to", "json"], b"");
    assert_eq!(code, 1);
    assert!(
        err.starts_with("polycodec: unknown codec \"nope\""),
        "{err}"
    );
}

#[test]
fn files_in_and_out() {
    let dir = std::env::temp_dir().join(format!("polycodec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (inp, out) = (dir.join("in.json"), dir.join("out.mp"));
    std::fs::write(&inp, b"{\"a\":[1,true,null]}").unwrap();
    let (code, _, err) = polycodec(
        &[
            "transcode",
            "--from",
            "json",
            "--to",
            "msgpack",
            "--in",
            inp.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"\x81\xa1a\x93\x01\xc3\xc0");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--help` after any command prints the usage (it was "unknown argument"); the usage
/// names every flag `serve` takes. A flag's value that reads `--help` is a value.
#[test]
fn help_after_a_command_prints_the_usage() {
    for cmd in ["transcode", "serve", "codecs", "types"] {
        let (code, out, err) = polycodec(&[cmd, "--help"], b"");
        let out = String::from_utf8(out).unwrap();
        assert_eq!(code, 0, "{cmd}: {err}");
        for flag in ["--token", "--web", "--max-bytes", "--addr", "--out"] {
            assert!(out.contains(flag), "{cmd}: {out}");
        }
    }
    let (code, _, err) = polycodec(
        &[
            "transcode",
            "--from",
            "json",
            "--to",
            "json",
            "--in",
            "--help",
        ],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot read --help"), "{err}");
}

/// Kinds the target codec cannot hold are written in its documented form with a warning
/// naming them (the conversion was silent); a lossless one warns of nothing.
#[test]
fn a_lossy_transcode_says_what_changed() {
    let doc = br#"{"json":{"d":"2024-01-02T03:04:05.678Z","n":"NaN","u":null,"b":"1"},"meta":{"values":{"d":["Date"],"n":["number"],"u":["undefined"],"b":["bigint"]},"v":1}}"#;
    let (code, out, err) = polycodec(&["transcode", "--from", "superjson", "--to", "json"], doc);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"d":"2024-01-02T03:04:05.678Z","n":null,"b":"1"}"#
    );
    assert_eq!(
        err.trim(),
        "polycodec: warning: json has no Date, NaN, Infinity or -0, undefined, bigint: written in its documented form (codecs/README.md)"
    );
    let (code, _, err) = polycodec(
        &["transcode", "--from", "superjson", "--to", "msgpack"],
        doc,
    );
    assert_eq!((code, err.as_str()), (0, ""));
    // Inside a shared node too.
    let shared = br#"{"json":{"a":["2024-01-02T03:04:05.678Z"],"b":["2024-01-02T03:04:05.678Z"]},"meta":{"values":{"a.0":["Date"],"b.0":["Date"]},"referentialEqualities":{"a":["b"]},"v":1}}"#;
    let (code, _, err) = polycodec(
        &["transcode", "--from", "superjson", "--to", "json"],
        shared,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("shared references") && err.contains("Date"),
        "{err}"
    );
}

/// Input past the size limit is refused after reading one byte past it (not all of it),
/// and `--max-bytes` sets the limit.
#[test]
fn transcode_input_is_bounded_and_the_bound_can_be_raised() {
    let big = format!("\"{}\"", "x".repeat(100));
    let args = [
        "transcode",
        "--from",
        "json",
        "--to",
        "msgpack",
        "--max-bytes",
    ];
    let (code, _, err) = polycodec(&[&args[..], &["50"]].concat(), big.as_bytes());
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "polycodec: the input is over the limit of 50 bytes (--max-bytes sets it)"
    );
    let (code, out, err) = polycodec(&[&args[..], &["1000"]].concat(), big.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.len(), 102);
    let (code, _, err) = polycodec(&[&args[..], &["lots"]].concat(), big.as_bytes());
    assert_eq!(code, 1);
    assert!(err.contains("--max-bytes needs a number of bytes"), "{err}");
}

/// `serve` refuses an empty token (it let anyone in) and a page directory without the page
/// (it served a broken page), each with one line saying so.
#[test]
fn serve_refuses_an_empty_token_and_a_missing_page() {
    let (code, _, err) = polycodec(&["serve", "--addr", "127.0.0.1:0", "--token", ""], b"");
    assert_eq!(code, 1);
    assert!(err.contains("--token needs a non-empty secret"), "{err}");
    let (code, _, err) = polycodec(
        &["serve", "--addr", "127.0.0.1:0", "--web", "/nonexistent"],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("holds no index.html"), "{err}");
}

/// The committed TypeScript types of the demo server (`web/api.ts`, which the chat page and
/// the `tsc` tests in `js/types/` use) are what `polycodec types` writes from the code now:
/// a changed method, argument or codec mapping fails here until the file is regenerated.
#[test]
fn committed_typescript_types_are_what_polycodec_types_writes() {
    let committed = repo_root().join("web/api.ts");
    let (code, out, err) = polycodec(&["types"], b"");
    assert_eq!(code, 0, "{err}");
    let generated = String::from_utf8(out).unwrap();
    let on_disk = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        generated == on_disk,
        "web/api.ts is out of date: run `cargo run -p polycodec-cli -- types --out web/api.ts`"
    );
    for name in ["interface RpcApi ", "interface ChatApi ", "type AppRouter "] {
        assert!(generated.contains(&format!("export {name}")), "{name}");
    }
    // `--out FILE` writes the same text.
    let dir = std::env::temp_dir().join(format!("polycodec-types-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("api.ts");
    let (code, out, err) = polycodec(&["types", "--out", file.to_str().unwrap()], b"");
    assert_eq!((code, out.len()), (0, 0), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), generated);
    std::fs::remove_dir_all(&dir).unwrap();
}
