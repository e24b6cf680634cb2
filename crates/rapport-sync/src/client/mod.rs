//! The client's sync protocol as a pure state machine: `(state, event, now) → actions`. It
//! decides what to ask the server next — register, bootstrap, push, pull — one request at a
//! time, when to retry (jittered exponential backoff), when to poll (no socket: every 60 s),
//! how to recover from each protocol error (clock skew, epoch change, fork, gap, horizon),
//! and what the status line says. A thin driver does the requests and the timers; tests and
//! the simulation drive this without sockets or sleeps.

use crate::wire::ErrorCode;
use serde::Serialize;

/// Timing knobs (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Poll this often while the socket is down (pokes are only an accelerator).
    pub poll_ms: u64,
    /// Poll this often while the socket is up (a missed poke costs at most this).
    pub poll_connected_ms: u64,
    /// First retry delay after a failure; doubles per failure.
    pub backoff_ms: u64,
    /// Longest retry delay (SYNC.md §1.8: capped at 5 min).
    pub max_backoff_ms: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            poll_ms: 60_000,
            poll_connected_ms: 300_000,
            backoff_ms: 1_000,
            max_backoff_ms: 300_000,
        }
    }
}

/// One request the driver performs (then reports with [`Event::Done`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "request")]
pub enum Request {
    /// Register (idempotently) this device's client id; learn the epoch.
    Register,
    /// Stream the org's records (resuming where a cut one stopped).
    Bootstrap,
    /// Push a batch of the outbox.
    Push,
    /// Pull a page of changes after the cursor.
    Pull,
    /// Store the server's clock offset and re-stamp pending changes (after `clock_skew`).
    Restamp { offset_ms: i64 },
    /// Start over as a new client: a new client id (and node id after a fork), pending
    /// changes renumbered; after a server restore every record queued again and the cursor
    /// and bootstrap reset.
    Restart { fork: bool, restored: bool },
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; `more` when another request of the same kind should follow at once (more
    /// outbox, `has_more` pages). `server_time`: the server's clock, when the answer had it.
    Ok {
        more: bool,
    },
    Failed(Failure),
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer (refused, timed out, cut off) or a 5xx: retry with backoff.
    Unreachable(String),
    /// A protocol answer with its code; `server_time` for `clock_skew`.
    Api {
        code: ErrorCode,
        message: String,
        server_time: Option<i64>,
    },
    /// Something local went wrong (the store): retry with backoff.
    Local(String),
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The driver started: what the store says.
    Start {
        registered: bool,
        bootstrapped: bool,
        pending: bool,
    },
    /// A local write happened (something may be waiting to push).
    LocalChange,
    /// The server's sequence reached `seq`; `cursor` is where this client is.
    Poke {
        seq: i64,
        cursor: i64,
    },
    SocketUp,
    SocketDown,
    /// A timer the machine asked for fired.
    Tick,
    /// The user asked to sync now (also clears a stop after an auth error).
    SyncNow,
    /// The server revoked this device's token (on the socket).
    Revoked,
    /// A request ended.
    Done(Request, Outcome),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Request),
    /// Open the event socket (the driver reports `SocketUp`/`SocketDown`).
    Connect,
    /// Close the socket and do nothing more until `SyncNow` (credentials are gone).
    Disconnect,
    /// Deliver `Tick` at this time (ms), replacing any earlier wake-up.
    WakeAt(u64),
    /// The status changed.
    Status(Status),
}

/// The status line: synced, working, offline since, or stopped with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Status {
    /// Nothing to push, nothing known to pull.
    Synced,
    /// A request is running or queued.
    Syncing,
    /// The server could not be reached since `since_ms`; retrying at `retry_ms`.
    Offline {
        since_ms: u64,
        retry_ms: u64,
        reason: String,
    },
    /// Stopped until the user acts (signed out elsewhere, revoked, no longer a member).
    Stopped { code: String, message: String },
    /// The last request failed with a protocol error; retrying at `retry_ms`.
    Error {
        code: String,
        message: String,
        retry_ms: u64,
    },
}

/// The machine's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    cfg: Config,
    registered: bool,
    bootstrapped: bool,
    push_wanted: bool,
    pull_wanted: bool,
    in_flight: Option<Request>,
    /// Recovery requests to run before anything else, in order.
    queue: Vec<Request>,
    failures: u32,
    retry_at: Option<u64>,
    offline_since: Option<u64>,
    next_poll: u64,
    socket_up: bool,
    socket_wanted: bool,
    socket_failures: u32,
    socket_retry_at: Option<u64>,
    stopped: bool,
    /// The server refused a push as not allowed (a viewer): pull only; local changes stay
    /// on this device (counted as pending) until the role allows pushing again (`SyncNow`).
    read_only: bool,
    status: Status,
    /// Deterministic jitter source (SplitMix64).
    seed: u64,
}

impl Client {
    pub fn new(cfg: Config, seed: u64) -> Client {
        Client {
            cfg,
            registered: false,
            bootstrapped: false,
            push_wanted: true,
            pull_wanted: true,
            in_flight: None,
            queue: Vec::new(),
            failures: 0,
            retry_at: None,
            offline_since: None,
            next_poll: 0,
            socket_up: false,
            socket_wanted: false,
            socket_failures: 0,
            socket_retry_at: None,
            stopped: false,
            read_only: false,
            status: Status::Syncing,
            seed,
        }
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Nothing to do and nothing running (a one-shot sync is finished).
    pub fn idle(&self) -> bool {
        self.in_flight.is_none()
            && self.queue.is_empty()
            && (!self.push_wanted || self.read_only)
            && !self.pull_wanted
            && self.registered
            && self.bootstrapped
    }

    pub fn in_flight(&self) -> Option<&Request> {
        self.in_flight.as_ref()
    }

    fn jitter(&mut self, max: u64) -> u64 {
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % max.max(1)
    }

    fn backoff(&mut self, failures: u32) -> u64 {
        let exp = self
            .cfg
            .backoff_ms
            .saturating_mul(1u64 << failures.saturating_sub(1).min(20));
        let d = exp.min(self.cfg.max_backoff_ms);
        // Full jitter in the upper half: spread reconnect storms, never retry at once.
        d / 2 + self.jitter(d / 2 + 1)
    }

    /// Feeds one event; returns what to do.
    pub fn step(&mut self, event: Event, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start {
                registered,
                bootstrapped,
                pending,
            } => {
                self.registered = registered;
                self.bootstrapped = bootstrapped;
                self.push_wanted = pending || !registered;
                self.pull_wanted = true;
                self.socket_wanted = true;
                self.next_poll = now + self.cfg.poll_ms;
            }
            Event::LocalChange => self.push_wanted = true,
            Event::Poke { seq, cursor } => {
                if seq > cursor {
                    self.pull_wanted = true;
                }
            }
            Event::SocketUp => {
                self.socket_up = true;
                self.socket_failures = 0;
                self.socket_retry_at = None;
                // Catch up on what happened while it was down.
                self.pull_wanted = true;
                self.next_poll = now + self.cfg.poll_connected_ms;
            }
            Event::SocketDown => {
                self.socket_up = false;
                if self.socket_wanted && !self.stopped {
                    self.socket_failures += 1;
                    let d = self.backoff(self.socket_failures);
                    self.socket_retry_at = Some(now + d);
                }
                self.next_poll = self.next_poll.min(now + self.cfg.poll_ms);
            }
            Event::Tick => {
                if now >= self.next_poll {
                    self.pull_wanted = true;
                    self.next_poll = now
                        + if self.socket_up {
                            self.cfg.poll_connected_ms
                        } else {
                            self.cfg.poll_ms
                        };
                }
            }
            Event::Revoked => {
                self.stopped = true;
                self.socket_wanted = false;
                out.push(Action::Disconnect);
                self.status = Status::Stopped {
                    code: "revoked".into(),
                    message: "this device's sign-in was revoked on the server".into(),
                };
            }
            Event::SyncNow => {
                self.stopped = false;
                self.read_only = false;
                self.retry_at = None;
                self.failures = 0;
                self.push_wanted = true;
                self.pull_wanted = true;
                self.socket_wanted = true;
                self.socket_retry_at = None;
            }
            Event::Done(req, outcome) => {
                if self.in_flight.as_ref() == Some(&req) {
                    self.in_flight = None;
                }
                self.done(req, outcome, now, &mut out);
            }
        }
        self.next(now, &mut out);
        out
    }

    fn done(&mut self, req: Request, outcome: Outcome, now: u64, out: &mut Vec<Action>) {
        match outcome {
            Outcome::Ok { more } => {
                self.failures = 0;
                self.retry_at = None;
                self.offline_since = None;
                match req {
                    Request::Register => self.registered = true,
                    Request::Bootstrap => {
                        self.bootstrapped = true;
                        self.pull_wanted = true;
                    }
                    Request::Push => {
                        self.push_wanted = more;
                        // What the server merged (a note body) comes back by pull.
                        self.pull_wanted = true;
                    }
                    Request::Pull => self.pull_wanted = more,
                    Request::Restamp { .. } => self.push_wanted = true,
                    Request::Restart { restored, .. } => {
                        self.registered = false;
                        self.push_wanted = true;
                        self.pull_wanted = true;
                        if restored {
                            self.bootstrapped = false;
                        }
                    }
                }
            }
            Outcome::Failed(f) => self.failed(req, f, now, out),
        }
    }

    fn failed(&mut self, req: Request, f: Failure, now: u64, out: &mut Vec<Action>) {
        let retry = |c: &mut Client| {
            c.failures += 1;
            let d = c.backoff(c.failures);
            c.retry_at = Some(now + d);
            now + d
        };
        match f {
            Failure::Unreachable(reason) => {
                let at = retry(self);
                let since = *self.offline_since.get_or_insert(now);
                self.status = Status::Offline {
                    since_ms: since,
                    retry_ms: at,
                    reason,
                };
            }
            Failure::Local(message) => {
                let at = retry(self);
                self.status = Status::Error {
                    code: "local".into(),
                    message,
                    retry_ms: at,
                };
            }
            Failure::Api {
                code,
                message,
                server_time,
            } => {
                self.offline_since = None;
                let code_s = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                match code {
                    ErrorCode::Forbidden if req == Request::Push => {
                        // Signed in, but may not change records (a viewer): keep pulling.
                        self.read_only = true;
                        self.failures = 0;
                        self.retry_at = None;
                        return;
                    }
                    ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::NotFound => {
                        // Credentials or membership are gone: stop, keep the data, say why.
                        self.stopped = true;
                        self.socket_wanted = false;
                        out.push(Action::Disconnect);
                        self.status = Status::Stopped {
                            code: code_s,
                            message,
                        };
                    }
                    ErrorCode::ClockSkew => {
                        let offset = server_time.map(|t| t - now as i64).unwrap_or(0);
                        self.queue.push(Request::Restamp { offset_ms: offset });
                    }
                    ErrorCode::EpochChanged => self.queue.push(Request::Restart {
                        fork: false,
                        restored: true,
                    }),
                    ErrorCode::ClientForked => self.queue.push(Request::Restart {
                        fork: true,
                        restored: false,
                    }),
                    // The server has lost ops it had acknowledged (a restore the epoch did
                    // not announce): as after a restore.
                    ErrorCode::Gap => self.queue.push(Request::Restart {
                        fork: false,
                        restored: true,
                    }),
                    ErrorCode::MustRebootstrap => {
                        // Push first (still valid: the merge decides), then start over.
                        self.bootstrapped = false;
                        self.push_wanted = true;
                    }
                    _ => {
                        let at = retry(self);
                        self.status = Status::Error {
                            code: code_s,
                            message,
                            retry_ms: at,
                        };
                        if req == Request::Push {
                            self.push_wanted = true;
                        }
                    }
                }
            }
        }
        match req {
            Request::Push => self.push_wanted = true,
            Request::Pull => self.pull_wanted = true,
            Request::Restamp { .. } | Request::Restart { .. } if !self.queue.contains(&req) => {
                self.queue.insert(0, req);
            }
            _ => {}
        }
    }

    /// Picks the next request (if none is running and no retry is pending) and the next
    /// wake-up.
    fn next(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.stopped {
            return;
        }
        if self.socket_wanted
            && !self.socket_up
            && self.registered
            && self.socket_retry_at.is_none_or(|t| now >= t)
        {
            self.socket_retry_at = Some(u64::MAX);
            out.push(Action::Connect);
        }
        let waiting = self.retry_at.is_some_and(|t| now < t);
        if self.in_flight.is_none() && !waiting {
            let req = if !self.queue.is_empty() {
                Some(self.queue.remove(0))
            } else if !self.registered {
                Some(Request::Register)
            } else if self.push_wanted && !self.read_only {
                // Push before anything else: a client's own changes are the ones only it has
                // (also before a re-bootstrap).
                Some(Request::Push)
            } else if !self.bootstrapped {
                Some(Request::Bootstrap)
            } else if self.pull_wanted {
                Some(Request::Pull)
            } else {
                None
            };
            if let Some(r) = req {
                self.in_flight = Some(r.clone());
                out.push(Action::Send(r));
            }
        }
        let status = if self.in_flight.is_some() && self.failures == 0 {
            Some(Status::Syncing)
        } else if self.idle() {
            Some(Status::Synced)
        } else {
            None
        };
        if let Some(s) = status
            && s != self.status
        {
            self.status = s;
        }
        if out.iter().all(|a| !matches!(a, Action::Status(_))) {
            out.push(Action::Status(self.status.clone()));
        }
        let mut wake = self.next_poll;
        if let Some(t) = self.retry_at.filter(|t| *t > now) {
            wake = wake.min(t);
        }
        if let Some(t) = self.socket_retry_at.filter(|t| *t > now && *t != u64::MAX) {
            wake = wake.min(t);
        }
        out.push(Action::WakeAt(wake));
    }
}

#[cfg(test)]
mod tests;
