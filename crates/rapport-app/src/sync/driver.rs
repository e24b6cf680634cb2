//! Runs the client protocol machine (`rapport_sync::client`) against the store and a
//! transport: performs each request it asks for — register, push a batch of the outbox, pull
//! a page, stream a bootstrap, re-stamp, restart — and feeds the outcome back. One-shot
//! (`sync_once`: to quiescence, then return) or watching (`run`: the event socket, local
//! writes and timers, until stopped). The simulation calls `start`/`feed`/`exec` directly.

use super::http::{Http, Transport};
use crate::{AppError, Result};
use futures_util::StreamExt;
use rapport_store::{Progress, Store, SyncPatch};
use rapport_sync::client::{Action, Client, Config, Event, Failure, Outcome, Request, Status};
use rapport_sync::wire::*;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Ops per push (the server takes at most `MAX_PUSH_OPS`).
pub const PUSH_BATCH: usize = 500;
/// Changes per pull page.
pub const PULL_PAGE: usize = 1000;
/// How far this clock may be off the server's before stamps use the server's time.
pub const CLOCK_TOLERANCE_MS: i64 = 60_000;
/// Bootstrap records per transaction (SYNC.md §1.9).
pub const BOOTSTRAP_CHUNK: usize = 5000;

/// What a sync moved.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Local changes the server took (applied, merged or partly applied).
    pub pushed: usize,
    /// Pushed changes every field of which lost to a newer edit.
    pub stale: usize,
    /// Pushed changes the server refused, with its reason.
    pub rejected: Vec<String>,
    /// Note bodies that conflicted (kept as conflict records).
    pub conflicts: usize,
    /// Changes pulled that changed something here.
    pub pulled: usize,
    /// Records streamed by a bootstrap.
    pub bootstrapped: usize,
}

/// Bootstrap progress: records so far, the server's estimate, records per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BootstrapProgress {
    pub done: usize,
    pub estimated: i64,
    pub per_second: f64,
}

type Hook<T> = Arc<dyn Fn(T) + Send + Sync>;

/// What a driver tells its shell.
#[derive(Clone, Default)]
pub struct Hooks {
    /// After anything was written (the search index should catch up).
    pub changed: Option<Hook<()>>,
    pub status: Option<Hook<Status>>,
    pub bootstrap: Option<Hook<BootstrapProgress>>,
    pub presence: Option<Hook<Vec<PresenceEntry>>>,
}

pub struct Driver<T: Transport> {
    pub store: Store,
    pub transport: T,
    pub client: Client,
    pub report: Report,
    pub hooks: Hooks,
    device_name: String,
    wake: u64,
    connect: bool,
    disconnect: bool,
}

fn local(e: impl std::fmt::Display) -> Failure {
    Failure::Local(e.to_string())
}

fn api(code: ErrorCode, message: &str) -> Failure {
    Failure::Api {
        code,
        message: message.into(),
        server_time: None,
    }
}

/// Something a transport can be told its client id by (it changes after a restart).
pub trait ClientBound {
    fn set_client(&mut self, org: &str, client_id: &str);
}

impl ClientBound for Http {
    fn set_client(&mut self, org: &str, client_id: &str) {
        *self = self.clone().for_client(org, client_id);
    }
}

impl<T: Transport + ClientBound> Driver<T> {
    pub fn new(store: Store, transport: T, device_name: &str, seed: u64) -> Driver<T> {
        Driver {
            store,
            transport,
            client: Client::new(Config::default(), seed),
            report: Report::default(),
            hooks: Hooks::default(),
            device_name: device_name.to_string(),
            wake: u64::MAX,
            connect: false,
            disconnect: false,
        }
    }

    /// The machine's clock: the store's (tests and the simulation move it).
    pub fn now(&self) -> u64 {
        self.store.now().timestamp_millis().max(0) as u64
    }

    /// Starts the machine from what the store says; returns the first actions.
    pub async fn start(&mut self) -> Result<Vec<Action>> {
        let st = self.store.joined_state().await?;
        let pending = self
            .store
            .sync_status()
            .await?
            .map(|s| s.pending > 0)
            .unwrap_or(false);
        let ev = Event::Start {
            registered: st.epoch.is_some(),
            bootstrapped: st.bootstrap == "done",
            pending,
        };
        Ok(self.feed(ev))
    }

    /// Feeds an event; remembers wake-ups and socket wishes; returns the actions.
    pub fn feed(&mut self, ev: Event) -> Vec<Action> {
        let now = self.now();
        let actions = self.client.step(ev, now);
        for a in &actions {
            match a {
                Action::WakeAt(t) => self.wake = *t,
                Action::Connect => self.connect = true,
                Action::Disconnect => self.disconnect = true,
                Action::Status(s) => {
                    if let Some(h) = &self.hooks.status {
                        h(s.clone())
                    }
                }
                Action::Send(_) => {}
            }
        }
        actions
    }

    /// Performs one request.
    pub async fn exec(&mut self, r: &Request) -> Outcome {
        match self.exec_inner(r).await {
            Ok(more) => Outcome::Ok { more },
            Err(f) => {
                let (code, msg) = match &f {
                    Failure::Unreachable(m) => ("unreachable".to_string(), m.clone()),
                    Failure::Local(m) => ("local".to_string(), m.clone()),
                    Failure::Api { code, message, .. } => (
                        serde_json::to_value(code)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        message.clone(),
                    ),
                };
                let _ = self
                    .store
                    .record_sync_outcome(Some((code.as_str(), msg.as_str())))
                    .await;
                Outcome::Failed(f)
            }
        }
    }

    /// Performs requests until the machine has nothing to do; stops at the first failure
    /// (one-shot use: the caller reports it rather than waiting out a backoff).
    pub async fn sync_once(&mut self) -> Result<Report> {
        let mut actions = self.start().await?;
        while let Some(r) = actions.iter().find_map(|a| match a {
            Action::Send(r) => Some(r.clone()),
            _ => None,
        }) {
            let outcome = self.exec(&r).await;
            let failed = match &outcome {
                // A refused push (a viewer): the machine goes on pulling.
                Outcome::Failed(Failure::Api {
                    code: ErrorCode::Forbidden,
                    ..
                }) if r == Request::Push => None,
                Outcome::Failed(f) => Some(f.clone()),
                _ => None,
            };
            actions = self.feed(Event::Done(r, outcome));
            if let Some(f) = failed {
                // Recovery steps (re-stamp, restart) run at once; anything else ends the run.
                let recovering = actions.iter().any(|a| {
                    matches!(
                        a,
                        Action::Send(
                            Request::Restamp { .. } | Request::Restart { .. } | Request::Push
                        )
                    )
                });
                if !recovering || matches!(f, Failure::Unreachable(_) | Failure::Local(_)) {
                    return Err(failure_error(&f));
                }
            }
        }
        self.store.record_sync_outcome(None).await?;
        Ok(self.report.clone())
    }

    async fn exec_inner(&mut self, r: &Request) -> Result<bool, Failure> {
        let st = self.store.joined_state().await.map_err(local)?;
        match r {
            Request::Register => {
                let resp = self
                    .transport
                    .register(&RegisterRequest {
                        client_id: st.client_id.clone(),
                        device_name: self.device_name.clone(),
                    })
                    .await?;
                if st.epoch.as_deref().is_some_and(|e| e != resp.epoch) {
                    return Err(api(ErrorCode::EpochChanged, "the server was restored"));
                }
                if resp.last_seq < st.pull_cursor {
                    // A restore that did not rotate the epoch (Atuin's "local ahead").
                    return Err(api(
                        ErrorCode::EpochChanged,
                        "the server is behind this store",
                    ));
                }
                let server_acked = resp.applied_local_seq + st.seq_base;
                if server_acked < st.acked_seq {
                    return Err(api(ErrorCode::Gap, "the server lost acknowledged changes"));
                }
                // The server applied more than this store knows of: a push whose answer was lost —
                // or another copy of this store pushing under its client id. Not acknowledged
                // here: the next push resends those ops, and the server tells duplicates (same
                // op ids) from a fork (`client_forked`).
                // A clock more than a minute off the server's is corrected from here on (stamps
                // and the bound on received ones use it); SYNC.md §1.2's skew guard.
                let offset = resp.server_time - self.now() as i64;
                let clock_offset_ms =
                    ((offset - st.clock_offset_ms).abs() > CLOCK_TOLERANCE_MS).then_some(offset);
                self.store
                    .update_sync_state(SyncPatch {
                        epoch: Some(resp.epoch),
                        server_seq: Some(resp.last_seq),
                        role: Some(resp.role),
                        clock_offset_ms,
                        ..Default::default()
                    })
                    .await
                    .map_err(local)?;
                Ok(false)
            }
            Request::Push => {
                let ops = self.store.pending_ops(PUSH_BATCH).await.map_err(local)?;
                if ops.is_empty() {
                    return Ok(false);
                }
                let req = PushRequest {
                    client_id: st.client_id.clone(),
                    epoch: st.epoch.clone().unwrap_or_default(),
                    ops,
                };
                let resp = self.transport.push(&req).await?;
                self.store
                    .acknowledge(&req.ops, &resp)
                    .await
                    .map_err(local)?;
                for res in &resp.results {
                    match res.status {
                        OpStatus::Applied | OpStatus::PartiallyApplied | OpStatus::Merged => {
                            self.report.pushed += 1
                        }
                        OpStatus::Stale => self.report.stale += 1,
                        OpStatus::Conflict => self.report.conflicts += 1,
                        OpStatus::Rejected => self.report.rejected.push(
                            res.error
                                .as_ref()
                                .map(|e| format!("change {}: {}", res.local_seq, e.message))
                                .unwrap_or_else(|| format!("change {} refused", res.local_seq)),
                        ),
                        OpStatus::Duplicate => {}
                    }
                }
                let pending = self
                    .store
                    .sync_status()
                    .await
                    .map_err(local)?
                    .map(|s| s.pending)
                    .unwrap_or(0);
                Ok(pending > 0)
            }
            Request::Pull => {
                let page = self.transport.pull(st.pull_cursor, PULL_PAGE).await?;
                if st.epoch.as_deref().is_some_and(|e| e != page.epoch) {
                    return Err(api(ErrorCode::EpochChanged, "the server was restored"));
                }
                if page.last_seq < st.pull_cursor {
                    return Err(api(
                        ErrorCode::EpochChanged,
                        "the server is behind this store",
                    ));
                }
                let rep = self
                    .store
                    .apply_changes(
                        &page.changes,
                        Progress::Pull {
                            next_since: page.next_since,
                            last_seq: page.last_seq,
                        },
                    )
                    .await
                    .map_err(|e| skew_or_local(e, page.server_time))?;
                self.report.pulled += rep.changed;
                if rep.changed > 0
                    && let Some(h) = &self.hooks.changed
                {
                    h(())
                }
                Ok(page.has_more)
            }
            Request::Bootstrap => self.bootstrap(&st).await.map(|_| false),
            Request::Restamp { offset_ms } => {
                self.store
                    .restamp_pending(*offset_ms)
                    .await
                    .map_err(local)?;
                Ok(false)
            }
            Request::Restart { fork, restored } => {
                let id = self.store.new_id().to_string();
                self.store
                    .restart_as(&id, *fork, *restored)
                    .await
                    .map_err(local)?;
                self.transport.set_client(&st.org_id, &id);
                Ok(false)
            }
        }
    }

    async fn bootstrap(&mut self, st: &rapport_store::SyncState) -> Result<(), Failure> {
        let after = (st.bootstrap == "in_progress")
            .then(|| st.bootstrap_after_id.clone())
            .flatten();
        // Into a store that already holds records (it joined with local data, or the server
        // forgot tombstones older than its horizon): sweep what the stream does not carry.
        let sweep = st.bootstrap_sweep || self.store.holds_records().await.map_err(local)?;
        let mut lines = self.transport.bootstrap(after.clone()).await?;
        let started = std::time::Instant::now();
        let mut progress = BootstrapProgress::default();
        let mut snapshot = 0;
        let mut batch: Vec<Change> = Vec::with_capacity(BOOTSTRAP_CHUNK);
        let mut ended = false;
        while let Some(line) = lines.next().await {
            match line? {
                BootstrapLine::Header {
                    epoch,
                    snapshot_seq,
                    estimated,
                    ..
                } => {
                    if st.epoch.as_deref().is_some_and(|e| e != epoch) {
                        return Err(api(ErrorCode::EpochChanged, "the server was restored"));
                    }
                    snapshot = snapshot_seq;
                    progress.estimated = estimated;
                    self.store
                        .apply_changes(
                            &[],
                            Progress::Bootstrap {
                                snapshot_seq,
                                after_id: after.clone().unwrap_or_default(),
                                sweep,
                            },
                        )
                        .await
                        .map_err(local)?;
                }
                BootstrapLine::Record {
                    entity,
                    id,
                    lead_id,
                    deleted,
                    fields,
                    clocks,
                    seq,
                    body_rev,
                } => {
                    batch.push(Change {
                        seq,
                        entity,
                        id,
                        lead_id,
                        state: rapport_sync::RecordState {
                            fields,
                            clocks,
                            deleted,
                        },
                        body_rev,
                        updated_by: None,
                    });
                    if batch.len() >= BOOTSTRAP_CHUNK {
                        self.flush(&mut batch, snapshot, sweep, &mut progress, started)
                            .await?;
                    }
                }
                BootstrapLine::End { .. } => {
                    self.flush(&mut batch, snapshot, sweep, &mut progress, started)
                        .await?;
                    ended = true;
                    break;
                }
            }
        }
        if !ended {
            return Err(Failure::Unreachable(
                "the bootstrap stream was cut off; it resumes where it stopped".into(),
            ));
        }
        self.store.finish_bootstrap().await.map_err(local)?;
        // Statuses, fields and views this store had under other ids than the org's.
        self.store.dedupe_settings().await.map_err(local)?;
        if let Some(h) = &self.hooks.changed {
            h(())
        }
        Ok(())
    }

    async fn flush(
        &mut self,
        batch: &mut Vec<Change>,
        snapshot: i64,
        sweep: bool,
        progress: &mut BootstrapProgress,
        started: std::time::Instant,
    ) -> Result<(), Failure> {
        let Some(last) = batch.last().map(|c| c.id.clone()) else {
            return Ok(());
        };
        self.store
            .apply_changes(
                batch,
                Progress::Bootstrap {
                    snapshot_seq: snapshot,
                    after_id: last,
                    sweep,
                },
            )
            .await
            .map_err(|e| skew_or_local(e, self.now() as i64))?;
        progress.done += batch.len();
        self.report.bootstrapped += batch.len();
        progress.per_second = progress.done as f64 / started.elapsed().as_secs_f64().max(1e-6);
        if let Some(h) = &self.hooks.bootstrap {
            h(*progress)
        }
        batch.clear();
        Ok(())
    }
}

fn skew_or_local(e: rapport_store::Error, server_time: i64) -> Failure {
    if e.code() == "clock_skew" {
        return Failure::Api {
            code: ErrorCode::ClockSkew,
            message: e.to_string(),
            server_time: Some(server_time),
        };
    }
    local(e)
}

/// A failure as the shells show it.
pub fn failure_error(f: &Failure) -> AppError {
    match f {
        Failure::Unreachable(m) => AppError::new(
            "server_unreachable",
            format!("the team server cannot be reached: {m}"),
        ),
        Failure::Local(m) => AppError::new("sync_failed", m.clone()),
        Failure::Api { code, message, .. } => {
            let c = serde_json::to_value(code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            AppError::new(&c, message.clone())
        }
    }
}

impl Driver<Http> {
    /// Stays connected until `stop` fires: the event socket (pokes, revocation, presence),
    /// local writes (`local` is nudged after each), and the machine's timers.
    pub async fn run(
        mut self,
        mut local: tokio::sync::mpsc::UnboundedReceiver<()>,
        mut stop: tokio::sync::watch::Receiver<bool>,
        presence_out: tokio::sync::mpsc::UnboundedReceiver<ClientMessage>,
    ) -> Result<Report> {
        enum Sock {
            Up,
            Down,
            Msg(ServerMessage),
        }
        let (sock_tx, mut sock_rx) = tokio::sync::mpsc::unbounded_channel::<Sock>();
        let presence_out = Arc::new(tokio::sync::Mutex::new(presence_out));
        let mut socket: Option<tokio::task::JoinHandle<()>> = None;
        let mut actions = self.start().await?;
        loop {
            if let Some(r) = actions.iter().find_map(|a| match a {
                Action::Send(r) => Some(r.clone()),
                _ => None,
            }) {
                let outcome = self.exec(&r).await;
                if matches!(outcome, Outcome::Ok { .. }) {
                    let _ = self.store.record_sync_outcome(None).await;
                }
                actions = self.feed(Event::Done(r, outcome));
                continue;
            }
            if std::mem::take(&mut self.disconnect)
                && let Some(s) = socket.take()
            {
                s.abort();
            }
            if std::mem::take(&mut self.connect) {
                if let Some(s) = socket.take() {
                    s.abort();
                }
                let http = self.transport.clone();
                let cursor = self
                    .store
                    .sync_state()
                    .await?
                    .map(|s| s.pull_cursor)
                    .unwrap_or(0);
                let tx = sock_tx.clone();
                let presence_out = presence_out.clone();
                socket = Some(tokio::spawn(async move {
                    match http.events(cursor).await {
                        Ok((mut messages, out)) => {
                            let fwd = tokio::spawn(async move {
                                let mut rx = presence_out.lock().await;
                                while let Some(m) = rx.recv().await {
                                    if out.send(m).is_err() {
                                        break;
                                    }
                                }
                            });
                            let _ = tx.send(Sock::Up);
                            while let Some(m) = messages.next().await {
                                if tx.send(Sock::Msg(m)).is_err() {
                                    break;
                                }
                            }
                            fwd.abort();
                        }
                        Err(Failure::Api {
                            code: ErrorCode::Unauthorized,
                            ..
                        }) => {
                            let _ = tx.send(Sock::Msg(ServerMessage::Revoked));
                        }
                        Err(_) => {}
                    }
                    // A closed socket or a failed connect.
                    let _ = tx.send(Sock::Down);
                }));
            }
            let now = self.now();
            let sleep = Duration::from_millis(self.wake.saturating_sub(now).min(3_600_000));
            let ev = tokio::select! {
                _ = tokio::time::sleep(sleep) => Event::Tick,
                Some(()) = local.recv() => {
                    while local.try_recv().is_ok() {}
                    Event::LocalChange
                }
                Some(m) = sock_rx.recv() => match m {
                    Sock::Up => Event::SocketUp,
                    Sock::Down => Event::SocketDown,
                    Sock::Msg(ServerMessage::Poke { seq }) => {
                        let cursor = self.store.sync_state().await?.map(|s| s.pull_cursor).unwrap_or(0);
                        Event::Poke { seq, cursor }
                    }
                    Sock::Msg(ServerMessage::Revoked) => Event::Revoked,
                    Sock::Msg(ServerMessage::Presence { entries }) => {
                        if let Some(h) = &self.hooks.presence { h(entries) }
                        continue;
                    }
                    Sock::Msg(ServerMessage::Ping) => continue,
                },
                _ = stop.changed() => break,
            };
            actions = self.feed(ev);
        }
        if let Some(s) = socket.take() {
            s.abort();
        }
        Ok(self.report.clone())
    }
}
