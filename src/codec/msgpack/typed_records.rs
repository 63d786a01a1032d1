//! Records from the typed path (msgpackr profile): a struct's or a string-keyed map's keys
//! are known only once its values are written, so the values go out first and the record's
//! id, or its definition, is put in front of them at the end. Fields and entries are noted
//! on two stacks shared by the nesting levels.

use super::records::{hash_keys, FIRST_ID};
use super::write::{header_bytes, Writer};

/// Where a record's keys and value offsets start on the stacks, and the record in the output.
pub(crate) struct Pending {
    start: usize,
    keys_base: usize,
    offs_base: usize,
    map: bool,
}

/// The stacks of the records being written.
#[derive(Default)]
pub(crate) struct RecStack {
    /// Struct field names.
    keys: Vec<&'static str>,
    /// Struct: where each value starts. Map: where each key starts, then its value.
    offs: Vec<usize>,
    /// Struct shapes met lately, by the addresses of their field names (`&'static str`s of
    /// the `Serialize` impl): the id they got and that id's generation, so that a struct
    /// met again skips hashing and comparing its keys. Most recent first.
    recent: Vec<Recent>,
}

/// A struct shape met lately (see [`RecStack::recent`]).
struct Recent {
    keys: Vec<(usize, usize)>,
    id: u8,
    generation: u32,
}

/// How many struct shapes [`RecStack::recent`] keeps.
const RECENT: usize = 8;

fn same_names(a: &[(usize, usize)], b: &[&'static str]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(&(p, n), k)| p == k.as_ptr() as usize && n == k.len())
}

impl Writer {
    /// Begin a struct (`map` false: a one-byte place for its id) or a map.
    #[inline]
    pub(crate) fn start_record(&mut self, map: bool) -> Pending {
        let p = Pending {
            start: self.out.len(),
            keys_base: self.rec.keys.len(),
            offs_base: self.rec.offs.len(),
            map,
        };
        if !map {
            self.out.push(0xc1);
        }
        p
    }

    /// A struct field named `key` whose value comes next.
    #[inline]
    pub(crate) fn record_field(&mut self, key: &'static str) {
        self.rec.keys.push(key);
        self.rec.offs.push(self.out.len());
    }

    /// A map key comes next.
    #[inline]
    pub(crate) fn record_key_at(&mut self) {
        self.rec.offs.push(self.out.len());
    }

    /// A map value comes next.
    #[inline]
    pub(crate) fn record_value_at(&mut self) {
        self.rec.offs.push(self.out.len());
    }

    /// An object with the single key `key` (an enum variant) whose value comes next.
    pub(crate) fn single_key(&mut self, key: &str) {
        if !self.msgpackr {
            self.map_header(1);
            self.str(key);
            return;
        }
        let at = self.out.len();
        let hash = hash_keys(std::iter::once(key));
        match self.shapes.find(hash, std::iter::once(key), at) {
            Some(id) => self.out.push(id),
            None => {
                let id = self.shapes.next_id(at).unwrap_or(FIRST_ID);
                self.shapes.define(id, hash, std::iter::once(key), at);
                self.out.extend_from_slice(&[0xd4, 0x72, id, 0x91]);
                self.str(key);
            }
        }
    }

    /// End a record begun by [`Writer::start_record`].
    pub(crate) fn end_record(&mut self, p: Pending) {
        if p.map {
            self.end_map_record(&p);
        } else {
            let keys = &self.rec.keys[p.keys_base..];
            // The same field names as a struct met lately, whose id still means them and
            // was defined before this struct began: just the id.
            let hit = self.rec.recent.iter().position(|r| {
                same_names(&r.keys, keys)
                    && self.shapes.generation(r.id) == Some(r.generation)
                    && self.shapes.defined_before(r.id, p.start)
            });
            if let Some(i) = hit {
                self.out[p.start] = self.rec.recent[i].id;
                if i > 0 {
                    let r = self.rec.recent.remove(i);
                    self.rec.recent.insert(0, r);
                }
            } else {
                let keys: Vec<&'static str> = keys.to_vec();
                let offs: Vec<usize> = self.rec.offs[p.offs_base..].to_vec();
                let ranges = value_ranges(&offs, self.out.len());
                let id = self.place_record(p.start, p.start + 1, &keys, &ranges);
                if let Some((id, generation)) =
                    id.and_then(|id| Some((id, self.shapes.generation(id)?)))
                {
                    self.rec.recent.truncate(RECENT - 1);
                    let keys = keys.iter().map(|k| (k.as_ptr() as usize, k.len()));
                    self.rec.recent.insert(
                        0,
                        Recent {
                            keys: keys.collect(),
                            id,
                            generation,
                        },
                    );
                }
            }
        }
        self.rec.keys.truncate(p.keys_base);
        self.rec.offs.truncate(p.offs_base);
    }

    fn end_map_record(&mut self, p: &Pending) {
        let offs = &self.rec.offs[p.offs_base..];
        let mut keys = Vec::with_capacity(offs.len() / 2);
        let mut values = Vec::with_capacity(offs.len() / 2);
        for (i, pair) in offs.chunks(2).enumerate() {
            let (k, v) = (pair[0], pair.get(1).copied().unwrap_or(self.out.len()));
            let end = offs.get(2 * i + 2).copied().unwrap_or(self.out.len());
            match str_at(&self.out[k..v]) {
                Some(s) => keys.push(s.to_owned()),
                None => {
                    // A key that is no string: a JS Map, written as a plain map.
                    let n = offs.len() / 2;
                    self.out.splice(p.start..p.start, header_bytes(n, true));
                    return;
                }
            }
            values.push(v..end);
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let values: Vec<_> = values
            .into_iter()
            .map(|r| r.start - p.start..r.end - p.start)
            .collect();
        let body = self.out.split_off(p.start);
        let mut region = Vec::with_capacity(body.len());
        let start = p.start;
        self.record_header(start, &keys, &mut region, || {
            // No id is free: the keys stay in the body, as a plain map.
            let mut plain = header_bytes(keys.len(), true);
            plain.extend_from_slice(&body);
            plain
        });
        if region.first().is_some_and(|&b| is_map_header(b)) {
            self.out.extend_from_slice(&region);
            return;
        }
        for r in values {
            region.extend_from_slice(&body[r]);
        }
        self.out.extend_from_slice(&region);
    }

    /// Put the id or definition of the record with these `keys` in place of
    /// `out[start..hole]`, its values at `ranges` (each value `out[range]`). The id, or
    /// `None` when the object became a plain map.
    fn place_record(
        &mut self,
        start: usize,
        hole: usize,
        keys: &[&str],
        ranges: &[std::ops::Range<usize>],
    ) -> Option<u8> {
        let mut head = Vec::new();
        let mut plain = None;
        self.record_header(start, keys, &mut head, || {
            plain = Some(());
            Vec::new()
        });
        if plain.is_none() {
            // The id alone, or `d4 72 <id>` and the keys.
            let id = if head.len() == 1 { head[0] } else { head[2] };
            if head.len() == 1 {
                self.out[start] = id;
            } else {
                self.out.splice(start..hole, head);
            }
            return Some(id);
        }
        // No id is free: a plain map with the keys put back in front of the values.
        let mut region = header_bytes(keys.len(), true);
        for (k, r) in keys.iter().zip(ranges) {
            write_str(&mut region, k);
            region.extend_from_slice(&self.out[r.clone()]);
        }
        self.out.truncate(start);
        self.out.extend_from_slice(&region);
        None
    }

    /// Into `head`: the id of the shape of `keys` (one byte) or its definition; or, when no
    /// id can be given to an object that starts at `start`, what `plain` makes.
    fn record_header(
        &mut self,
        start: usize,
        keys: &[&str],
        head: &mut Vec<u8>,
        plain: impl FnOnce() -> Vec<u8>,
    ) {
        let hash = hash_keys(keys.iter().copied());
        if let Some(id) = self.shapes.find(hash, keys.iter().copied(), start) {
            head.push(id);
            return;
        }
        let Some(id) = self.shapes.next_id(start) else {
            *head = plain();
            return;
        };
        self.shapes.define(id, hash, keys.iter().copied(), start);
        head.extend_from_slice(&[0xd4, 0x72, id]);
        head.extend_from_slice(&header_bytes(keys.len(), false));
        for k in keys {
            write_str(head, k);
        }
    }
}

fn is_map_header(b: u8) -> bool {
    matches!(b, 0x80..=0x8f | 0xde | 0xdf)
}

/// Each value's bytes, from where each starts.
fn value_ranges(offs: &[usize], end: usize) -> Vec<std::ops::Range<usize>> {
    offs.iter()
        .enumerate()
        .map(|(i, &s)| s..offs.get(i + 1).copied().unwrap_or(end))
        .collect()
}

/// The string a MessagePack str at the start of `b` holds, if `b` is exactly one.
fn str_at(b: &[u8]) -> Option<&str> {
    let (&m, rest) = b.split_first()?;
    let (n, data) = match m {
        0xa0..=0xbf => (usize::from(m & 0x1f), rest),
        0xd9 => (usize::from(*rest.first()?), rest.get(1..)?),
        0xda => (
            usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
            rest.get(2..)?,
        ),
        0xdb => (
            u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize,
            rest.get(4..)?,
        ),
        _ => return None,
    };
    if data.len() != n {
        return None;
    }
    std::str::from_utf8(data).ok()
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n < 0x1_0000 {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}
