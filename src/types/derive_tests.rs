//! `#[derive(JsType)]` against what serde writes for the same attributes.

use super::{Dir, JsType, Wire};
use crate::codec::Json;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

fn sj<T: JsType>() -> String {
    T::js_type().render(Wire::SUPERJSON, Dir::Out)
}
fn json<T: JsType>() -> String {
    T::js_type().render(Wire::JSON, Dir::Out)
}

#[derive(Serialize, JsType)]
#[serde(rename_all = "camelCase")]
struct Post {
    post_id: u32,
    #[serde(with = "crate::js::date")]
    created_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "crate::js::set")]
    tags: BTreeSet<String>,
    #[serde(with = "crate::js::map")]
    votes: BTreeMap<String, u32>,
    #[serde(with = "crate::js::bigint")]
    views: u64,
    #[serde(with = "crate::js::undefined", default)]
    edited: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip)]
    #[allow(dead_code)]
    secret: String,
    #[serde(rename = "n")]
    count: i128,
}

#[test]
fn a_struct_is_written_as_serde_writes_it_per_codec() {
    assert_eq!(
        sj::<Post>(),
        "{ postId: number; createdAt: Date; tags: Set<string>; votes: Map<string, number>; \
         views: bigint; edited: boolean | undefined; title?: string | null; n: bigint }"
    );
    // Plain JSON: a Date is its ISO string, a Set an array, a Map pairs, a bigint a string,
    // an undefined field left out (so optional).
    assert_eq!(
        json::<Post>(),
        "{ postId: number; createdAt: string; tags: Array<string>; votes: Array<[string, number]>; \
         views: string; edited?: boolean; title?: string | null; n: string }"
    );
    // What the client sends: a field with `default` or an `Option` may be left out.
    assert_eq!(
        Post::js_type().render(Wire::SUPERJSON, Dir::In),
        "{ postId: number; createdAt: Date; tags: Set<string>; votes: Map<string, number>; \
         views: bigint; edited?: boolean | undefined; title?: string | null; n: number | bigint }"
    );
    // Plain JSON reads a wide integer from a number only (a string is refused).
    assert!(Post::js_type()
        .render(Wire::JSON, Dir::In)
        .ends_with("n: number }"));
    // The names are the ones serde writes.
    let post = Post {
        post_id: 1,
        created_at: chrono::DateTime::UNIX_EPOCH,
        tags: BTreeSet::new(),
        votes: BTreeMap::new(),
        views: 2,
        edited: Some(true),
        title: Some("t".into()),
        secret: "s".into(),
        count: 3,
    };
    let text = Json::new().to_string(&post).unwrap();
    assert_eq!(
        text,
        r#"{"postId":1,"createdAt":"1970-01-01T00:00:00.000Z","tags":[],"votes":[],"views":"2","edited":true,"title":"t","n":"3"}"#
    );
}

#[derive(Serialize, JsType)]
#[allow(dead_code)]
enum External {
    Unit,
    New(String),
    Pair(u8, bool),
    Named { x: f64 },
}

#[derive(Serialize, JsType)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(dead_code)]
enum Internal {
    Started,
    Moved { to_x: f64 },
    Wrapped(Inner),
}

#[derive(Serialize, JsType)]
#[serde(tag = "t", content = "c")]
#[allow(dead_code)]
enum Adjacent {
    A,
    B(u32),
}

#[derive(Serialize, JsType)]
#[serde(untagged)]
#[allow(dead_code)]
enum Untagged {
    Num(f64),
    Text(String),
    Obj { k: bool },
}

#[derive(Serialize, JsType)]
struct Inner {
    a: bool,
}

#[derive(Serialize, JsType)]
struct Outer {
    id: String,
    #[serde(flatten)]
    inner: Inner,
}

#[derive(Serialize, JsType)]
struct Id(u64);

#[derive(Serialize, JsType)]
#[serde(transparent)]
struct Wrapper {
    value: Vec<Id>,
}

#[derive(Serialize, JsType)]
struct Tree {
    children: Vec<Tree>,
}

#[derive(Serialize, JsType)]
struct Page<T> {
    items: Vec<T>,
}

#[test]
fn enums_in_each_serde_representation() {
    assert_eq!(
        sj::<External>(),
        r#""Unit" | { New: string } | { Pair: [number, boolean] } | { Named: { x: number } }"#
    );
    assert_eq!(
        sj::<Internal>(),
        r#"{ type: "started" } | { type: "moved" } & { to_x: number } | { type: "wrapped" } & { a: boolean }"#
    );
    assert_eq!(sj::<Adjacent>(), r#"{ t: "A" } | { t: "B"; c: number }"#);
    assert_eq!(sj::<Untagged>(), "number | string | { k: boolean }");
}

#[test]
fn flatten_newtypes_transparent_recursion_and_generics() {
    assert_eq!(sj::<Outer>(), "{ id: string } & { a: boolean }");
    assert_eq!(sj::<Id>(), "number | bigint");
    assert_eq!(json::<Wrapper>(), "Array<number | string>");
    // A type that contains itself is written once, `unknown` where it recurs.
    assert_eq!(sj::<Tree>(), "{ children: unknown[] }");
    assert_eq!(sj::<Page<crate::Date>>(), "{ items: Date[] }");
    assert_eq!(json::<Page<crate::Date>>(), "{ items: string[] }");
}
