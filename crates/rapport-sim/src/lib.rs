//! Deterministic simulation of team sync (SYNC.md §2.2, rows 4 and 6): 3–8 clients, each a
//! real store on a temp file with the real sync driver, and one server (the team server's own
//! storage, in-process), joined by a simulated network that loses requests and answers,
//! delivers twice, partitions clients and cuts bootstrap streams; clients' clocks are skewed
//! by up to ±10 min and jump; clients are killed between any two steps (keeping only what
//! they committed) and copied to a second machine. Everything is drawn from one seed, and
//! time is simulated, so a failing seed replays exactly. At quiescence the invariants of
//! §2.1 are checked ([`oracle`]).

pub mod net;
pub mod oracle;
pub mod server;

use net::{Net, NetStats, SimTransport};
use oracle::{Oracle, store_records};
use rapport_app::App;
use rapport_app::sync::Driver;
use rapport_core::ops::{LeadPatch, NewContact, NewLead, NotePatch, Rng};
use rapport_core::*;
use rapport_store::{Join, Store};
use rapport_sync::client::{Action, Event, Outcome, Request};
use server::SimServer;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// One run's shape.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub seed: u64,
    pub clients: usize,
    pub steps: usize,
}

impl Config {
    /// The run for `seed`: 3–8 clients.
    pub fn for_seed(seed: u64, steps: usize) -> Config {
        Config {
            seed,
            clients: 3 + (seed % 6) as usize,
            steps,
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Outcome2 {
    pub net: NetStats,
    pub ops: usize,
    pub crashes: usize,
    pub clones: usize,
    pub lines: usize,
    pub conflicts: usize,
    pub records: usize,
}

const MIN: i64 = 60_000;

struct Client<S: SimServer> {
    name: String,
    email: String,
    db: PathBuf,
    skew: Arc<AtomicI64>,
    seed: u64,
    app: Option<App>,
    driver: Option<Driver<SimTransport<S>>>,
    actions: Vec<Action>,
}

fn clock(now: &Arc<AtomicI64>, skew: &Arc<AtomicI64>) -> rapport_store::Clock {
    let (now, skew) = (now.clone(), skew.clone());
    Arc::new(move || {
        let ms = now.load(Ordering::SeqCst) + skew.load(Ordering::SeqCst);
        chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
    })
}

struct Sim<S: SimServer> {
    server: Arc<S>,
    net: Arc<Net>,
    now: Arc<AtomicI64>,
    rng: Rng,
    clients: Vec<Client<S>>,
    oracle: Oracle,
    out: Outcome2,
    dir: tempfile::TempDir,
}

impl<S: SimServer + 'static> Sim<S> {
    async fn open(&mut self, i: usize) -> Result<(), String> {
        let c = &mut self.clients[i];
        if c.app.is_some() {
            return Ok(());
        }
        let store = Store::open_with(&c.db, clock(&self.now, &c.skew), Some(c.seed))
            .await
            .map_err(|e| format!("{}: open: {e}", c.name))?;
        // A reopened process draws other ids than the one that crashed.
        c.seed = Rng(c.seed).next_u64();
        let app = App::from_store(store.clone());
        let transport = SimTransport {
            server: self.server.clone(),
            net: self.net.clone(),
            device: c.name.clone(),
            user: c.email.clone(),
        };
        let mut d = Driver::new(store, transport, &c.name, c.seed);
        c.actions = d
            .start()
            .await
            .map_err(|e| format!("{}: start: {e}", c.name))?;
        c.app = Some(app);
        c.driver = Some(d);
        Ok(())
    }

    fn crash(&mut self, i: usize) {
        let c = &mut self.clients[i];
        c.app = None;
        c.driver = None;
        c.actions.clear();
    }

    /// One protocol step of client `i`: its next request, else a timer tick.
    async fn drive(&mut self, i: usize) -> Result<bool, String> {
        self.open(i).await?;
        let next = self.clients[i].actions.iter().find_map(|a| match a {
            Action::Send(r) => Some(r.clone()),
            _ => None,
        });
        match next {
            Some(r) => {
                let outcome = self.exec(i, &r).await?;
                let c = &mut self.clients[i];
                let d = c.driver.as_mut().expect("opened");
                if std::env::var_os("RAPPORT_SIM_TRACE").is_some() {
                    let st = d.store.sync_state().await.ok().flatten();
                    eprintln!(
                        "step {}: {r:?} -> {outcome:?} acked {:?} base {:?} client {:?}",
                        c.name,
                        st.as_ref().map(|s| s.acked_seq),
                        st.as_ref().map(|s| s.seq_base),
                        st.as_ref().map(|s| s.client_id.clone())
                    );
                }
                c.actions = d.feed(Event::Done(r, outcome));
                Ok(true)
            }
            None => {
                let c = &mut self.clients[i];
                let d = c.driver.as_mut().expect("opened");
                c.actions = d.feed(Event::Tick);
                Ok(false)
            }
        }
    }

    /// Adds the actions of a new event, keeping a request asked for earlier and not yet made
    /// (the machine waits for its outcome).
    fn also(c: &mut Client<S>, new: Vec<Action>) {
        c.actions.retain(|a| matches!(a, Action::Send(_)));
        c.actions.extend(new);
    }

    async fn poke(&mut self, i: usize) -> Result<(), String> {
        self.open(i).await?;
        let seq = self.server.last_seq().await;
        let c = &mut self.clients[i];
        let d = c.driver.as_mut().expect("opened");
        let cursor = d
            .store
            .sync_state()
            .await
            .map_err(|e| e.to_string())?
            .map(|s| s.pull_cursor)
            .unwrap_or(0);
        let new = d.feed(Event::Poke { seq, cursor });
        Self::also(c, new);
        Ok(())
    }

    /// Runs one request of client `i`; a re-stamp maps what it changed in the oracle.
    async fn exec(&mut self, i: usize, r: &Request) -> Result<Outcome, String> {
        let restamp = matches!(r, Request::Restamp { .. });
        let store = self.clients[i]
            .driver
            .as_ref()
            .expect("opened")
            .store
            .clone();
        let before = if restamp {
            Some(store_records(&store).await?)
        } else {
            None
        };
        let outcome = self.clients[i]
            .driver
            .as_mut()
            .expect("opened")
            .exec(r)
            .await;
        if let Some(before) = before {
            let after = store_records(&store).await?;
            let st = store.joined_state().await.map_err(|e| e.to_string())?;
            let now = store.now().timestamp_millis() + st.clock_offset_ms;
            let limit = (now + rapport_sync::wire::MAX_FUTURE_SKEW_MS) as u64;
            for (k, st) in &after {
                let Some(old) = before.get(k) else { continue };
                for key in st.keys() {
                    let (o, n) = (old.effective(&key), st.effective(&key));
                    if o != n {
                        self.oracle.remap(&k.0, &k.1, &key, o, n, limit);
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Records every record the latest local write of client `i` stamped.
    async fn record_commit(&mut self, i: usize) -> Result<(), String> {
        let app = self.clients[i].app.as_ref().expect("opened");
        let s = app.store();
        let time = s
            .meta("hlc")
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let node = s
            .meta("node_id")
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let stamp = format!("{}{node}", &time[..16.min(time.len())]);
        for (k, st) in store_records(s).await? {
            if st.clocks.values().any(|c| c.to_string() == stamp) {
                self.oracle.committed(&k.0, &k.1, &st);
            }
        }
        Ok(())
    }

    /// A random local write on client `i`, through the app's use cases.
    async fn local_op(&mut self, i: usize) -> Result<(), String> {
        self.open(i).await?;
        let roll = self.rng.below(100);
        let pick = self.rng.next_u64();
        let app = self.clients[i].app.clone().expect("opened");
        let leads = app
            .list_leads(0, 1000)
            .await
            .map_err(|e| e.to_string())?
            .rows;
        let lead =
            (!leads.is_empty()).then(|| leads[(pick % leads.len() as u64) as usize].id.clone());
        let lead: Option<Id> = lead.and_then(|l| l.parse().ok());
        let name = self.clients[i].name.clone();
        let n = self.out.ops;
        let mut typed: Option<(String, String)> = None;
        let res: Result<(), rapport_app::AppError> = async {
            match (roll, lead) {
                (0..18, _) | (_, None) => {
                    app.create_lead(NewLead {
                        name: format!("Lead {name} {n}"),
                        ..Default::default()
                    })
                    .await?;
                }
                (18..40, Some(l)) => {
                    let patch = match pick % 4 {
                        0 => LeadPatch {
                            name: Some(format!("Renamed by {name} {n}")),
                            ..Default::default()
                        },
                        1 => LeadPatch {
                            url: Some(format!("https://{name}-{n}.example")),
                            ..Default::default()
                        },
                        2 => LeadPatch {
                            description: Some(format!("about {n} from {name}")),
                            ..Default::default()
                        },
                        _ => LeadPatch {
                            status_label: Some(
                                ["Potential", "Qualified", "Customer", "Cold"]
                                    [(pick / 7 % 4) as usize]
                                    .into(),
                            ),
                            ..Default::default()
                        },
                    };
                    app.update_lead(l, patch).await?;
                }
                (40..52, Some(l)) => {
                    let mut custom = Custom::new();
                    if pick.is_multiple_of(3) {
                        custom.insert("Source".into(), serde_json::json!(format!("{name}-{n}")));
                    } else if pick % 3 == 1 {
                        custom.insert("Size".into(), serde_json::json!(n as i64));
                    } else {
                        custom.insert("Source".into(), serde_json::Value::Null);
                    }
                    app.update_lead(
                        l,
                        LeadPatch {
                            custom: Some(custom),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
                (52..58, Some(l)) => app.delete_lead(l).await?,
                (58..62, _) => {
                    // Undelete a lead this client has as a tombstone.
                    let dead: Option<String> = sqlx::query_scalar(
                        "SELECT id FROM leads WHERE deleted = 1 ORDER BY id LIMIT 1 OFFSET ?",
                    )
                    .bind((pick % 3) as i64)
                    .fetch_optional(app.store().pool())
                    .await
                    .map_err(|e| rapport_app::AppError::new("database", e.to_string()))?;
                    if let Some(d) = dead.and_then(|d| d.parse().ok()) {
                        app.undelete_lead(d).await?;
                    }
                }
                (62..72, Some(l)) => {
                    let line = format!("{name} line {n}");
                    let a = add_note(&app, l, &line).await?;
                    typed = Some((a.id.to_string(), line));
                }
                (72..92, Some(l)) => {
                    let page = app.store().lead_page(l).await?;
                    let note = page
                        .timeline
                        .iter()
                        .find(|a| matches!(a.kind, ActivityKind::Note(_)))
                        .cloned();
                    let line = format!("{name} line {n}");
                    match note {
                        Some(Activity {
                            id,
                            kind: ActivityKind::Note(nf),
                            ..
                        }) => {
                            app.update_note(
                                id,
                                NotePatch {
                                    note: Some(format!("{}\n{line}", nf.note)),
                                    ..Default::default()
                                },
                            )
                            .await?;
                            typed = Some((id.to_string(), line));
                        }
                        _ => {
                            let a = add_note(&app, l, &line).await?;
                            typed = Some((a.id.to_string(), line));
                        }
                    }
                }
                (_, Some(l)) => {
                    app.add_contact(
                        l,
                        NewContact {
                            name: format!("Contact {name} {n}"),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
            }
            Ok(())
        }
        .await;
        match res {
            Ok(()) => {
                self.out.ops += 1;
                if std::env::var_os("RAPPORT_SIM_TRACE").is_some() {
                    let c = match lead {
                        Some(l) => app
                            .store()
                            .clocks(rapport_core::plan::Entity::Lead, l)
                            .await
                            .ok()
                            .flatten(),
                        None => None,
                    };
                    eprintln!(
                        "op {name}: {roll} lead {lead:?} {:?} clocks {c:?} skew {}",
                        typed,
                        self.clients[i].skew.load(Ordering::SeqCst)
                    );
                }
                if let Some((note, line)) = typed {
                    self.oracle.typed(&note, &line);
                    self.out.lines += 1;
                }
                self.record_commit(i).await
            }
            // A refused operation (a field this client has not pulled yet, a lead deleted
            // meanwhile) writes nothing: nothing to record.
            Err(_) => Ok(()),
        }
    }

    /// Copies client `i`'s store to a new machine (same client id and node: a fork).
    async fn clone_client(&mut self, i: usize) -> Result<(), String> {
        self.open(i).await?;
        // Only a store with nothing pending is copied: two copies that each re-stamp the same
        // pending op after a clock-skew refusal give it two different stamps, and the later
        // one re-asserts the op's values over edits made in between (a known limit of
        // re-stamping; see ARCHITECTURE.md). Forks of copies are still exercised: both copies
        // write new ops under the same client id and local_seq numbers.
        let pending = self.clients[i]
            .driver
            .as_ref()
            .expect("opened")
            .store
            .sync_status()
            .await
            .map_err(|e| e.to_string())?
            .map(|s| s.pending)
            .unwrap_or(0);
        if pending > 0 {
            return Ok(());
        }
        if std::env::var_os("RAPPORT_SIM_TRACE").is_some() {
            eprintln!("clone {} -> c{}", self.clients[i].name, self.clients.len());
        }
        let k = self.clients.len();
        let db = self.dir.path().join(format!("c{k}.db"));
        let app = self.clients[i].app.clone().expect("opened");
        sqlx::query("VACUUM INTO ?")
            .bind(db.display().to_string())
            .execute(app.store().pool())
            .await
            .map_err(|e| e.to_string())?;
        let src = &self.clients[i];
        self.clients.push(Client {
            name: format!("c{k}"),
            email: src.email.clone(),
            db,
            skew: Arc::new(AtomicI64::new(src.skew.load(Ordering::SeqCst))),
            seed: Rng(src.seed ^ k as u64).next_u64(),
            app: None,
            driver: None,
            actions: vec![],
        });
        self.out.clones += 1;
        Ok(())
    }

    /// Heals every fault and syncs everyone until nothing moves.
    async fn quiesce(&mut self) -> Result<(), String> {
        self.net.faults.store(false, Ordering::SeqCst);
        if let Ok(mut p) = self.net.partitioned.lock() {
            p.clear();
        }
        for round in 0..40 {
            let mut moved = false;
            for i in 0..self.clients.len() {
                self.open(i).await?;
                let c = &mut self.clients[i];
                let d = c.driver.as_mut().expect("opened");
                // A request the machine asked for earlier and is waiting on comes first.
                let mut pending = std::mem::take(&mut c.actions);
                pending.retain(|a| matches!(a, Action::Send(_)));
                pending.extend(d.feed(Event::SyncNow));
                c.actions = pending;
                for _ in 0..500 {
                    let Some(r) = self.clients[i].actions.iter().find_map(|a| match a {
                        Action::Send(r) => Some(r.clone()),
                        _ => None,
                    }) else {
                        break;
                    };
                    let before = self.clients[i]
                        .driver
                        .as_ref()
                        .expect("opened")
                        .report
                        .clone();
                    let outcome = self.exec(i, &r).await?;
                    let c = &mut self.clients[i];
                    let d = c.driver.as_mut().expect("opened");
                    if std::env::var_os("RAPPORT_SIM_TRACE").is_some() {
                        eprintln!(
                            "round {round} {}: {r:?} -> {outcome:?} {:?}",
                            c.name, d.report
                        );
                    }
                    if d.report != before || !matches!(outcome, Outcome::Ok { more: false }) {
                        moved = true;
                    }
                    if matches!(r, Request::Restart { .. } | Request::Restamp { .. }) {
                        moved = true;
                    }
                    c.actions = d.feed(Event::Done(r, outcome));
                    self.now.fetch_add(50, Ordering::SeqCst);
                }
            }
            if !moved && round > 0 {
                return Ok(());
            }
        }
        Err("no quiescence after 40 rounds".into())
    }
}

async fn add_note(app: &App, lead: Id, line: &str) -> rapport_app::Result<Activity> {
    app.add_activity(
        lead,
        rapport_core::ops::NewActivity {
            contact_id: None,
            activity_at: None,
            kind: ActivityKind::Note(NoteFields {
                title: None,
                note: line.to_string(),
                pinned: false,
            }),
        },
    )
    .await
}

/// Runs one simulation; `Err` carries the seed and the invariant that failed.
pub async fn run<S: SimServer + 'static>(cfg: Config, server: Arc<S>) -> Result<Outcome2, String> {
    let fail = |m: String| format!("seed {}: {m}", cfg.seed);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let start = 1_800_000_000_000 + (cfg.seed % 1000) as i64 * 1000;
    let now = Arc::new(AtomicI64::new(start));
    let net = Arc::new(Net::new(cfg.seed, now.clone()));
    let mut rng = Rng(cfg.seed);
    let mut clients = Vec::new();
    for k in 0..cfg.clients {
        clients.push(Client {
            name: format!("c{k}"),
            email: format!("user{}@sim.example", k % 3),
            db: dir.path().join(format!("c{k}.db")),
            skew: Arc::new(AtomicI64::new(0)),
            seed: rng.next_u64(),
            app: None,
            driver: None,
            actions: vec![],
        });
    }
    let mut sim = Sim {
        server,
        net,
        now,
        rng,
        clients,
        oracle: Oracle::default(),
        out: Outcome2::default(),
        dir,
    };
    // Every client joins; the first defines the custom fields the others edit.
    for i in 0..cfg.clients {
        let c = &sim.clients[i];
        let store = Store::open_with(&c.db, clock(&sim.now, &c.skew), Some(c.seed))
            .await
            .map_err(|e| fail(e.to_string()))?;
        // The next process on this store draws other ids.
        sim.clients[i].seed = Rng(sim.clients[i].seed).next_u64();
        let c = &sim.clients[i];
        let (user_id, org_id, org_name) = sim.server.member(&c.email).await;
        store
            .join(&Join {
                server_url: "sim".into(),
                org_id,
                org_name,
                user_id,
                user_name: c.email.clone(),
                user_email: Some(c.email.clone()),
                role: "member".into(),
                client_id: format!("client-{}-{i}", cfg.seed),
                device_name: c.name.clone(),
            })
            .await
            .map_err(|e| fail(e.to_string()))?;
        if i == 0 {
            let app = App::from_store(store.clone());
            app.add_field("Source", FieldType::Text, FieldTarget::Lead, vec![])
                .await
                .map_err(|e| fail(e.to_string()))?;
            app.add_field("Size", FieldType::Number, FieldTarget::Lead, vec![])
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        store.close().await;
    }
    for _ in 0..cfg.steps {
        sim.now
            .fetch_add(1 + sim.rng.below(3000) as i64, Ordering::SeqCst);
        let i = sim.rng.below(sim.clients.len() as u64) as usize;
        let r = sim.rng.below(1000);
        let res = match r {
            0..350 => sim.local_op(i).await,
            350..800 => sim.drive(i).await.map(|_| ()),
            800..840 => {
                sim.crash(i);
                sim.out.crashes += 1;
                Ok(())
            }
            840..880 => {
                let name = sim.clients[i].name.clone();
                if let Ok(mut p) = sim.net.partitioned.lock()
                    && !p.remove(&name)
                {
                    p.insert(name);
                }
                Ok(())
            }
            880..920 => {
                // Skew within ±10 min, which also makes clocks jump backwards.
                let skew = sim.rng.below(20 * MIN as u64 + 1) as i64 - 10 * MIN;
                sim.clients[i].skew.store(skew, Ordering::SeqCst);
                Ok(())
            }
            920..925 if sim.clients.len() < 8 => sim.clone_client(i).await,
            _ => sim.poke(i).await,
        };
        res.map_err(&fail)?;
    }
    sim.quiesce().await.map_err(&fail)?;
    // The invariants.
    let server_records = sim.server.records().await;
    let mut dumps = Vec::new();
    for i in 0..sim.clients.len() {
        sim.open(i).await.map_err(&fail)?;
        let c = &sim.clients[i];
        let s = c.app.as_ref().expect("opened").store();
        let st = s
            .sync_status()
            .await
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail("not joined".into()))?;
        if st.pending != 0 {
            return Err(fail(format!(
                "I4: {} still has {} pending (status {:?}, last error {:?}: {:?}, acked {}, base {})",
                c.name,
                st.pending,
                c.driver.as_ref().map(|d| d.client.status().clone()),
                st.state.last_error_code,
                st.state.last_error,
                st.state.acked_seq,
                st.state.seq_base
            )));
        }
        let unknown: Vec<(String, String)> =
            sqlx::query_as("SELECT entity, substr(state, 1, 400) FROM sync_unknown")
                .fetch_all(s.pool())
                .await
                .map_err(|e| fail(e.to_string()))?;
        if !unknown.is_empty() {
            return Err(fail(format!(
                "{} kept records it could not read: {unknown:?}",
                c.name
            )));
        }
        dumps.push((c.name.clone(), store_records(s).await.map_err(&fail)?));
    }
    sim.oracle.check(&server_records, &dumps).map_err(&fail)?;
    // I5: every record at a distinct seq, none past the org's last.
    let last = sim.server.last_seq().await;
    let mut seqs: Vec<i64> = server_records.iter().map(|c| c.seq).collect();
    seqs.sort();
    if seqs.windows(2).any(|w| w[0] == w[1]) || seqs.last().is_some_and(|s| *s > last) {
        return Err(fail(format!("I5: seqs not distinct or past {last}")));
    }
    // I7: replaying every push ever delivered changes nothing.
    let pushes = sim.net.pushes.lock().map(|p| p.clone()).unwrap_or_default();
    for (user, p) in &pushes {
        let _ = sim
            .server
            .push(user, p, sim.now.load(Ordering::SeqCst))
            .await;
    }
    if sim.server.records().await != server_records {
        return Err(fail("I7: replaying the pushes changed the server".into()));
    }
    sim.out.net = sim.net.stats.lock().map(|s| *s).unwrap_or_default();
    sim.out.records = server_records.len();
    sim.out.conflicts = server_records
        .iter()
        .filter(|c| c.entity == "note_conflict")
        .count();
    for c in sim.clients.iter_mut() {
        c.driver = None;
        if let Some(a) = c.app.take() {
            a.store().clone().close().await;
        }
    }
    Ok(sim.out)
}
