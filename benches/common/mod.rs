//! The benchmark payloads, shared by `cargo bench` and the side-by-side comparison with JS.
//! Each is a typed Rust struct whose JS kinds are marked with `polycodec::js`, so the same
//! struct goes through every codec and through raw serde_json / rmp-serde.
#![allow(dead_code)]

use polycodec::Date;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// ~200 bytes: one RPC message with one Date.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Small {
    pub id: String,
    pub method: String,
    pub args: (String, u32, bool),
    pub at: Date,
    pub meta: SmallMeta,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct SmallMeta {
    pub trace: String,
    pub retries: u8,
    pub user: String,
}

/// ~10 KB: Dates, a Map, Sets and nested arrays.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Medium {
    pub title: String,
    pub created: Date,
    pub updated: Date,
    #[serde(with = "polycodec::js::set")]
    pub tags: BTreeSet<String>,
    #[serde(with = "polycodec::js::map")]
    pub counters: BTreeMap<String, u32>,
    pub sections: Vec<Section>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Section {
    pub name: String,
    pub at: Date,
    pub values: Vec<f64>,
    #[serde(with = "polycodec::js::set")]
    pub flags: BTreeSet<u32>,
    pub matrix: Vec<Vec<i32>>,
}

/// One of the 10,000 records of the large payload.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Record {
    pub id: u32,
    pub name: String,
    pub created_at: Date,
    pub score: f64,
    pub count: u32,
    pub active: bool,
}

/// A binary blob (64 KiB) with a name.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Blob {
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

const T0: f64 = 1_700_000_000_000.0;

pub fn small() -> Small {
    Small {
        id: "1c8f2d0a-9b3e-4c55-8e21-7f0d5a6b9c31".into(),
        method: "orders.create".into(),
        args: ("sku-12345".into(), 3, true),
        at: Date::from_millis(T0 + 123.0),
        meta: SmallMeta {
            trace: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            retries: 0,
            user: "ann@example.com".into(),
        },
    }
}

pub fn medium() -> Medium {
    let sections = (0..24)
        .map(|i| Section {
            name: format!("section {i}"),
            at: Date::from_millis(T0 + f64::from(i) * 86_400_000.0),
            values: (0..12)
                .map(|j| f64::from(i * 12 + j) * 1.25 + 0.5)
                .collect(),
            flags: (0..5).map(|j| i * 7 + j).collect(),
            matrix: (0..3)
                .map(|r| (0..4).map(|c| (i * 100 + r * 10 + c) as i32).collect())
                .collect(),
        })
        .collect();
    Medium {
        title: "Quarterly report: revenue, churn and the usual suspects".into(),
        created: Date::from_millis(T0),
        updated: Date::from_millis(T0 + 3_600_000.0),
        tags: (0..20).map(|i| format!("tag-{i}")).collect(),
        counters: (0..40).map(|i| (format!("counter-{i}"), i * 37)).collect(),
        sections,
    }
}

pub fn large() -> Vec<Record> {
    (0..10_000u32)
        .map(|i| Record {
            id: i,
            name: format!("user {i}"),
            created_at: Date::from_millis(T0 + f64::from(i) * 1000.0),
            score: f64::from(i) * 0.75 + 0.125,
            count: i % 97,
            active: i % 3 == 0,
        })
        .collect()
}

pub fn blob() -> Blob {
    Blob {
        name: "avatar.png".into(),
        data: (0..65_536u32).map(|i| (i * 31 % 251) as u8).collect(),
    }
}

/// The demo API served at `/rpc` on 127.0.0.1, port 0, on the current tokio runtime, with
/// room for the load client's calls in flight; returns its address.
#[cfg(feature = "server")]
pub async fn serve_demo() -> std::net::SocketAddr {
    let rpc = polycodec::rpc::RpcServer::builder(polycodec::rpc::demo::api())
        .limits(polycodec::Limits::default().max_pending_calls(4096))
        .build()
        .unwrap();
    let app = axum::Router::new().route("/rpc", axum::routing::get(rpc.handler()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
