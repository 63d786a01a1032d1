//! The generated TypeScript types (`polycodec types`, committed as `web/api.ts`) under the
//! real `tsc` (pinned in `package-lock.json`): client files in `js/types/` that call the demo
//! APIs through them compile under `--strict`, and each of their `@ts-expect-error` lines (a
//! wrong argument, an unknown method or procedure, a query called as a mutation, a result
//! used as the wrong type, a Date that is a string through plain JSON) must be an error, or
//! `tsc` fails on the unused directive.

use std::path::Path;
use std::process::Command;

/// `tsc` with `args`, from the repository root: its output when it fails.
fn tsc(args: &[&str]) -> Result<(), String> {
    let root = crate::common::repo_root();
    let out = Command::new("node")
        .arg(root.join("node_modules/typescript/bin/tsc"))
        .args(args)
        .current_dir(&root)
        .output()
        .expect("node");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub fn clients_of_the_generated_types_compile_under_tsc_strict_and_wrong_calls_do_not() {
    tsc(&["-p", "js/types/tsconfig.json"]).unwrap_or_else(|e| panic!("tsc:\n{e}"));
}

pub fn the_chat_page_type_checks_against_the_generated_chat_api() {
    tsc(&["-p", "js/types/tsconfig.chat.json"]).unwrap_or_else(|e| panic!("tsc:\n{e}"));
}

/// What a user does: `polycodec types --out api.ts` in a directory of their own, a client
/// next to it, `tsc --strict`; then the same client with a wrong call fails.
pub fn a_client_outside_the_repository_compiles_against_polycodec_types_output() {
    let root = crate::common::repo_root();
    // Inside the repository's tree (for node_modules), in a directory of its own.
    let dir = root
        .join("target")
        .join(format!("ts-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_polycodec"))
        .args(["types", "--out"])
        .arg(dir.join("api.ts"))
        .status()
        .expect("polycodec types");
    assert!(status.success());
    let client = r#"
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import superjson from "superjson";
import type { AppRouter, RpcApi } from "./api";

declare const api: RpcApi;
const trpc = createTRPCClient<AppRouter>({
  links: [httpBatchLink({ url: "http://127.0.0.1:3000/trpc", transformer: superjson })],
});

export async function main(): Promise<number> {
  const product: number = await api.math.multiply(6, 7);
  const sum: number = await trpc.math.add.query({ a: 1, b: 2 });
  const at: Date = (await trpc.sample.query()).date;
  return product + sum + at.getTime();
}
"#;
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let check = |file: &str| {
        let file = dir.join(file);
        tsc(&[
            "--strict",
            "--noEmit",
            "--skipLibCheck",
            "--target",
            "ES2022",
            "--module",
            "ESNext",
            "--moduleResolution",
            "Bundler",
            file.to_str().unwrap(),
        ])
    };
    write("client.ts", client);
    check("client.ts").unwrap_or_else(|e| panic!("a right client fails:\n{e}"));
    for (wrong, by) in [
        ("api.math.multiply(6, 7)", "api.math.multiply(\"6\", 7)"),
        (
            "trpc.math.add.query({ a: 1, b: 2 })",
            "trpc.math.add.mutate({ a: 1, b: 2 })",
        ),
        ("trpc.math.add.query", "trpc.math.sub.query"),
        ("const at: Date", "const at: string"),
    ] {
        write("wrong.ts", &client.replacen(wrong, by, 1));
        let err = check("wrong.ts").expect_err(by);
        assert!(err.contains("wrong.ts"), "{by}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!Path::new(&dir).exists());
}
