//! tungstenite's [`Message`] <-> [`Frame`], for the client.

use super::{Frame, ReadError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};

/// An incoming message as a frame: `None` for one the engine does not see (a ping, which
/// tungstenite answers itself, or a raw frame), `Err` for a failed read.
pub(crate) fn read(m: Result<Message, Error>) -> Option<Result<Frame, ReadError>> {
    Some(Ok(match m {
        Ok(Message::Text(t)) => Frame::Text(t.to_string()),
        Ok(Message::Binary(b)) => Frame::Binary(b.to_vec()),
        Ok(Message::Pong(_)) => Frame::Pong,
        Ok(Message::Close(c)) => Frame::Close(
            c.as_ref().map_or(1005, |c| u16::from(c.code)),
            c.map(|c| c.reason.to_string()).unwrap_or_default(),
        ),
        Ok(_) => return None,
        Err(e) => {
            let too_big = matches!(e, Error::Capacity(_));
            let text = e.to_string();
            return Some(Err(ReadError { too_big, text }));
        }
    }))
}

/// An outgoing frame as a tungstenite message (`None`: nothing to send).
pub(crate) fn write(frame: Frame) -> Option<Message> {
    Some(match frame {
        Frame::Text(t) => Message::Text(t.into()),
        Frame::Binary(b) => Message::Binary(b.into()),
        Frame::Ping(p) => Message::Ping(p.into()),
        Frame::Pong => return None,
        Frame::Close(code, reason) => Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        })),
    })
}
