//! Stack growth for recursive readers and writers: deep (but within the depth limit) input
//! must not overflow small thread stacks. One function, [`grow_within`], switches to a new
//! stack when less than a red zone is left; the red zones are named here.

/// The red zone of the codecs' own readers and writers (and of the steps of a decode that
/// recurse once per level of nesting): their frames per level are large.
pub(crate) const CODEC_RED_ZONE: usize = 128 * 1024;

/// The red zone of `Value`'s `Serialize` impl, which any serializer recurses into once per
/// level of a `Value`'s containers. Smaller than [`CODEC_RED_ZONE`]: a serializer's frame
/// per level is small, and a thread with a 128 KiB stack would otherwise switch stacks at
/// every container.
pub(crate) const VALUE_SER_RED_ZONE: usize = 32 * 1024;

/// The size of each stack switched to.
const NEW_STACK: usize = 1024 * 1024;

/// Run `f`, on a new stack when less than `red_zone` bytes of this one are left.
#[inline]
pub(crate) fn grow_within<R>(red_zone: usize, f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(red_zone, NEW_STACK, f)
}

/// [`grow_within`] the [`CODEC_RED_ZONE`]: enough stack for more levels of nesting.
/// Checking costs a thread-local read, so the hot paths call [`grow_every`] instead.
#[inline]
pub(crate) fn grow<R>(f: impl FnOnce() -> R) -> R {
    grow_within(CODEC_RED_ZONE, f)
}

/// [`grow`] at every 16th level of nesting only (`depth_left` is the countdown of levels):
/// the 128 KiB red zone covers the levels in between.
#[inline]
pub(crate) fn grow_every<R>(depth_left: usize, f: impl FnOnce() -> R) -> R {
    if depth_left % 16 == 0 {
        grow(f)
    } else {
        f()
    }
}
