//! The simulated network between clients and the server: every request can be lost before
//! the server sees it (a server crash before commit looks the same), its answer can be lost
//! after the server committed, it can be delivered twice, a client can be partitioned away,
//! and a bootstrap stream can be cut mid-way. Every fault is drawn from the seeded generator.

use crate::server::SimServer;
use futures_util::stream;
use rapport_app::sync::Transport;
use rapport_app::sync::driver::ClientBound;
use rapport_app::sync::http::Lines;
use rapport_core::ops::Rng;
use rapport_sync::client::Failure;
use rapport_sync::wire::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Shared network state.
pub struct Net {
    pub rng: Mutex<Rng>,
    pub faults: AtomicBool,
    pub partitioned: Mutex<HashSet<String>>,
    /// The simulation's clock (ms), the server's time.
    pub now: Arc<AtomicI64>,
    /// Every push the server received (for the idempotent-replay check).
    pub pushes: Mutex<Vec<(String, PushRequest)>>,
    pub stats: Mutex<NetStats>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct NetStats {
    pub requests: u64,
    pub lost_requests: u64,
    pub lost_answers: u64,
    pub duplicates: u64,
    pub cut_streams: u64,
    pub partitioned: u64,
}

pub enum Fate {
    Deliver,
    LoseRequest,
    LoseAnswer,
    Duplicate,
}

impl Net {
    pub fn new(seed: u64, now: Arc<AtomicI64>) -> Net {
        Net {
            rng: Mutex::new(Rng(seed ^ 0x5eed)),
            faults: AtomicBool::new(true),
            partitioned: Mutex::new(HashSet::new()),
            now,
            pushes: Mutex::new(Vec::new()),
            stats: Mutex::new(NetStats::default()),
        }
    }

    pub fn roll(&self, n: u64) -> u64 {
        self.rng.lock().map(|mut r| r.below(n)).unwrap_or(0)
    }

    fn fate(&self, device: &str) -> Result<Fate, Failure> {
        let mut st = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        st.requests += 1;
        if self
            .partitioned
            .lock()
            .map(|p| p.contains(device))
            .unwrap_or(false)
        {
            st.partitioned += 1;
            return Err(Failure::Unreachable("partitioned".into()));
        }
        if !self.faults.load(Ordering::SeqCst) {
            return Ok(Fate::Deliver);
        }
        drop(st);
        let r = self.roll(100);
        let mut st = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        Ok(match r {
            0..4 => {
                st.lost_requests += 1;
                Fate::LoseRequest
            }
            4..8 => {
                st.lost_answers += 1;
                Fate::LoseAnswer
            }
            8..11 => {
                st.duplicates += 1;
                Fate::Duplicate
            }
            _ => Fate::Deliver,
        })
    }

    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

fn api(e: ApiError) -> Failure {
    Failure::Api {
        code: e.code,
        message: e.message,
        server_time: e.server_time,
    }
}

/// One client's link to the server.
pub struct SimTransport<S: SimServer> {
    pub server: Arc<S>,
    pub net: Arc<Net>,
    pub device: String,
    pub user: String,
}

impl<S: SimServer> ClientBound for SimTransport<S> {
    fn set_client(&mut self, _org: &str, _client_id: &str) {
        // Requests carry the client id; nothing is bound here.
    }
}

macro_rules! deliver {
    ($self:ident, $call:expr) => {{
        match $self.net.fate(&$self.device)? {
            Fate::LoseRequest => Err(Failure::Unreachable("request lost".into())),
            Fate::Deliver => $call.await.map_err(api),
            Fate::LoseAnswer => {
                let _ = $call.await;
                Err(Failure::Unreachable("answer lost".into()))
            }
            Fate::Duplicate => {
                let _ = $call.await;
                $call.await.map_err(api)
            }
        }
    }};
}

impl<S: SimServer> Transport for SimTransport<S> {
    async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, Failure> {
        let now = self.net.now();
        deliver!(self, self.server.register(&self.user, req, now))
    }

    async fn push(&self, req: &PushRequest) -> Result<PushResponse, Failure> {
        let now = self.net.now();
        let log = || {
            if let Ok(mut p) = self.net.pushes.lock() {
                p.push((self.user.clone(), req.clone()));
            }
        };
        match self.net.fate(&self.device)? {
            Fate::LoseRequest => Err(Failure::Unreachable("request lost".into())),
            Fate::Deliver => {
                log();
                self.server.push(&self.user, req, now).await.map_err(api)
            }
            Fate::LoseAnswer => {
                log();
                let _ = self.server.push(&self.user, req, now).await;
                Err(Failure::Unreachable("answer lost".into()))
            }
            Fate::Duplicate => {
                log();
                let _ = self.server.push(&self.user, req, now).await;
                self.server.push(&self.user, req, now).await.map_err(api)
            }
        }
    }

    async fn pull(&self, since: i64, limit: usize) -> Result<ChangesPage, Failure> {
        let now = self.net.now();
        deliver!(self, self.server.pull(&self.user, since, limit, now))
    }

    async fn bootstrap(&self, after_id: Option<String>) -> Result<Lines, Failure> {
        let now = self.net.now();
        let mut lines = deliver!(
            self,
            self.server.bootstrap(&self.user, after_id.clone(), now)
        )?;
        // Sometimes the stream is cut part way (the end line never arrives).
        if self.net.faults.load(Ordering::SeqCst) && lines.len() > 2 && self.net.roll(4) == 0 {
            let keep = 1 + self.net.roll(lines.len() as u64 - 1) as usize;
            lines.truncate(keep);
            if let Ok(mut s) = self.net.stats.lock() {
                s.cut_streams += 1;
            }
        }
        Ok(Box::pin(stream::iter(lines.into_iter().map(Ok))))
    }
}
