//! Equality of [`Value`]s: `Object.is` for numbers, references transparent, cycles
//! compared coinductively. See the module docs of [`crate::value`].

use super::{Object, Value};
use std::collections::HashSet;

/// `Object.is` on numbers: NaN equals NaN, -0 differs from +0.
pub(crate) fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() {
        b.is_nan()
    } else {
        a.to_bits() == b.to_bits()
    }
}

#[derive(Default)]
struct EqCtx {
    /// Pairs of shared nodes already being (or found) equal: the coinductive assumption
    /// that makes cycles terminate and keeps shared DAGs linear.
    assumed: HashSet<(usize, usize)>,
}

impl EqCtx {
    fn eq(&mut self, a: &Value, b: &Value) -> bool {
        use Value::*;
        match (a, b) {
            (Ref(x), Ref(y)) => {
                if x.ptr_eq(y) || !self.assumed.insert((x.addr(), y.addr())) {
                    return true;
                }
                match (x.resolve(), y.resolve()) {
                    (Some(p), Some(q)) => self.eq(&p, &q),
                    (p, q) => p.is_none() && q.is_none(),
                }
            }
            (Ref(x), other) | (other, Ref(x)) => match x.resolve() {
                Some(p) => self.eq(&p, other),
                None => false,
            },
            (Undefined, Undefined) | (Null, Null) => true,
            (Bool(x), Bool(y)) => x == y,
            (Number(x), Number(y)) => same_value(*x, *y),
            (BigInt(x), BigInt(y)) => x == y,
            (String(x), String(y)) => x == y,
            (Bytes(x), Bytes(y)) => x == y,
            (TypedArray(x), TypedArray(y)) => {
                x.kind == y.kind
                    && x.elements.len() == y.elements.len()
                    && x.elements
                        .iter()
                        .zip(&y.elements)
                        .all(|(p, q)| same_value(*p, *q))
            }
            (Array(x), Array(y)) | (Set(x), Set(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| self.eq(p, q))
            }
            (Object(x), Object(y)) => self.objects(x, y),
            (Map(x), Map(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((k1, v1), (k2, v2))| self.eq(k1, k2) && self.eq(v1, v2))
            }
            (Date(x), Date(y)) => x == y,
            (RegExp(x), RegExp(y)) => x == y,
            (Url(x), Url(y)) => x == y,
            (Error(x), Error(y)) => {
                x.name == y.name
                    && x.message == y.message
                    && x.stack == y.stack
                    && match (&x.cause, &y.cause) {
                        (Some(p), Some(q)) => self.eq(p, q),
                        (None, None) => true,
                        _ => false,
                    }
                    && self.objects(&x.props, &y.props)
            }
            (Annotated(x), Annotated(y)) => {
                x.kind == y.kind && x.id == y.id && self.eq(&x.value, &y.value)
            }
            (Ext { ty: t1, data: d1 }, Ext { ty: t2, data: d2 }) => t1 == t2 && d1 == d2,
            _ => false,
        }
    }

    /// Same keys with equal values; key order is not compared (like `serde_json::Map`).
    fn objects(&mut self, x: &Object, y: &Object) -> bool {
        x.len() == y.len()
            && x.iter()
                .all(|(k, v)| y.get(k).is_some_and(|w| self.eq(v, w)))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        EqCtx::default().eq(self, other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ref as R;

    #[test]
    fn numbers_compare_like_object_is() {
        assert_eq!(Value::Number(f64::NAN), Value::Number(f64::NAN));
        assert_ne!(Value::Number(0.0), Value::Number(-0.0));
        assert_eq!(Value::Number(1.5), Value::Number(1.5));
    }

    #[test]
    fn refs_are_transparent() {
        let inner = Value::from(vec![Value::from(1), Value::from("x")]);
        let shared = R::new(inner.clone());
        assert_eq!(Value::Ref(shared.clone()), inner);
        let a = Value::Array(vec![Value::Ref(shared.clone()), Value::Ref(shared)]);
        let b = Value::Array(vec![inner.clone(), inner]);
        assert_eq!(a, b);
    }

    #[test]
    fn cycles_terminate() {
        let node = R::pending();
        let mut o = Object::new();
        o.insert("self", Value::Ref(node.downgrade()));
        node.fill(Value::Object(o));
        let a = Value::Ref(node.clone());
        assert_eq!(a, a.clone());
    }

    #[test]
    fn object_key_order_is_not_compared() {
        let a: Object = [("a", Value::Null), ("b", Value::Bool(true))]
            .into_iter()
            .collect();
        let b: Object = [("b", Value::Bool(true)), ("a", Value::Null)]
            .into_iter()
            .collect();
        assert_eq!(Value::Object(a), Value::Object(b));
    }
}
