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
