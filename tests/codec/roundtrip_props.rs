//! Property tests: for every codec, decoding what it encoded gives back the same `Value`
//! (within what the codec can hold: plain JSON is tested on JSON values).

use polycodec::codec::{Codec, Json, MsgPack, Registry, SuperJson};
use polycodec::value::{TypedArray, TypedArrayKind};
use polycodec::{Date, JsError, Object, RegExp, Value};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,6}",
        "[a-z.\\\\]{1,4}",
        "(0|[1-9][0-9]{0,3})",
        "\\PC{0,5}",
    ]
    .prop_filter("superjson refuses these keys", |k| {
        !matches!(k.as_str(), "__proto__" | "constructor" | "prototype")
    })
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<i32>().prop_map(f64::from),
        any::<f64>(),
        Just(f64::NAN),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(1e21),
        Just(5e-324),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| Value::Number(n.into())),
        any::<f64>()
            .prop_filter("JSON numbers are finite, -0 reads as 0", |n| n.is_finite()
                && *n != 0.0)
            .prop_map(Value::Number),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn js_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_leaf(),
        Just(Value::Undefined),
        number().prop_map(Value::Number),
        any::<i128>().prop_map(|n| Value::BigInt(n.into())),
        (-8.64e15f64..8.64e15).prop_map(|ms| Value::Date(Date::from_millis(ms))),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
        (0usize..8, prop::collection::vec(any::<i16>(), 0..5)).prop_map(|(k, xs)| {
            Value::from(TypedArray::new(
                TypedArrayKind::ALL[k],
                xs.into_iter().map(f64::from),
            ))
        }),
        ("[a-z]{0,5}", "g?i?m?s?u?y?")
            .prop_map(|(src, flags)| Value::from(RegExp::new(&src, &flags).unwrap())),
        prop::sample::select(vec![
            "https://example.com/",
            "https://user:pw@example.com:8080/p/a?q=1#h",
            "http://a.test/%C3%A9",
        ])
        .prop_map(|u| Value::Url(u.to_owned())),
    ]
}

fn tree(leaf: BoxedStrategy<Value>, rich: bool) -> impl Strategy<Value = Value> {
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let base = prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner.clone()), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Object>())),
        ];
        if !rich {
            return base.boxed();
        }
        prop_oneof![
            4 => base,
            1 => prop::collection::btree_map(key(), inner.clone(), 0..4).prop_map(|m| {
                Value::Map(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
            }),
            1 => prop::collection::btree_set("[a-z]{0,4}", 0..4)
                .prop_map(|s| Value::Set(s.into_iter().map(Value::String).collect())),
            1 => ("[A-Za-z]{1,8}", "\\PC{0,8}", prop::option::of(inner.clone()), prop::collection::vec(("[a-z]{1,5}", inner), 0..3))
                .prop_map(|(name, msg, cause, props)| {
                    let mut e = JsError::new(name, msg);
                    e.cause = cause;
                    for (k, v) in props {
                        if !matches!(k.as_str(), "name" | "message" | "stack" | "cause") {
                            e.props.insert(k, v);
                        }
                    }
                    Value::from(e)
                }),
        ]
        .boxed()
    })
}

fn round_trip(codec: &dyn Codec, v: &Value) -> Result<(), TestCaseError> {
    let bytes = codec
        .encode_value(v)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back = codec
        .decode_value(&bytes)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
    prop_assert_eq!(&back, v, "{}", String::from_utf8_lossy(&bytes));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_round_trips_json_values(v in tree(json_leaf().boxed(), false)) {
        round_trip(&Json::new(), &v)?;
    }

    #[test]
    fn superjson_round_trips_every_kind(v in tree(js_leaf().boxed(), true)) {
        round_trip(&SuperJson::new(), &v)?;
    }

    #[test]
    fn msgpack_round_trips_every_kind(v in tree(js_leaf().boxed(), true)) {
        round_trip(&MsgPack::new(), &v)?;
    }

    #[test]
    fn every_registered_codec_round_trips_json_values(v in tree(json_leaf().boxed(), false)) {
        for codec in Registry::with_builtins().iter() {
            round_trip(codec.as_ref(), &v)?;
        }
    }

    #[test]
    fn superjson_decode_is_stable_after_one_round(v in tree(js_leaf().boxed(), true)) {
        // decode → encode → decode gives the same value and the same bytes.
        let sj = SuperJson::new();
        let a = sj.encode_value(&v).unwrap();
        let b = sj.encode_value(&sj.decode_value(&a).unwrap()).unwrap();
        prop_assert_eq!(a, b);
    }
}

#[cfg(feature = "bincode")]
mod bincode_props {
    use super::*;
    use polycodec::codec::Bincode;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn bincode_round_trips_every_kind(v in tree(js_leaf().boxed(), true)) {
            round_trip(&Bincode::new(), &v)?;
        }
    }
}
