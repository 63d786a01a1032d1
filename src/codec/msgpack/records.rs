//! msgpackr's records: an object's keys sent once per message (`d4 72 <id>` + the key array),
//! later objects of the same shape as the one-byte id followed by their values.
//!
//! Ids are 0x40–0x7f and restart with every message. Writing, a new shape takes the next id
//! in order, and after 64 shapes ids are given again from 0x40, each replacing its oldest
//! shape (what msgpackr's writer does). Reading, a byte 0x40–0x7f is a record when its id was
//! defined earlier in the message, and the integer it is otherwise.

use std::cell::Cell;
use std::rc::Rc;

/// The first record id.
pub(crate) const FIRST_ID: u8 = 0x40;
/// How many ids there are.
const IDS: usize = 64;

/// A hash of a key sequence (FNV-1a, with a separator between keys).
pub(crate) fn hash_keys<'k>(keys: impl Iterator<Item = &'k str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for k in keys {
        for &b in k.as_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// One defined shape.
struct Slot {
    hash: u64,
    /// Counts the shapes this id has stood for in the message.
    generation: u32,
    keys: Vec<Box<str>>,
    /// Where its definition starts in the output (to keep an id whose definition lies
    /// inside an object being finished from being given again to that object).
    def_at: usize,
}

/// The record shapes a writer has defined in this message.
#[derive(Default)]
pub(crate) struct Shapes {
    slots: Vec<Slot>,
    /// The slot the next shape replaces, once all 64 are taken.
    cursor: usize,
}

impl Shapes {
    /// The id of the shape with these keys, if one is defined before `before` (a reader
    /// at that place knows it).
    #[inline]
    pub(crate) fn find<'k>(
        &self,
        hash: u64,
        keys: impl Iterator<Item = &'k str> + Clone,
        before: usize,
    ) -> Option<u8> {
        self.slots
            .iter()
            .position(|s| {
                s.hash == hash && s.def_at < before && s.keys.iter().map(|k| &**k).eq(keys.clone())
            })
            .map(|i| FIRST_ID + i as u8)
    }

    /// The id a new shape whose object starts at `at` gets: the next in order, or once all
    /// are taken the oldest whose definition is not inside that object (an object written
    /// before its keys are known, by the typed writer, may hold definitions of its own).
    /// `None` when every definition is inside it.
    pub(crate) fn next_id(&self, at: usize) -> Option<u8> {
        if self.slots.len() < IDS {
            return Some(FIRST_ID + self.slots.len() as u8);
        }
        (0..IDS)
            .map(|i| (self.cursor + i) % IDS)
            .find(|&i| self.slots[i].def_at < at)
            .map(|i| FIRST_ID + i as u8)
    }

    /// How many times `id` was given a new shape, if it has one.
    #[inline]
    pub(crate) fn generation(&self, id: u8) -> Option<u32> {
        self.slots
            .get(usize::from(id.wrapping_sub(FIRST_ID)))
            .map(|s| s.generation)
    }

    /// Whether `id`'s definition starts before `at` (a reader there knows it).
    #[inline]
    pub(crate) fn defined_before(&self, id: u8, at: usize) -> bool {
        self.slots
            .get(usize::from(id.wrapping_sub(FIRST_ID)))
            .is_some_and(|s| s.def_at < at)
    }

    /// Record that `id` now stands for these keys, defined at `at`.
    pub(crate) fn define<'k>(
        &mut self,
        id: u8,
        hash: u64,
        keys: impl Iterator<Item = &'k str>,
        at: usize,
    ) {
        let i = usize::from(id - FIRST_ID);
        let slot = Slot {
            hash,
            generation: self.slots.get(i).map_or(0, |s| s.generation + 1),
            keys: keys.map(Box::from).collect(),
            def_at: at,
        };
        if i == self.slots.len() {
            self.slots.push(slot);
        } else {
            self.slots[i] = slot;
        }
        if self.slots.len() == IDS {
            self.cursor = (i + 1) % IDS;
        }
    }
}

/// The keys of a record, shared by its instances, and whether they are all different
/// (told once per definition, the first time a `Value` is built of it, so that each
/// instance's object is built without checking; the typed path never asks).
#[derive(Clone)]
pub(crate) struct Keys(Rc<KeysInner>);

struct KeysInner {
    names: Box<[Box<str>]>,
    unique: Cell<Option<bool>>,
}

impl Keys {
    /// The keys of a record definition, in order.
    pub(crate) fn new(names: Vec<Box<str>>) -> Keys {
        Keys(Rc::new(KeysInner {
            names: names.into_boxed_slice(),
            unique: Cell::new(None),
        }))
    }

    /// Whether no key repeats (msgpackr never writes a repeat; a hand-made message may).
    pub(crate) fn unique(&self) -> bool {
        if let Some(u) = self.0.unique.get() {
            return u;
        }
        let names = &self.0.names;
        let u = if names.len() <= 16 {
            names
                .iter()
                .enumerate()
                .all(|(i, k)| !names[..i].contains(k))
        } else {
            let mut sorted: Vec<&str> = names.iter().map(|k| &**k).collect();
            sorted.sort_unstable();
            !sorted.windows(2).any(|w| w[0] == w[1])
        };
        self.0.unique.set(Some(u));
        u
    }
}

impl std::ops::Deref for Keys {
    type Target = [Box<str>];
    #[inline]
    fn deref(&self) -> &[Box<str>] {
        &self.0.names
    }
}

/// The records a reader has seen defined in this message.
#[derive(Default)]
pub(crate) struct Records {
    table: Vec<Option<Keys>>,
    /// Ids read as plain integers so far (bit `id - 0x40`), with the offset of the first.
    bare: u64,
    pub(crate) first_bare_at: Option<usize>,
}

impl Records {
    /// The keys of record `id` (0x40–0x7f), if it is defined.
    #[inline]
    pub(crate) fn get(&self, id: u8) -> Option<&Keys> {
        self.table
            .get(usize::from(id.wrapping_sub(FIRST_ID)))?
            .as_ref()
    }

    /// Note that `id` was read as an integer at `at` (no record of that id yet).
    #[inline]
    pub(crate) fn bare(&mut self, id: u8, at: usize) {
        self.bare |= 1 << (id - FIRST_ID);
        self.first_bare_at.get_or_insert(at);
    }

    /// Define `id` (0x40–0x7f). `false` when the id was read as an integer earlier in the
    /// message (a record used before its definition).
    pub(crate) fn define(&mut self, id: u8, keys: Keys) -> bool {
        let i = usize::from(id - FIRST_ID);
        if self.bare & (1 << i) != 0 {
            return false;
        }
        if self.table.len() <= i {
            self.table.resize(i + 1, None);
        }
        self.table[i] = Some(keys);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_given_in_order_and_again_from_the_oldest() {
        let mut s = Shapes::default();
        for n in 0..64usize {
            let key = n.to_string();
            let h = hash_keys([key.as_str()].into_iter());
            let id = s.next_id(n).unwrap();
            assert_eq!(id, 0x40 + n as u8);
            s.define(id, h, [key.as_str()].into_iter(), n);
        }
        assert_eq!(s.next_id(100), Some(0x40));
        s.define(0x40, 1, ["x"].into_iter(), 100);
        assert_eq!(s.next_id(101), Some(0x41));
        // An object that started before every definition gets none.
        assert_eq!(s.next_id(0), None);
        assert_eq!(s.find(1, ["x"].into_iter(), 101), Some(0x40));
        assert_eq!(s.find(1, ["x"].into_iter(), 100), None);
    }
}
