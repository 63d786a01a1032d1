//! `cargo bench --bench codecs`: every codec on the same payloads, encode and decode, typed
//! and through `Value`, next to raw serde_json and raw rmp-serde on the same structs.

#[path = "common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use polycodec::codec::{Codec, Json, MsgPack, SuperJson};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::hint::black_box;
use std::time::Duration;

fn sizes() {
    let rows: Vec<(&str, Vec<usize>)> = vec![
        ("small", row(&common::small())),
        ("medium", row(&common::medium())),
        ("large", row(&common::large())),
        ("blob", row(&common::blob())),
    ];
    println!("\nencoded sizes (bytes)");
    println!(
        "| payload | superjson | json | msgpack | msgpackr | bincode | serde_json | rmp-serde |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, r) in rows {
        let cells: Vec<String> = r.iter().map(|n| n.to_string()).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!();
}

fn row<T: Serialize>(v: &T) -> Vec<usize> {
    vec![
        SuperJson::new().to_vec(v).unwrap().len(),
        Json::new().to_vec(v).unwrap().len(),
        MsgPack::new().to_vec(v).unwrap().len(),
        MsgPack::msgpackr().to_vec(v).unwrap().len(),
        bincode_len(v),
        serde_json::to_vec(v).unwrap().len(),
        rmp_serde::to_vec_named(v).unwrap().len(),
    ]
}

#[cfg(feature = "bincode")]
fn bincode_len<T: Serialize>(v: &T) -> usize {
    polycodec::codec::Bincode::new().to_vec(v).unwrap().len()
}
#[cfg(not(feature = "bincode"))]
fn bincode_len<T: Serialize>(_: &T) -> usize {
    0
}

fn group<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    c: &mut Criterion,
    name: &str,
    v: &T,
) {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);

    let sj = SuperJson::new();
    let json = Json::new();
    let mp = MsgPack::new();
    let sj_bytes = sj.to_vec(v).unwrap();
    let json_bytes = json.to_vec(v).unwrap();
    let mp_bytes = mp.to_vec(v).unwrap();
    let raw_json = serde_json::to_vec(v).unwrap();
    let raw_mp = rmp_serde::to_vec_named(v).unwrap();
    assert_eq!(&sj.from_slice::<T>(&sj_bytes).unwrap(), v);
    assert_eq!(&mp.from_slice::<T>(&mp_bytes).unwrap(), v);

    let value = sj.decode_value(&sj_bytes).unwrap();
    macro_rules! pair {
        ($label:expr, $bytes:expr, $enc:expr, $dec:expr) => {{
            let bytes = $bytes;
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_function(BenchmarkId::new("encode", $label), |b| {
                b.iter(|| black_box($enc))
            });
            g.bench_function(BenchmarkId::new("decode", $label), |b| {
                b.iter(|| black_box($dec(&bytes)))
            });
        }};
    }
    pair!(
        "superjson-typed",
        sj_bytes.clone(),
        sj.to_vec(black_box(v)).unwrap(),
        |b: &Vec<u8>| sj.from_slice::<T>(b).unwrap()
    );
    pair!(
        "superjson-value",
        sj_bytes.clone(),
        sj.encode_value(black_box(&value)).unwrap(),
        |b: &Vec<u8>| sj.decode_value(b).unwrap()
    );
    pair!(
        "json-typed",
        json_bytes.clone(),
        json.to_vec(black_box(v)).unwrap(),
        |b: &Vec<u8>| json.from_slice::<T>(b).unwrap()
    );
    pair!(
        "serde_json (baseline)",
        raw_json.clone(),
        serde_json::to_vec(black_box(v)).unwrap(),
        |b: &Vec<u8>| serde_json::from_slice::<T>(b).unwrap()
    );
    pair!(
        "msgpack-typed",
        mp_bytes.clone(),
        mp.to_vec(black_box(v)).unwrap(),
        |b: &Vec<u8>| mp.from_slice::<T>(b).unwrap()
    );
    pair!(
        "msgpack-value",
        mp_bytes.clone(),
        mp.encode_value(black_box(&value)).unwrap(),
        |b: &Vec<u8>| mp.decode_value(b).unwrap()
    );
    let mpr = MsgPack::msgpackr();
    let mpr_bytes = mpr.to_vec(v).unwrap();
    assert_eq!(&mpr.from_slice::<T>(&mpr_bytes).unwrap(), v);
    pair!(
        "msgpackr-typed",
        mpr_bytes.clone(),
        mpr.to_vec(black_box(v)).unwrap(),
        |b: &Vec<u8>| mpr.from_slice::<T>(b).unwrap()
    );
    pair!(
        "msgpackr-value",
        mpr_bytes.clone(),
        mpr.encode_value(black_box(&value)).unwrap(),
        |b: &Vec<u8>| mpr.decode_value(b).unwrap()
    );
    pair!(
        "rmp-serde (baseline)",
        raw_mp.clone(),
        rmp_serde::to_vec_named(black_box(v)).unwrap(),
        |b: &Vec<u8>| rmp_serde::from_slice::<T>(b).unwrap()
    );
    #[cfg(feature = "bincode")]
    {
        let bc = polycodec::codec::Bincode::new();
        let bc_bytes = bc.to_vec(v).unwrap();
        pair!(
            "bincode-typed",
            bc_bytes,
            bc.to_vec(black_box(v)).unwrap(),
            |b: &Vec<u8>| bc.from_slice::<T>(b).unwrap()
        );
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    sizes();
    group(c, "small", &common::small());
    group(c, "medium", &common::medium());
    group(c, "large", &common::large());
    group(c, "blob", &common::blob());
}

criterion_group!(codecs, benches);
criterion_main!(codecs);
