//! The publisher: sends the outbox to Redis in order, pipelined (publishes, history and
//! stream appends, subscriptions), until the session fails.

use super::*;

/// Send the outbox to Redis, in order, pipelined; returns why it stopped.
pub(super) async fn publish_loop(
    sh: Arc<Shared>,
    mut conn: MultiplexedConnection,
    mut sink: PubSubSink,
    [sha, hsha]: [String; 2],
) -> String {
    let cfg = &sh.cfg;
    let origin = format!("{}:{}", sh.origin.node, sh.origin.inc);
    let size = cfg.stream_size.to_string();
    let ttl = cfg.stream_ttl.as_secs().max(1).to_string();
    loop {
        let wake = sh.outbox.wait();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let (batch, last) = sh.outbox.peek(512);
        if batch.is_empty() {
            wake.await;
            continue;
        }
        let mut p = redis::pipe();
        let mut pending = 0usize;
        let mut version = None;
        for cmd in batch {
            let sub = matches!(cmd, Cmd::Subscribe(_));
            match cmd {
                Cmd::Subscribe(ch) | Cmd::Unsubscribe(ch) => {
                    if pending > 0 {
                        if let Err(e) = run_pipe(&sh, &mut p, &mut conn).await {
                            return e;
                        }
                        p = redis::pipe();
                        pending = 0;
                    }
                    let r = if sub {
                        tokio::time::timeout(cfg.timeout, sink.subscribe(&ch)).await
                    } else {
                        tokio::time::timeout(cfg.timeout, sink.unsubscribe(&ch)).await
                    };
                    match r {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return format!("SUBSCRIBE: {e}"),
                        Err(_) => return "SUBSCRIBE timed out".into(),
                    }
                }
                Cmd::Publish { channel, payload } => {
                    p.publish(channel, &*payload).ignore();
                    pending += 1;
                }
                Cmd::History {
                    room,
                    payload,
                    cap,
                    seq,
                } => {
                    p.cmd("EVALSHA")
                        .arg(&hsha)
                        .arg(2)
                        .arg(cfg.history_key(&room))
                        .arg(cfg.history_seen_key(&room))
                        .arg(&*payload)
                        .arg(cap.min(i64::MAX as usize))
                        .arg(&origin)
                        .arg(seq)
                        .arg(HISTORY_SEEN_TTL_SECS)
                        .ignore();
                    pending += 1;
                }
                Cmd::Ordered {
                    room, payload, seq, ..
                } => {
                    p.cmd("EVALSHA")
                        .arg(&sha)
                        .arg(2)
                        .arg(cfg.stream_key(&room))
                        .arg(cfg.meta_key(&room))
                        .arg(&*payload)
                        .arg(&size)
                        .arg(&ttl)
                        .arg(crate::rpc::hub::cluster::random_id())
                        .arg(cfg.room_channel(&room))
                        .arg(&origin)
                        .arg(seq)
                        .ignore();
                    pending += 1;
                }
                Cmd::Presence { batch, delta } => {
                    let key = cfg.presence_key(&sh.origin.node);
                    p.cmd("MULTI").ignore();
                    for (id, entry) in &batch.entries {
                        match entry {
                            Some(c) => {
                                let rooms: Vec<&str> = c.rooms.iter().map(String::as_str).collect();
                                p.hset(&key, id, envelope::encode_conn(c.user.as_deref(), &rooms))
                                    .ignore();
                            }
                            None => {
                                p.hdel(&key, id).ignore();
                            }
                        }
                    }
                    p.hset(&key, "_v", format!("{}:{}", sh.origin.inc, batch.to))
                        .ignore();
                    p.cmd("EXEC").ignore();
                    p.publish(cfg.ctl(), &*delta).ignore();
                    version = Some(batch.to);
                    pending += 1;
                }
            }
        }
        if pending > 0 {
            if let Err(e) = run_pipe(&sh, &mut p, &mut conn).await {
                return e;
            }
        }
        if let Some(v) = version {
            sh.published_version.store(v, Ordering::Release);
        }
        sh.outbox.ack(last);
    }
}

/// Run a pipeline. A connection failure ends the session (the batch is sent again by the
/// next); a command Redis refused is counted and logged, and the batch counts as sent.
async fn run_pipe(
    sh: &Shared,
    p: &mut redis::Pipeline,
    conn: &mut MultiplexedConnection,
) -> Result<(), String> {
    match p.query_async::<()>(conn).await {
        Ok(()) => Ok(()),
        Err(e)
            if e.is_io_error()
                || e.is_timeout()
                || e.is_connection_dropped()
                || e.is_unrecoverable_error() =>
        {
            Err(format!("publishing: {e}"))
        }
        Err(e) => {
            sh.counters.publish_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "cluster: Redis refused a command");
            Ok(())
        }
    }
}
