//! JSON text as JavaScript writes and reads it: the shared layer under the `json` and
//! `superjson` codecs.

pub(crate) mod read;
pub(crate) mod tree;
