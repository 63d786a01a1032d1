//! What crosses the bus between nodes, in polycodec's own MessagePack (every [`Value`] kind
//! kept), versioned by a leading `1`:
//!
//! ```text
//! push:      [1, 0, node, inc, seq, kind, target, except, method, args, delivered_here]
//!            kind 0 room (target: room) | 1 user (target: user) | 2 all (target: nil)
//! heartbeat: [1, 10, node, inc, version]
//! delta:     [1, 11, node, inc, from, to, [[op, conn, user|room|nil], …]]
//!            op 0 connect (user or nil) | 1 disconnect | 2 join (room) | 3 leave (room)
//! leave:     [1, 12, node, inc]
//! ```
//!
//! A recoverable room's pushes travel as `o<epoch>:<offset>:` followed by the push (the
//! Lua script that gives them their offset writes that prefix).

use crate::codec::{Codec, MsgPack};
use crate::{Limits, Value};

/// A node's incarnation: its id and when this run of it started (µs since the Unix epoch):
/// a restarted node with the same id has a larger `inc`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Origin {
    pub node: String,
    pub inc: u64,
}

/// Who a push is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Room(String),
    User(String),
    All,
}

/// A push as published.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Envelope {
    pub origin: Origin,
    /// Per origin, +1 per publish: receivers drop what they already had (replays).
    pub seq: u64,
    pub kind: Kind,
    /// A connection of the origin node left out.
    pub except: Option<u64>,
    pub method: String,
    pub args: Vec<Value>,
    /// The origin delivered it to its own members already (sent while Redis was down).
    pub delivered_here: bool,
}

/// A presence change of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Connect { conn: u64, user: Option<String> },
    Disconnect { conn: u64 },
    Join { conn: u64, room: String },
    Leave { conn: u64, room: String },
}

/// A control message on the `ctl` channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ctl {
    Heartbeat {
        origin: Origin,
        version: u64,
    },
    Delta {
        origin: Origin,
        from: u64,
        to: u64,
        ops: Vec<Op>,
    },
    Leave {
        origin: Origin,
    },
}

/// What a message on the bus turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Message {
    Push(Envelope),
    Ctl(Ctl),
}

fn n(x: u64) -> Value {
    Value::from(x)
}

fn s(x: &str) -> Value {
    Value::from(x)
}

fn opt(x: Option<&str>) -> Value {
    x.map_or(Value::Null, Value::from)
}

/// A whole non-negative number (a number or a bigint).
fn num(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(f) if *f >= 0.0 && f.fract() == 0.0 && *f <= u64::MAX as f64 => Ok(*f as u64),
        Value::BigInt(b) => u64::try_from(b).map_err(|_| format!("{b} is out of range")),
        other => Err(format!("expected a count, found {}", other.kind_name())),
    }
}

fn text(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, found {}", v.kind_name()))
}

fn opt_text(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null | Value::Undefined => Ok(None),
        v => text(v).map(Some),
    }
}

fn encode(items: Vec<Value>) -> Vec<u8> {
    // Every Value encodes in MessagePack (references are written in full, within limits).
    MsgPack::new()
        .with_limits(Limits::unlimited())
        .encode_value(&Value::Array(items))
        .unwrap_or_default()
}

impl Origin {
    fn values(&self) -> [Value; 2] {
        [s(&self.node), n(self.inc)]
    }
}

impl Envelope {
    /// The MessagePack bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, target) = match &self.kind {
            Kind::Room(r) => (0, s(r)),
            Kind::User(u) => (1, s(u)),
            Kind::All => (2, Value::Null),
        };
        let [node, inc] = self.origin.values();
        encode(vec![
            n(1),
            n(0),
            node,
            inc,
            n(self.seq),
            n(kind),
            target,
            self.except.map_or(Value::Null, n),
            s(&self.method),
            Value::Array(self.args.clone()),
            Value::Bool(self.delivered_here),
        ])
    }
}

impl Ctl {
    /// The MessagePack bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Ctl::Heartbeat { origin, version } => {
                let [node, inc] = origin.values();
                encode(vec![n(1), n(10), node, inc, n(*version)])
            }
            Ctl::Delta {
                origin,
                from,
                to,
                ops,
            } => {
                let [node, inc] = origin.values();
                let ops = ops.iter().map(op_value).collect();
                encode(vec![
                    n(1),
                    n(11),
                    node,
                    inc,
                    n(*from),
                    n(*to),
                    Value::Array(ops),
                ])
            }
            Ctl::Leave { origin } => {
                let [node, inc] = origin.values();
                encode(vec![n(1), n(12), node, inc])
            }
        }
    }
}

fn op_value(op: &Op) -> Value {
    let (code, conn, arg) = match op {
        Op::Connect { conn, user } => (0, conn, opt(user.as_deref())),
        Op::Disconnect { conn } => (1, conn, Value::Null),
        Op::Join { conn, room } => (2, conn, s(room)),
        Op::Leave { conn, room } => (3, conn, s(room)),
    };
    Value::Array(vec![n(code), n(*conn), arg])
}

fn op_from(v: &Value) -> Result<Op, String> {
    let a = v.as_array().filter(|a| a.len() == 3).ok_or("a bad op")?;
    let conn = num(&a[1])?;
    Ok(match num(&a[0])? {
        0 => Op::Connect {
            conn,
            user: opt_text(&a[2])?,
        },
        1 => Op::Disconnect { conn },
        2 => Op::Join {
            conn,
            room: text(&a[2])?,
        },
        3 => Op::Leave {
            conn,
            room: text(&a[2])?,
        },
        k => return Err(format!("unknown op {k}")),
    })
}

/// Read a message, within `limits` (a faulty node cannot send a bomb).
pub(crate) fn decode(bytes: &[u8], limits: Limits) -> Result<Message, String> {
    let v = MsgPack::new()
        .with_limits(limits)
        .decode_value(bytes)
        .map_err(|e| e.to_string())?;
    let Value::Array(a) = v else {
        return Err("not an array".into());
    };
    if a.len() < 4 || num(&a[0])? != 1 {
        return Err("not a version 1 message".into());
    }
    let origin = Origin {
        node: text(&a[2])?,
        inc: num(&a[3])?,
    };
    let want = |len: usize| {
        if a.len() == len {
            Ok(())
        } else {
            Err(format!("{} fields, expected {len}", a.len()))
        }
    };
    match num(&a[1])? {
        0 => {
            want(11)?;
            let mut a = a;
            let args = match std::mem::take(&mut a[9]) {
                Value::Array(args) => args,
                _ => return Err("arguments are not an array".into()),
            };
            let kind = match num(&a[5])? {
                0 => Kind::Room(text(&a[6])?),
                1 => Kind::User(text(&a[6])?),
                2 => Kind::All,
                k => return Err(format!("unknown target kind {k}")),
            };
            let except = match &a[7] {
                Value::Null => None,
                v => Some(num(v)?),
            };
            Ok(Message::Push(Envelope {
                origin,
                seq: num(&a[4])?,
                kind,
                except,
                method: text(&a[8])?,
                args,
                delivered_here: a[10].as_bool().unwrap_or(false),
            }))
        }
        10 => {
            want(5)?;
            Ok(Message::Ctl(Ctl::Heartbeat {
                origin,
                version: num(&a[4])?,
            }))
        }
        11 => {
            want(7)?;
            let ops = a[6]
                .as_array()
                .ok_or("ops are not an array")?
                .iter()
                .map(op_from)
                .collect::<Result<_, _>>()?;
            Ok(Message::Ctl(Ctl::Delta {
                origin,
                from: num(&a[4])?,
                to: num(&a[5])?,
                ops,
            }))
        }
        12 => Ok(Message::Ctl(Ctl::Leave { origin })),
        k => Err(format!("unknown message kind {k}")),
    }
}

/// Per origin incarnation, the highest push sequence delivered: what the outbox sends
/// again after a failed session (Redis may have taken part of it) is delivered once.
#[derive(Default)]
pub(crate) struct Seen(std::collections::HashMap<Origin, u64>);

impl Seen {
    /// True the first time `seq` (or a later one) of `origin` is seen.
    pub fn fresh(&mut self, origin: &Origin, seq: u64) -> bool {
        match self.0.get_mut(origin) {
            Some(last) if seq <= *last => false,
            Some(last) => {
                *last = seq;
                true
            }
            None => {
                // A newer incarnation: the older ones of that node send nothing more.
                self.0
                    .retain(|o, _| o.node != origin.node || o.inc > origin.inc);
                self.0.insert(origin.clone(), seq);
                true
            }
        }
    }

    /// `node` was evicted (silent too long): forget every incarnation of it.
    pub fn forget_node(&mut self, node: &str) {
        self.0.retain(|o, _| o.node != node);
    }

    /// How many incarnations are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `origin` left: forget it.
    pub fn forget(&mut self, origin: &Origin) {
        self.0.remove(origin);
    }
}

/// A recoverable room's message: `o<epoch>:<offset>:<push>`.
pub(crate) fn split_ordered(bytes: &[u8]) -> Option<(&str, u64, &[u8])> {
    let rest = bytes.strip_prefix(b"o")?;
    let c1 = rest.iter().position(|b| *b == b':')?;
    let epoch = std::str::from_utf8(&rest[..c1]).ok()?;
    let rest = &rest[c1 + 1..];
    let c2 = rest.iter().position(|b| *b == b':')?;
    let offset = std::str::from_utf8(&rest[..c2]).ok()?.parse().ok()?;
    Some((epoch, offset, &rest[c2 + 1..]))
}

/// One value in MessagePack (a history entry).
pub(crate) fn encode_value(v: &Value) -> Vec<u8> {
    MsgPack::new()
        .with_limits(Limits::unlimited())
        .encode_value(v)
        .unwrap_or_default()
}

/// Read [`encode_value`]'s bytes.
pub(crate) fn decode_value(bytes: &[u8], limits: Limits) -> Result<Value, String> {
    MsgPack::new()
        .with_limits(limits)
        .decode_value(bytes)
        .map_err(|e| e.to_string())
}

/// One connection's entry in a presence snapshot: `[user|nil, [rooms]]`.
pub(crate) fn encode_conn(user: Option<&str>, rooms: &[&str]) -> Vec<u8> {
    encode(vec![
        opt(user),
        Value::Array(rooms.iter().map(|r| s(r)).collect()),
    ])
}

/// Read [`encode_conn`]'s bytes.
pub(crate) fn decode_conn(
    bytes: &[u8],
    limits: Limits,
) -> Result<(Option<String>, Vec<String>), String> {
    let v = MsgPack::new()
        .with_limits(limits)
        .decode_value(bytes)
        .map_err(|e| e.to_string())?;
    let a = v.as_array().filter(|a| a.len() == 2).ok_or("a bad entry")?;
    let rooms = a[1]
        .as_array()
        .ok_or("rooms are not an array")?
        .iter()
        .map(text)
        .collect::<Result<_, _>>()?;
    Ok((opt_text(&a[0])?, rooms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            node: "n1".into(),
            inc: 1_700_000_000_000_000,
        }
    }

    #[test]
    fn every_message_reads_back_as_written() {
        let mut m = crate::Object::new();
        m.insert("at", Value::Date(crate::Date::from_millis(5.0)));
        m.insert("big", Value::from(u128::MAX));
        let push = Envelope {
            origin: origin(),
            seq: 7,
            kind: Kind::Room("lobby".into()),
            except: Some(3),
            method: "message".into(),
            args: vec![Value::Object(m), Value::Undefined],
            delivered_here: true,
        };
        let back = decode(&push.encode(), Limits::default()).unwrap();
        assert_eq!(back, Message::Push(push));
        let ctl = [
            Ctl::Heartbeat {
                origin: origin(),
                version: 4,
            },
            Ctl::Delta {
                origin: origin(),
                from: 1,
                to: 2,
                ops: vec![
                    Op::Connect {
                        conn: 1,
                        user: Some("ann".into()),
                    },
                    Op::Connect {
                        conn: 2,
                        user: None,
                    },
                    Op::Join {
                        conn: 1,
                        room: "r".into(),
                    },
                    Op::Leave {
                        conn: 1,
                        room: "r".into(),
                    },
                    Op::Disconnect { conn: 2 },
                ],
            },
            Ctl::Leave { origin: origin() },
        ];
        for c in ctl {
            assert_eq!(
                decode(&c.encode(), Limits::default()).unwrap(),
                Message::Ctl(c)
            );
        }
        let conn = encode_conn(Some("ann"), &["a", "b"]);
        let back = decode_conn(&conn, Limits::default()).unwrap();
        assert_eq!(back, (Some("ann".into()), vec!["a".into(), "b".into()]));
    }

    #[test]
    fn seen_keeps_no_entry_for_dead_incarnations() {
        let mut seen = Seen::default();
        for inc in 1..=5 {
            let o = Origin {
                node: "n1".into(),
                inc,
            };
            assert!(seen.fresh(&o, 1));
            assert!(!seen.fresh(&o, 1));
        }
        let other = Origin {
            node: "n2".into(),
            inc: 1,
        };
        assert!(seen.fresh(&other, 1));
        assert_eq!(seen.len(), 2, "one per live node");
        seen.forget_node("n1");
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn garbage_and_other_versions_are_errors_not_panics() {
        for bytes in [
            &b""[..],
            b"\x90",
            b"\x94\x02\x00\xa1n\x01",
            b"\x95\x01\x00\xa1n\x01\x02",
            b"\xc1",
        ] {
            assert!(decode(bytes, Limits::default()).is_err(), "{bytes:?}");
        }
        let tiny = Limits::default().max_message_bytes(8);
        let push = Ctl::Heartbeat {
            origin: origin(),
            version: 1,
        };
        assert!(decode(&push.encode(), tiny).is_err());
        assert_eq!(
            split_ordered(b"oe1:12:rest"),
            Some(("e1", 12, &b"rest"[..]))
        );
        assert_eq!(split_ordered(b"\x9b"), None);
        assert_eq!(split_ordered(b"oe1:x:rest"), None);
    }
}
