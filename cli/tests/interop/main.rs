//! The live interop suites: polycodec against the real JS libraries under node (superjson,
//! `@msgpack/msgpack`, the kkrpc 0.2.2 client, also over a cluster of `polycodec serve
//! --redis` nodes), the generated TypeScript types under the real `tsc`, and the demo page
//! in Debian's Chromium.
//!
//! They need `node`, the npm packages pinned in `package-lock.json` and Chromium, which
//! `scripts/test` installs when they are missing. Without them this binary stops at once with
//! one message that says so, rather than failing every test alike; an interop test that
//! silently skips would prove nothing. (`cargo test -p polycodec` runs everything that needs
//! none of them.)

#[path = "../../../tests/common/mod.rs"]
mod common;

#[path = "../../../tests/common/serve.rs"]
#[allow(dead_code)] // `eventually` is for the RPC tests
mod serve;

#[path = "../../../tests/common/redis.rs"]
mod redis;

#[path = "../../../tests/common/fleet.rs"]
mod fleet;

#[path = "../../../tests/common/trpc_wire.rs"]
mod trpc_wire;

mod browser;
mod cluster;
mod js_interop;
mod kkrpc_interop;
mod msgpackr_interop;
mod trpc_interop;
mod ts_types;

use libtest_mimic::{Arguments, Trial};
use polycodec::codec::{Codec, Json};
use polycodec::Value;
use std::process::{Command, ExitCode};

/// What is missing for these tests, if anything.
fn missing() -> Vec<String> {
    let root = common::repo_root();
    let mut missing = Vec::new();
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        missing.push("node (Node.js 20)".to_owned());
    }
    for package in [
        "superjson",
        "@msgpack/msgpack",
        "msgpackr",
        "kkrpc",
        "ws",
        "playwright-core",
        "typescript",
        "@trpc/client",
        "@trpc/server",
        "eventsource",
    ] {
        if !root
            .join("node_modules")
            .join(package)
            .join("package.json")
            .exists()
        {
            missing.push(format!("the npm package {package} (node_modules/)"));
        }
    }
    if let Err(e) = redis::binary() {
        missing.push(e);
    }
    let chromium = std::env::var_os("CHROMIUM_PATH").unwrap_or_else(|| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        missing.push(format!("Chromium ({})", chromium.to_string_lossy()));
    }
    missing
}

/// A synchronous test.
fn sync(name: &'static str, test: fn()) -> Trial {
    Trial::test(name, move || {
        test();
        Ok(())
    })
}

/// An async test on its own current-thread runtime, as `#[tokio::test]` runs it.
fn on_tokio<F: std::future::Future<Output = ()> + 'static>(
    name: &'static str,
    test: fn() -> F,
) -> Trial {
    Trial::test(name, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(test());
        Ok(())
    })
}

/// Run a node script (path from the repository's root) with arguments; its last stdout line
/// is a JSON report `{passed: [...], failed: [...]}`, returned as (passed, failed).
pub async fn run_node(script: &str, args: &[&str]) -> (Vec<String>, Vec<String>) {
    let root = crate::common::repo_root();
    let out = tokio::process::Command::new("node")
        .arg(root.join(script))
        .args(args)
        .current_dir(&root)
        .output()
        .await
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let report = Json::new()
        .decode_value(line.as_bytes())
        .unwrap_or_else(|e| {
            panic!(
                "no report from {script} ({e}); stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let names = |k: &str| -> Vec<String> {
        report
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| match x {
                        Value::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    (names("passed"), names("failed"))
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let trials = vec![
        sync(
            "js_interop::values_encoded_by_rust_are_read_by_js_superjson_and_come_back_equal",
            js_interop::values_encoded_by_rust_are_read_by_js_superjson_and_come_back_equal,
        ),
        sync(
            "js_interop::js_superjson_output_decoded_by_rust_reencodes_byte_identical",
            js_interop::js_superjson_output_decoded_by_rust_reencodes_byte_identical,
        ),
        sync(
            "js_interop::msgpack_from_rust_is_read_by_js_and_js_reencoding_reads_back_equal",
            js_interop::msgpack_from_rust_is_read_by_js_and_js_reencoding_reads_back_equal,
        ),
        sync(
            "js_interop::json_text_reads_and_rewrites_like_js_json_parse_then_superjson",
            js_interop::json_text_reads_and_rewrites_like_js_json_parse_then_superjson,
        ),
        sync(
            "js_interop::msgpack_bytes_read_and_rewrite_like_js_msgpack_with_the_extensions",
            js_interop::msgpack_bytes_read_and_rewrite_like_js_msgpack_with_the_extensions,
        ),
        sync(
            "js_interop::random_values_written_by_rust_are_what_js_superjson_writes_for_them",
            js_interop::random_values_written_by_rust_are_what_js_superjson_writes_for_them,
        ),
        sync(
            "js_interop::random_values_written_by_rust_are_what_js_msgpack_writes_for_them",
            js_interop::random_values_written_by_rust_are_what_js_msgpack_writes_for_them,
        ),
        sync(
            "js_interop::superjson_graphs_with_shared_nodes_and_cycles_round_trip_byte_for_byte",
            js_interop::superjson_graphs_with_shared_nodes_and_cycles_round_trip_byte_for_byte,
        ),
        sync(
            "msgpackr_interop::msgpackr_reads_the_msgpackr_profile_and_writes_the_same_bytes_back",
            msgpackr_interop::msgpackr_reads_the_msgpackr_profile_and_writes_the_same_bytes_back,
        ),
        sync(
            "msgpackr_interop::msgpackr_output_in_every_configuration_reads_as_msgpackr_reads_it",
            msgpackr_interop::msgpackr_output_in_every_configuration_reads_as_msgpackr_reads_it,
        ),
        sync(
            "msgpackr_interop::msgpack_msgpack_without_extensions_reads_every_standard_profile_message",
            msgpackr_interop::msgpack_msgpack_without_extensions_reads_every_standard_profile_message,
        ),
        on_tokio(
            "kkrpc_interop::kkrpc_0_2_2_client_in_json_mode_passes_every_check",
            kkrpc_interop::kkrpc_0_2_2_client_in_json_mode_passes_every_check,
        ),
        on_tokio(
            "kkrpc_interop::kkrpc_0_2_2_client_in_superjson_mode_passes_every_check",
            kkrpc_interop::kkrpc_0_2_2_client_in_superjson_mode_passes_every_check,
        ),
        on_tokio(
            "trpc_interop::real_trpc_client_passes_every_check_through_every_link",
            trpc_interop::real_trpc_client_passes_every_check_through_every_link,
        ),
        on_tokio(
            "trpc_interop::the_same_requests_get_the_same_bytes_as_the_reference_server",
            trpc_interop::the_same_requests_get_the_same_bytes_as_the_reference_server,
        ),
        on_tokio(
            "trpc_interop::a_trpc_client_and_a_kkrpc_client_share_one_websocket_path",
            trpc_interop::a_trpc_client_and_a_kkrpc_client_share_one_websocket_path,
        ),
        sync(
            "ts_types::clients_of_the_generated_types_compile_under_tsc_strict_and_wrong_calls_do_not",
            ts_types::clients_of_the_generated_types_compile_under_tsc_strict_and_wrong_calls_do_not,
        ),
        sync(
            "ts_types::the_chat_page_type_checks_against_the_generated_chat_api",
            ts_types::the_chat_page_type_checks_against_the_generated_chat_api,
        ),
        sync(
            "ts_types::a_client_outside_the_repository_compiles_against_polycodec_types_output",
            ts_types::a_client_outside_the_repository_compiles_against_polycodec_types_output,
        ),
        sync(
            "browser::two_browser_pages_chat_in_one_room_and_a_screenshot_is_written",
            browser::two_browser_pages_chat_in_one_room_and_a_screenshot_is_written,
        ),
        sync(
            "browser::kkrpc_0_2_2_client_joins_a_chat_room_and_receives_broadcasts",
            browser::kkrpc_0_2_2_client_joins_a_chat_room_and_receives_broadcasts,
        ),
        sync(
            "browser::with_a_token_the_page_routes_still_load_but_upgrades_need_it",
            browser::with_a_token_the_page_routes_still_load_but_upgrades_need_it,
        ),
        sync(
            "browser::cors_headers_are_on_http_routes_and_never_on_the_upgrade",
            browser::cors_headers_are_on_http_routes_and_never_on_the_upgrade,
        ),
        sync(
            "cluster::kkrpc_0_2_2_clients_on_two_nodes_chat_as_on_one",
            cluster::kkrpc_0_2_2_clients_on_two_nodes_chat_as_on_one,
        ),
    ];
    if !args.list {
        let missing = missing();
        if !missing.is_empty() {
            eprintln!(
                "\nThe interop tests need what is not here: {}.\n\
                 Run `scripts/test`: it installs the pinned npm packages (`npm ci`), Debian's \
                 Chromium and redis-server, then runs every test.\n",
                missing.join(", ")
            );
            return ExitCode::FAILURE;
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}
