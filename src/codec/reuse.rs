//! Working memory kept per thread between calls. An encoder or decoder takes a buffer from
//! its thread-local slot (empty, with the capacity an earlier call left) and puts it back
//! cleared when done, so that small messages do not pay an allocation per buffer and large
//! ones are not faulted in afresh on every call. During the thread's teardown the slot may
//! be gone: then a new buffer is made, and nothing is kept.

use std::cell::Cell;
use std::thread::LocalKey;

/// The buffer kept in `slot` (as it was left: cleared by [`keep`]'s caller), or a new one.
#[inline]
pub(crate) fn take<T: Default>(slot: &'static LocalKey<Cell<T>>) -> T {
    slot.try_with(Cell::take).unwrap_or_default()
}

/// Keep `buf` (already cleared) in `slot` for this thread's next call.
#[inline]
pub(crate) fn keep<T>(slot: &'static LocalKey<Cell<T>>, buf: T) {
    let _ = slot.try_with(|s| s.set(buf));
}

/// A buffer [`keep_cleared`] can empty and measure.
pub(crate) trait Buffer {
    /// Room for how many elements.
    fn room(&self) -> usize;
    /// Drop the contents, keep the room.
    fn empty(&mut self);
}

impl<T> Buffer for Vec<T> {
    fn room(&self) -> usize {
        self.capacity()
    }
    fn empty(&mut self) {
        self.clear();
    }
}

impl Buffer for String {
    fn room(&self) -> usize {
        self.capacity()
    }
    fn empty(&mut self) {
        self.clear();
    }
}

/// Empty `buf` and [`keep`] it for the next call, unless it has no room (nothing to save)
/// or more than `max` (one huge message must not pin its memory to the thread).
#[inline]
pub(crate) fn keep_cleared<T: Buffer>(slot: &'static LocalKey<Cell<T>>, mut buf: T, max: usize) {
    if buf.room() != 0 && buf.room() <= max {
        buf.empty();
        keep(slot, buf);
    }
}
