//! axum's WebSocket [`Message`] <-> [`Frame`], with socket errors told apart by type.

use super::{Frame, ReadError};
use ::tungstenite;
use axum::extract::ws::{CloseFrame, Message};

/// An incoming axum message as a frame (`Err` for a failed read).
pub(crate) fn read(m: Result<Message, axum::Error>) -> Result<Frame, ReadError> {
    Ok(match m {
        Ok(Message::Text(t)) => Frame::Text(t.to_string()),
        Ok(Message::Binary(b)) => Frame::Binary(b.to_vec()),
        Ok(Message::Pong(_)) => Frame::Pong,
        Ok(Message::Ping(_)) => Frame::Ping(Vec::new()),
        Ok(Message::Close(c)) => Frame::Close(
            c.as_ref().map_or(1005, |c| c.code),
            c.map(|c| c.reason.to_string()).unwrap_or_default(),
        ),
        Err(e) => {
            let text = e.to_string();
            // axum wraps the tungstenite error it read (the same tungstenite version).
            let too_big = e
                .into_inner()
                .downcast_ref::<tungstenite::Error>()
                .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
            return Err(ReadError { too_big, text });
        }
    })
}

/// An outgoing frame as an axum message (`None`: nothing to send).
pub(crate) fn write(frame: Frame) -> Option<Message> {
    Some(match frame {
        Frame::Text(t) => Message::Text(t.into()),
        Frame::Binary(b) => Message::Binary(b.into()),
        Frame::Ping(p) => Message::Ping(p.into()),
        Frame::Pong => return None,
        Frame::Close(code, reason) => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
    })
}
