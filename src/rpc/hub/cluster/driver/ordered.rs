//! Recoverable rooms on this node: deliver in offset order, fill gaps from the room's
//! stream, and replay to a client that resumes from a position.

use super::{err, position, stream_entries, Driver, R};
use crate::rpc::hub::cluster::envelope::{self, Envelope, Kind, Message};
use crate::rpc::hub::{Position, Recovery, Target};
use redis::aio::{MultiplexedConnection, PubSubSink};
use std::sync::atomic::Ordering;

impl Driver {
    /// A recoverable room's push, at `offset` of `epoch`.
    pub(super) async fn on_ordered(
        &mut self,
        conn: &mut MultiplexedConnection,
        epoch: &str,
        offset: u64,
        env: Envelope,
    ) -> R<()> {
        let Kind::Room(room) = &env.kind else {
            self.bad("a recoverable push not to a room");
            return Ok(());
        };
        let room = room.clone();
        let seq = self.seqs.entry(room.clone()).or_default();
        if seq.epoch.as_deref() != Some(epoch) {
            if seq.epoch.is_some() {
                self.sh
                    .counters
                    .history_lost
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%room, "a recoverable room's history was lost (new epoch)");
            }
            seq.epoch = Some(epoch.to_owned());
            seq.next = None;
        }
        match seq.next {
            Some(n) if offset < n => return Ok(()),
            Some(n) if offset > n => self.fill(conn, &room, Some(offset - 1)).await?,
            _ => {}
        }
        let seq = self.seqs.entry(room.clone()).or_default();
        if seq.epoch.as_deref() != Some(epoch) || seq.next.is_some_and(|n| offset < n) {
            return Ok(());
        }
        seq.next = Some(offset + 1);
        self.deliver(&room, epoch, offset, &env);
        Ok(())
    }

    /// Deliver what `room`'s stream holds from the next offset on (to `upto`, else to the
    /// end), counting what it no longer holds as lost.
    pub(super) async fn fill(
        &mut self,
        conn: &mut MultiplexedConnection,
        room: &str,
        upto: Option<u64>,
    ) -> R<()> {
        let Some(seq) = self.seqs.get(room) else {
            return Ok(());
        };
        let (Some(next), epoch) = (seq.next, seq.epoch.clone()) else {
            return Ok(());
        };
        if upto.is_some_and(|u| u < next) {
            return Ok(());
        }
        let cfg = &self.sh.cfg;
        let end = upto.map_or_else(|| "+".to_owned(), |u| format!("{u}-0"));
        let (now_epoch, entries): (Option<String>, redis::Value) = redis::pipe()
            .atomic()
            .hget(cfg.meta_key(room), "e")
            .cmd("XRANGE")
            .arg(cfg.stream_key(room))
            .arg(format!("{next}-0"))
            .arg(end)
            .query_async(conn)
            .await
            .map_err(err("reading a stream"))?;
        self.sh.counters.gap_fills.fetch_add(1, Ordering::Relaxed);
        let counters = &self.sh.counters;
        if now_epoch != epoch {
            counters.history_lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%room, "a recoverable room's history was lost (epoch changed)");
            if let Some(seq) = self.seqs.get_mut(room) {
                seq.epoch = now_epoch;
                seq.next = None;
            }
            return Ok(());
        }
        let epoch = epoch.unwrap_or_default();
        let limits = cfg.limits;
        let mut expect = next;
        let mut lost = 0;
        for (offset, bytes) in stream_entries(entries) {
            if offset < expect {
                continue;
            }
            lost += offset - expect;
            match envelope::decode(&bytes, limits) {
                Ok(Message::Push(env)) => self.deliver(room, &epoch, offset, &env),
                _ => self.bad("a stream entry that does not read"),
            }
            expect = offset + 1;
        }
        if let Some(u) = upto {
            if expect <= u {
                lost += u + 1 - expect;
                expect = u + 1;
            }
        }
        if lost > 0 {
            self.sh
                .counters
                .history_lost
                .fetch_add(lost, Ordering::Relaxed);
            tracing::warn!(%room, lost, "a gap older than the stream kept: messages lost on this node");
        }
        if let Some(seq) = self.seqs.get_mut(room) {
            seq.next = Some(expect);
        }
        Ok(())
    }

    /// Deliver a recoverable push to this node's members, with its position as a trailing
    /// argument, except to those a replay already gave it.
    fn deliver(&mut self, room: &str, epoch: &str, offset: u64, env: &Envelope) {
        let here = env.origin == self.sh.origin;
        if here {
            let early = crate::rpc::hub::cluster::lock(&self.sh.delivered_early).remove(&env.seq);
            if early || env.delivered_here {
                return;
            }
        }
        let Some(hub) = self.hub() else { return };
        let mut args = env.args.clone();
        args.push(position(room, epoch, offset));
        let except = if here { env.except } else { None };
        let target = Target::Room { room, except };
        if self.marks.is_empty() {
            hub.deliver_local(target, &env.method, &args);
            return;
        }
        let marks = &self.marks;
        let keep = |p: &crate::rpc::Peer| {
            marks
                .get(&(room.to_owned(), p.id()))
                .is_none_or(|m| *m < offset)
        };
        hub.deliver_where(target, &env.method, &args, &keep);
        self.marks.retain(|(r, _), m| r != room || *m > offset);
    }

    /// Replay to connection `id` what `room` got after `since`, then join it to the room:
    /// nothing lost or repeated between the replay and what follows live.
    pub(super) async fn resume(
        &mut self,
        conn: &mut MultiplexedConnection,
        sink: &mut PubSubSink,
        id: u64,
        room: &str,
        since: Position,
    ) -> R<Recovery> {
        let cfg = &self.sh.cfg;
        // Subscribed first: whatever the read below misses comes live.
        tokio::time::timeout(cfg.timeout, sink.subscribe(cfg.room_channel(room)))
            .await
            .map_err(|_| "SUBSCRIBE timed out".to_owned())?
            .map_err(err("SUBSCRIBE"))?;
        let (epoch, top, entries): (Option<String>, Option<u64>, redis::Value) = redis::pipe()
            .atomic()
            .hget(cfg.meta_key(room), "e")
            .hget(cfg.meta_key(room), "s")
            .cmd("XRANGE")
            .arg(cfg.stream_key(room))
            .arg(format!("{}-0", since.offset.saturating_add(1)))
            .arg("+")
            .query_async(conn)
            .await
            .map_err(err("reading a stream"))?;
        let Some(hub) = self.hub() else {
            return Ok(Recovery::failed("the hub is gone"));
        };
        let top = top.unwrap_or(0);
        let entries = stream_entries(entries);
        let first = entries.first().map(|e| e.0);
        let reason = match &epoch {
            None => Some("the room has no history (it expired, or Redis lost it)".to_owned()),
            Some(e) if *e != since.epoch => Some(format!(
                "the room's history was lost (epoch {} is now {e})",
                since.epoch
            )),
            Some(_) if since.offset > top => {
                Some("the position is past the room's history (Redis lost messages)".to_owned())
            }
            Some(_) if top > since.offset && first != Some(since.offset + 1) => Some(format!(
                "the gap is older than the history kept (the oldest kept is {})",
                first.unwrap_or(top + 1)
            )),
            Some(_) => None,
        };
        let newest = epoch.clone().map(|epoch| Position { epoch, offset: top });
        if let Some(e) = &epoch {
            let seq = self.seqs.entry(room.to_owned()).or_default();
            if seq.epoch.as_deref() != Some(e) || seq.next.is_none() {
                seq.epoch = Some(e.clone());
                seq.next = Some(top + 1);
            }
        }
        let (Some(epoch), None) = (epoch, &reason) else {
            hub.join(id, room);
            return Ok(Recovery {
                recovered: false,
                replayed: 0,
                position: newest,
                reason,
            });
        };
        let mut last = since.offset;
        if let Some(peer) = hub.get(id) {
            for (offset, bytes) in entries {
                if offset != last + 1 {
                    break;
                }
                match envelope::decode(&bytes, cfg.limits) {
                    Ok(Message::Push(env)) => {
                        let mut args = env.args;
                        args.push(position(room, &epoch, offset));
                        let _ = peer.push(&env.method, args);
                    }
                    _ => self.bad("a stream entry that does not read"),
                }
                last = offset;
            }
        }
        self.marks.insert((room.to_owned(), id), last);
        hub.join(id, room);
        Ok(Recovery {
            recovered: last == top,
            replayed: (last - since.offset) as usize,
            position: newest,
            reason: (last != top).then(|| "the history changed while it was read".to_owned()),
        })
    }
}
