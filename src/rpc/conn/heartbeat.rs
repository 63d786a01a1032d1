//! The heartbeat: pings, and the close of a peer that stopped answering.

use super::Connection;
use crate::rpc::transport::Frame;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;

/// Ping the peer every `interval`; close with 1001 once nothing (no frame, no pong) came
/// for `timeout` after a ping, noticed at the next tick (so within `timeout` plus one
/// `interval`). Both sides use this: the server to drop dead clients, the client to
/// detect a dead server.
pub(crate) fn spawn(
    conn: Arc<Connection>,
    interval: Duration,
    timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        // When the oldest ping not followed by any frame from the peer went out. The peer
        // is dead once that is older than `timeout` (measured from the ping: from the last
        // frame, a timeout shorter than the interval closed healthy peers).
        let mut unanswered: Option<Duration> = None;
        loop {
            tick.tick().await;
            let now = conn.opened.elapsed();
            let seen = Duration::from_millis(conn.last_seen.load(Ordering::Relaxed));
            if unanswered.is_some_and(|p| seen >= p) {
                unanswered = None;
            }
            if unanswered.is_some_and(|p| now.saturating_sub(p) > timeout) {
                tracing::info!(conn = conn.id, "closing: the peer stopped answering");
                conn.outbox.kill(1001, "heartbeat timeout");
                conn.shutdown();
                break;
            }
            // A full queue: no ping this time (a ping must not close the connection as a
            // slow consumer), but the clock runs as if one went out: a peer that stopped
            // reading keeps the queue full, and its silence must still end it.
            match conn.outbox.try_queue(Frame::Ping(Vec::new())) {
                Ok(()) | Err(TrySendError::Full(_)) => {
                    // In whole milliseconds, as `last_seen` is kept.
                    unanswered.get_or_insert(Duration::from_millis(now.as_millis() as u64));
                }
                Err(TrySendError::Closed(_)) => break,
            }
            if conn.outbox.is_closed() {
                break;
            }
        }
    })
}
