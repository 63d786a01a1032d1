//! One configuration for every limit polycodec enforces on input it did not produce.
//!
//! The same [`Limits`] value is read by every codec and by the RPC server, so a deployment
//! tunes one struct. Every limit is checked before the memory it guards is allocated.
//!
//! Two bounds are fixed, whatever the limits: a bigint written with more than
//! [`MAX_BIGINT_TEXT`](crate::value::MAX_BIGINT_TEXT) (10,000) characters is a
//! [`Limit`](crate::Category::Limit) error in every text reader (decimal text takes quadratic
//! time to read; MessagePack's bigint extension 0x42 holds at most 4,160 bytes, every such
//! bigint), and a superjson document may make no more elements that none of its bytes stand
//! for (array holes left by references, typed arrays made from a length) than it has bytes.

/// Limits on decoded input and on per-connection resources.
///
/// Construct with [`Limits::default()`] and adjust with the builder methods; each method's
/// documentation states the default.
///
/// ```
/// use polycodec::Limits;
/// let limits = Limits::default().max_depth(64).max_message_bytes(1 << 20);
/// assert_eq!(limits.depth(), 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub(crate) max_message_bytes: usize,
    pub(crate) max_depth: usize,
    pub(crate) max_collection_len: usize,
    pub(crate) max_ref_expansion: usize,
    pub(crate) max_pending_calls: usize,
    pub(crate) outbound_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_depth: 1024,
            max_collection_len: 1 << 24,
            max_ref_expansion: 1 << 20,
            max_pending_calls: 1024,
            outbound_queue: 256,
        }
    }
}

impl Limits {
    /// No practical limits (all `usize::MAX`), except the depth, which stays at 100,000 so
    /// that decoding cannot overflow the stack. For trusted input only.
    pub fn unlimited() -> Self {
        Limits {
            max_message_bytes: usize::MAX,
            max_depth: 100_000,
            max_collection_len: usize::MAX,
            max_ref_expansion: usize::MAX,
            max_pending_calls: usize::MAX,
            outbound_queue: usize::MAX,
        }
    }

    /// Largest encoded message accepted, in bytes. Default: 16 MiB.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Deepest nesting of arrays, objects, maps, sets and annotations accepted when decoding,
    /// and when encoding a `Value`. Default: 1,024 (superjson in node handles about 1,000).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Most elements one array, object, map, set or typed array may hold when decoding. A
    /// MessagePack header that claims more is rejected before anything is allocated, in
    /// typed and `Value` decodes; JSON and superjson `Value` decodes fail at the element
    /// past the limit, bincode's `Value` decode after reading. Typed JSON, superjson and
    /// bincode decodes are bounded by the message size (the target type keeps what it
    /// likes; a check per element cost a typed decode 10%). Default: 2^24 (16,777,216).
    pub fn max_collection_len(mut self, len: usize) -> Self {
        self.max_collection_len = len;
        self
    }

    /// Most nodes that writing a value with shared references (superjson
    /// `referentialEqualities`) may expand to, in codecs that have no references and must
    /// write each shared node out in full. Default: 2^20 (1,048,576).
    pub fn max_ref_expansion(mut self, nodes: usize) -> Self {
        self.max_ref_expansion = nodes;
        self
    }

    /// Most calls a peer may have in flight on one connection. Default: 1,024.
    pub fn max_pending_calls(mut self, calls: usize) -> Self {
        self.max_pending_calls = calls;
        self
    }

    /// Most messages queued for one connection before the slow-peer policy applies.
    /// Default: 256.
    pub fn outbound_queue(mut self, messages: usize) -> Self {
        self.outbound_queue = messages;
        self
    }

    /// Fail with a `Limit` error when a message of `len` bytes is over
    /// [`max_message_bytes`](Limits::max_message_bytes). Every codec checks this before
    /// reading anything.
    pub fn check_message(&self, len: usize) -> crate::Result<()> {
        if len > self.max_message_bytes {
            return Err(crate::Error::limit(format!(
                "message of {len} bytes is over the limit of {}",
                self.max_message_bytes
            )));
        }
        Ok(())
    }

    /// The message size limit in bytes.
    pub fn message_bytes(&self) -> usize {
        self.max_message_bytes
    }
    /// The nesting depth limit.
    pub fn depth(&self) -> usize {
        self.max_depth
    }
    /// The collection length limit.
    pub fn collection_len(&self) -> usize {
        self.max_collection_len
    }
    /// The reference expansion limit.
    pub fn ref_expansion(&self) -> usize {
        self.max_ref_expansion
    }
    /// The pending call limit.
    pub fn pending_calls(&self) -> usize {
        self.max_pending_calls
    }
    /// The outbound queue limit.
    pub fn outbound_queue_len(&self) -> usize {
        self.outbound_queue
    }
}
