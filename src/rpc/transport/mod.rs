//! The WebSocket seen by the connection engine: [`Frame`]s in and out, whatever library
//! carries them. One adapter per library converts its message type: [`axum`] on the server,
//! [`tungstenite`] on the client.

#[cfg(feature = "server")]
pub(crate) mod axum;
#[cfg(feature = "client")]
pub(crate) mod tungstenite;

/// A WebSocket frame, independent of the WebSocket library.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    Close(u16, String),
}

/// A read that failed at the socket: `too_big` when the peer sent a message or frame over
/// the size limit (the connection then closes with 1009).
#[derive(Debug)]
pub(crate) struct ReadError {
    // Only the server closes with 1009; the client reports the error as it is.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) too_big: bool,
    pub(crate) text: String,
}

impl ReadError {
    /// The frame the read loop sees for this error: an abnormal close (1006).
    pub(crate) fn into_frame(self) -> Frame {
        Frame::Close(1006, self.text)
    }
}
