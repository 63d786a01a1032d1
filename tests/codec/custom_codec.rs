//! A codec defined outside the crate (`examples/cbor_codec.rs`) registers and works through
//! the same API as the built-in ones.

#[path = "../../examples/cbor_codec.rs"]
mod cbor_codec;

#[test]
fn cbor_example_registers_transcodes_and_round_trips_typed_values() {
    let summary = cbor_codec::demo().unwrap();
    assert!(summary.contains("cbor"), "{summary}");
}

#[test]
fn cbor_round_trips_generated_values() {
    use polycodec::codec::Codec;
    use polycodec::{Date, Value};
    let v = Value::from(vec![
        Value::Undefined,
        Value::BigInt((-(1i128 << 80)).into()),
        Value::Date(Date::from_millis(-1.0)),
        Value::Set(vec![Value::from("x")]),
        Value::Map(vec![(Value::from(1), Value::Null)]),
    ]);
    let c = cbor_codec::CborCodec;
    assert_eq!(c.decode_value(&c.encode_value(&v).unwrap()).unwrap(), v);
}
