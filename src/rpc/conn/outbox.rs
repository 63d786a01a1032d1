//! The outbox of one connection: the queue of frames for the peer, the writer task that
//! drains it into the socket, and the close watch (who decided to close, with which frame,
//! and whether what is queued goes out first).

use crate::rpc::error::{codes, Error, Limit, RpcError};
use crate::rpc::transport::Frame;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use tokio::sync::{mpsc, watch};

/// A close decided outside the writer: the close frame, and whether what is already queued
/// goes out before it.
#[derive(Clone)]
pub(crate) struct Closing {
    pub(crate) code: u16,
    pub(crate) reason: String,
    /// Send the frames already queued first (a disconnect, a rate-limit close: replies to
    /// calls that ran, a last push). Not for a peer that does not read (the queue is what it
    /// did not read), one that stopped answering, or one that closed first.
    after_queued: bool,
}

/// The sending half of a connection.
pub(crate) struct Outbox {
    id: u64,
    tx: mpsc::Sender<Frame>,
    closed: AtomicBool,
    /// Set when the connection must be closed from outside the writer (slow reader, rate
    /// abuse, heartbeat timeout, shutdown); the writer then sends this close frame.
    kill: watch::Sender<Option<Closing>>,
    /// The close frame the peer sent (or 1006 for a failed read), once it came.
    peer_close: OnceLock<(u16, String)>,
}

impl Outbox {
    /// An outbox of connection `id` holding up to `capacity` frames, and the receiver the
    /// writer drains.
    pub(crate) fn new(id: u64, capacity: usize) -> (Outbox, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(capacity.clamp(1, tokio::sync::Semaphore::MAX_PERMITS));
        let outbox = Outbox {
            id,
            tx,
            closed: AtomicBool::new(false),
            kill: watch::channel(None).0,
            peer_close: OnceLock::new(),
        };
        (outbox, rx)
    }

    /// True once the connection is closed (or closing).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Mark the connection closed: sends are refused from now on.
    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Note the close frame the peer sent.
    pub(crate) fn peer_closed(&self, code: u16, reason: &str) {
        let _ = self.peer_close.set((code, reason.to_owned()));
    }

    /// The error for a call on this closed connection, with the close when one is known.
    pub(crate) fn closed_error(&self) -> Error {
        let decided = self
            .kill
            .borrow()
            .as_ref()
            .map(|k| (k.code, k.reason.clone()));
        match decided.or_else(|| self.peer_close.get().cloned()) {
            Some((code, reason)) => Error::Closed {
                code: Some(code),
                reason,
            },
            None => Error::closed(),
        }
    }

    /// Queue a reply or request for the writer, waiting while the queue is full (a peer that
    /// reads slowly holds up the calls it makes, not the server), until the connection is
    /// closed: a wait on a peer that stopped reading must not outlive it.
    pub(crate) async fn send(&self, frame: Frame) -> Result<(), Error> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let frame = match self.tx.try_send(frame) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(self.closed_error()),
            Err(mpsc::error::TrySendError::Full(frame)) => frame,
        };
        tokio::select! {
            sent = self.tx.send(frame) => sent.map_err(|_| self.closed_error()),
            _ = self.killed() => Err(self.closed_error()),
        }
    }

    /// Queue a push without waiting: a full queue means the peer reads too slowly, and it is
    /// disconnected with 1008 instead of being buffered for without bound.
    pub(crate) fn push(&self, frame: Frame) -> Result<(), Error> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        match self.tx.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(conn = self.id, "closing: the peer reads too slowly");
                self.kill(1008, "slow consumer: outbound queue full");
                Err(Error::Limit {
                    kind: Limit::SlowConsumer,
                    error: RpcError::new(
                        codes::CLOSED,
                        "the peer reads too slowly and was disconnected",
                    ),
                })
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(self.closed_error()),
        }
    }

    /// Queue a frame if there is room, whatever the connection's state (a ping, a release).
    pub(crate) fn try_queue(&self, frame: Frame) -> Result<(), mpsc::error::TrySendError<Frame>> {
        self.tx.try_send(frame)
    }

    /// Queue a frame, waiting for room, whatever the connection's state (a close frame),
    /// until the connection is killed: a peer that stopped reading must not hold the reader
    /// forever (the kill then closes it).
    pub(crate) async fn queue(&self, frame: Frame) {
        tokio::select! {
            _ = self.tx.send(frame) => {}
            _ = self.killed() => {}
        }
    }

    /// Close the connection from outside: the writer sends `code` and `reason` and stops,
    /// dropping what is still queued. It replaces a close still waiting for the queue (a
    /// slow reader, the heartbeat: the queue will not drain).
    pub(crate) fn kill(&self, code: u16, reason: &str) {
        self.close_with(code, reason, false, true);
    }

    /// Close the connection from outside once the frames already queued have been sent.
    pub(crate) fn close_after_queued(&self, code: u16, reason: &str) {
        self.close_with(code, reason, true, false);
    }

    /// Close unless a close was already decided (the connection's loop ended).
    pub(crate) fn close_if_open(&self, code: u16, reason: &str) {
        self.close_with(code, reason, false, false);
    }

    /// The first close decided wins, except that `overrides` one still waiting for the
    /// queue.
    fn close_with(&self, code: u16, reason: &str, after_queued: bool, overrides: bool) {
        self.mark_closed();
        self.kill.send_if_modified(|k| {
            let replace = match k {
                None => true,
                Some(old) => overrides && old.after_queued,
            };
            if replace {
                *k = Some(Closing {
                    code,
                    reason: reason.to_owned(),
                    after_queued,
                });
            }
            replace
        });
    }

    /// A receiver of the close watch, for a loop that waits on it with [`closed`].
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Closing>> {
        self.kill.subscribe()
    }

    /// Resolves once the connection has been killed; returns the close to make.
    pub(crate) async fn killed(&self) -> Closing {
        closed(&mut self.kill.subscribe()).await
    }

    /// The writer task of a socket: sends queued frames through `sink`, converted by
    /// `to_message` into the WebSocket library's message type (`None`: nothing to send), and
    /// the close frame once the connection is killed; then closes the sink.
    pub(crate) fn spawn_writer<M, S>(
        &self,
        out: mpsc::Receiver<Frame>,
        sink: S,
        to_message: fn(Frame) -> Option<M>,
    ) -> tokio::task::JoinHandle<()>
    where
        M: Send + 'static,
        S: futures_util::Sink<M> + Unpin + Send + 'static,
    {
        tokio::spawn(write_loop(self.subscribe(), out, sink, to_message))
    }
}

/// Resolves once a close is decided on `rx` (a receiver kept for a whole loop: one per
/// wait was a subscription per frame); returns it.
pub(crate) async fn closed(rx: &mut watch::Receiver<Option<Closing>>) -> Closing {
    loop {
        if let Some(k) = rx.borrow_and_update().clone() {
            return k;
        }
        if rx.changed().await.is_err() {
            return Closing {
                code: 1000,
                reason: String::new(),
                after_queued: false,
            };
        }
    }
}

/// The writer's next frame while the close `waiting` waits for the queue: the close frame
/// of a close that goes first if one replaced it, else a queued frame, else (the queue is
/// empty) its own close frame.
fn next_while_closing(
    kill: &watch::Receiver<Option<Closing>>,
    out: &mut mpsc::Receiver<Frame>,
    waiting: &mut Option<Closing>,
) -> Frame {
    let forced = kill.borrow().as_ref().is_some_and(|k| !k.after_queued);
    let close = |k: Closing| Frame::Close(k.code, k.reason);
    if forced {
        waiting.take();
        return kill
            .borrow()
            .clone()
            .map_or(Frame::Close(1000, String::new()), close);
    }
    match out.try_recv() {
        Ok(f) => f,
        Err(_) => waiting
            .take()
            .map_or(Frame::Close(1000, String::new()), close),
    }
}

/// The frame after `frame` in the same batch, if one is already waiting. A pending kill goes
/// back to the `select!` at once: a slow reader must not be fed the whole queue before its
/// close frame.
fn next_in_batch(
    kill: &watch::Receiver<Option<Closing>>,
    out: &mut mpsc::Receiver<Frame>,
    closing: &mut Option<Closing>,
) -> Option<Frame> {
    match closing {
        Some(_) => Some(next_while_closing(kill, out, closing)),
        None if kill.borrow().is_none() => out.try_recv().ok(),
        None => None,
    }
}

async fn write_loop<M, S>(
    mut kill: watch::Receiver<Option<Closing>>,
    mut out: mpsc::Receiver<Frame>,
    mut sink: S,
    to_message: fn(Frame) -> Option<M>,
) where
    S: futures_util::Sink<M> + Unpin,
{
    use futures_util::SinkExt;
    // A close that waits for the frames queued before it was decided.
    let mut closing: Option<Closing> = None;
    loop {
        let frame = match closing {
            Some(_) => next_while_closing(&kill, &mut out, &mut closing),
            None => tokio::select! {
                f = out.recv() => match f {
                    Some(f) => f,
                    None => break,
                },
                k = closed(&mut kill) => {
                    if k.after_queued {
                        closing = Some(k);
                        next_while_closing(&kill, &mut out, &mut closing)
                    } else {
                        Frame::Close(k.code, k.reason)
                    }
                }
            },
        };
        // Queue this frame and every frame already waiting, then flush once: one write
        // syscall for a burst of replies instead of one per reply.
        let mut next = Some(frame);
        let mut last = false;
        let mut failed = false;
        while let Some(frame) = next.take() {
            last = matches!(frame, Frame::Close(..));
            if let Some(msg) = to_message(frame) {
                if sink.feed(msg).await.is_err() {
                    failed = true;
                    break;
                }
            }
            if !last {
                next = next_in_batch(&kill, &mut out, &mut closing);
            }
        }
        if failed || sink.flush().await.is_err() || last {
            break;
        }
    }
    let _ = sink.close().await;
}
