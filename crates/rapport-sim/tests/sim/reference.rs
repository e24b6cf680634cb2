//! TEMPORARY: an in-memory reference server used while the real one (rapport-server) is
//! being built; replaced by the real storage before this lands.

use rapport_core::{Hlc, NodeId};
use rapport_sim::server::SimServer;
use rapport_sync::note::{NoteMerge, merge3};
use rapport_sync::state::{RecordState, merge};
use rapport_sync::wire::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Default)]
struct St {
    last_seq: i64,
    records: BTreeMap<String, Change>,
    clients: HashMap<String, (i64, Option<String>)>,
    revisions: HashMap<(String, i64), String>,
    hlc: Option<Hlc>,
    ops_seen: i64,
    op_ids: HashMap<(String, i64), String>,
}

#[derive(Default)]
pub struct RefServer {
    st: Mutex<St>,
}

impl SimServer for RefServer {
    async fn member(&self, user: &str) -> (String, String, String) {
        let h = user.bytes().fold(0u128, |a, b| a * 31 + b as u128) & ((1u128 << 80) - 1);
        (
            rapport_core::Id(ulid::Ulid::from_parts(1, h)).to_string(),
            "ORG".into(),
            "Org".into(),
        )
    }
    async fn register(
        &self,
        _u: &str,
        c: &RegisterRequest,
        now: i64,
    ) -> Result<RegisterResponse, ApiError> {
        let user_id = self.member(_u).await.0;
        let mut s = self.st.lock().unwrap();
        let e = s
            .clients
            .entry(c.client_id.clone())
            .or_insert((0, None))
            .clone();
        Ok(RegisterResponse {
            epoch: "E".into(),
            applied_local_seq: e.0,
            applied_op_id: e.1,
            server_time: now,
            horizon_seq: 0,
            last_seq: s.last_seq,
            user_id,
            role: "member".into(),
        })
    }
    async fn push(&self, _u: &str, req: &PushRequest, now: i64) -> Result<PushResponse, ApiError> {
        let mut s = self.st.lock().unwrap();
        let (applied, op_id) = s.clients.get(&req.client_id).cloned().unwrap_or((0, None));
        let mut results = vec![];
        let mut through = applied;
        for op in &req.ops {
            if op.local_seq <= applied {
                let _ = &op_id;
                if s.op_ids
                    .get(&(req.client_id.clone(), op.local_seq))
                    .is_some_and(|o| *o != op.op_id)
                {
                    return Err(ApiError::new(ErrorCode::ClientForked, "forked"));
                }
                results.push(OpResult {
                    local_seq: op.local_seq,
                    status: OpStatus::Duplicate,
                    seq: None,
                    conflict_id: None,
                    error: None,
                });
                continue;
            }
            if op.local_seq != through + 1 {
                let mut e = ApiError::new(ErrorCode::Gap, "gap");
                e.applied_local_seq = Some(through);
                return Err(e);
            }
            if op
                .state
                .max_clock()
                .is_some_and(|c| c.ms as i64 > now + MAX_FUTURE_SKEW_MS)
            {
                let mut e = ApiError::new(ErrorCode::ClockSkew, "skew");
                e.server_time = Some(now);
                return Err(e);
            }
            through = op.local_seq;
        }
        for op in req.ops.iter().filter(|o| o.local_seq > applied) {
            s.op_ids
                .insert((req.client_id.clone(), op.local_seq), op.op_id.clone());
            let cur = s
                .records
                .get(&op.id)
                .map(|c| c.state.clone())
                .unwrap_or_default();
            let mut incoming = op.state.clone();
            let mut status = OpStatus::Applied;
            let mut conflict = None;
            let is_note = op.entity == "activity"
                && cur.fields.get("_type").and_then(|t| t.as_str()) == Some("note");
            let cur_rev = s.records.get(&op.id).and_then(|c| c.body_rev);
            let mut new_body: Option<String> = None;
            if is_note
                && let (Some(base), Some(body)) = (
                    op.base_rev,
                    incoming
                        .fields
                        .get("note")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                )
            {
                if Some(base) != cur_rev {
                    let base_text = s
                        .revisions
                        .get(&(op.id.clone(), base))
                        .cloned()
                        .unwrap_or_default();
                    let ours = cur
                        .fields
                        .get("note")
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string();
                    let h = s
                        .hlc
                        .unwrap_or(Hlc::zero(NodeId(99)))
                        .tick(now as u64)
                        .observe(&incoming.max_clock().unwrap(), now as u64)
                        .observe(
                            &cur.max_clock().unwrap_or(Hlc::zero(NodeId(99))),
                            now as u64,
                        );
                    s.hlc = Some(h);
                    match merge3(&base_text, &ours, &body) {
                        NoteMerge::Clean(m) => {
                            status = OpStatus::Merged;
                            incoming.fields.insert("note".into(), m.clone().into());
                            incoming.clocks.insert("note".into(), h);
                            new_body = Some(m);
                        }
                        NoteMerge::Conflict => {
                            status = OpStatus::Conflict;
                            incoming.fields.insert("note".into(), ours.into());
                            incoming.clocks.insert("note".into(), h);
                            s.last_seq += 1;
                            let seq = s.last_seq;
                            let cid =
                                rapport_core::Id(ulid::Ulid::from_parts(now as u64, seq as u128))
                                    .to_string();
                            let lead = cur.fields.get("lead_id").cloned().unwrap_or_default();
                            let mut f = serde_json::Map::new();
                            for (k, v) in [
                                ("id", serde_json::json!(cid)),
                                ("lead_id", lead.clone()),
                                ("note_id", serde_json::json!(op.id)),
                                ("base_rev", serde_json::json!(base)),
                                ("body", serde_json::json!(body)),
                                ("resolved", serde_json::json!(false)),
                                (
                                    "date_created",
                                    serde_json::json!("2026-01-01T00:00:00.000Z"),
                                ),
                                (
                                    "date_updated",
                                    serde_json::json!("2026-01-01T00:00:00.000Z"),
                                ),
                            ] {
                                f.insert(k.into(), v);
                            }
                            let mut cl = rapport_sync::Clocks::new();
                            cl.insert("*".into(), h);
                            s.records.insert(
                                cid.clone(),
                                Change {
                                    seq,
                                    entity: "note_conflict".into(),
                                    id: cid.clone(),
                                    lead_id: lead.as_str().map(str::to_string),
                                    state: RecordState {
                                        fields: f,
                                        clocks: cl,
                                        deleted: false,
                                    },
                                    body_rev: None,
                                    updated_by: None,
                                },
                            );
                            conflict = Some(cid);
                        }
                    }
                } else {
                    // Fast-forward: the body typed over the current revision wins, whatever the
                    // clocks, under a stamp newer than both.
                    let h = s
                        .hlc
                        .unwrap_or(Hlc::zero(NodeId(99)))
                        .tick(now as u64)
                        .observe(&incoming.max_clock().unwrap(), now as u64)
                        .observe(
                            &cur.max_clock().unwrap_or(Hlc::zero(NodeId(99))),
                            now as u64,
                        );
                    s.hlc = Some(h);
                    incoming.clocks.insert("note".into(), h);
                    new_body = Some(body);
                }
            } else if op.entity == "activity"
                && incoming.fields.get("_type").and_then(|t| t.as_str()) == Some("note")
            {
                new_body = incoming
                    .fields
                    .get("note")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
            }
            let merged = merge(&cur, &incoming);
            if merged == cur && conflict.is_none() {
                results.push(OpResult {
                    local_seq: op.local_seq,
                    status: OpStatus::Stale,
                    seq: None,
                    conflict_id: None,
                    error: None,
                });
                continue;
            }
            s.last_seq += 1;
            let seq = s.last_seq;
            let body_rev =
                if new_body.is_some() && merged.fields.get("note") != cur.fields.get("note") {
                    s.revisions.insert(
                        (op.id.clone(), seq),
                        merged
                            .fields
                            .get("note")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .into(),
                    );
                    Some(seq)
                } else {
                    cur_rev
                };
            s.records.insert(
                op.id.clone(),
                Change {
                    seq,
                    entity: op.entity.clone(),
                    id: op.id.clone(),
                    lead_id: op.lead_id.clone(),
                    state: merged,
                    body_rev,
                    updated_by: None,
                },
            );
            results.push(OpResult {
                local_seq: op.local_seq,
                status,
                seq: Some(seq),
                conflict_id: conflict,
                error: None,
            });
        }
        s.ops_seen += 1;
        if std::env::var_os("RAPPORT_SIM_TRACE").is_some() {
            for (op, r) in req
                .ops
                .iter()
                .filter(|o| o.local_seq > applied)
                .zip(&results)
            {
                eprintln!(
                    "server {} op {} {} {} {} {:?} keys {:?}",
                    req.client_id,
                    op.local_seq,
                    op.entity,
                    op.id,
                    op.kind,
                    r.status,
                    op.state.clocks.keys().collect::<Vec<_>>()
                );
            }
            for op in req.ops.iter().filter(|o| o.local_seq <= applied) {
                eprintln!(
                    "server {} dup {} {} {} {} {} stored {:?} keys {:?}",
                    req.client_id,
                    op.local_seq,
                    op.entity,
                    op.id,
                    op.kind,
                    op.op_id,
                    s.op_ids.get(&(req.client_id.clone(), op.local_seq)),
                    op.state.clocks.keys().collect::<Vec<_>>()
                );
            }
        }
        if let Some(last) = req.ops.iter().rfind(|o| o.local_seq > applied) {
            s.clients.insert(
                req.client_id.clone(),
                (last.local_seq, Some(last.op_id.clone())),
            );
        }
        let applied = s.clients.get(&req.client_id).map(|c| c.0).unwrap_or(0);
        Ok(PushResponse {
            applied_through: applied,
            last_seq: s.last_seq,
            results,
            server_time: now,
        })
    }
    async fn pull(
        &self,
        _u: &str,
        since: i64,
        limit: usize,
        now: i64,
    ) -> Result<ChangesPage, ApiError> {
        let s = self.st.lock().unwrap();
        let mut v: Vec<Change> = s
            .records
            .values()
            .filter(|c| c.seq > since)
            .cloned()
            .collect();
        v.sort_by_key(|c| c.seq);
        let has_more = v.len() > limit;
        v.truncate(limit);
        let next = v.last().map(|c| c.seq).unwrap_or(if has_more {
            since
        } else {
            s.last_seq.max(since)
        });
        Ok(ChangesPage {
            epoch: "E".into(),
            changes: v,
            next_since: next,
            has_more,
            last_seq: s.last_seq,
            horizon_seq: 0,
            server_time: now,
        })
    }
    async fn bootstrap(
        &self,
        _u: &str,
        after: Option<String>,
        _now: i64,
    ) -> Result<Vec<BootstrapLine>, ApiError> {
        let s = self.st.lock().unwrap();
        let mut out = vec![BootstrapLine::Header {
            org: "ORG".into(),
            epoch: "E".into(),
            snapshot_seq: s.last_seq,
            estimated: s.records.len() as i64,
        }];
        let mut n = 0;
        for c in s
            .records
            .values()
            .filter(|c| !c.state.deleted && after.as_deref().is_none_or(|a| c.id.as_str() > a))
        {
            out.push(BootstrapLine::Record {
                entity: c.entity.clone(),
                id: c.id.clone(),
                lead_id: c.lead_id.clone(),
                deleted: false,
                fields: c.state.fields.clone(),
                clocks: c.state.clocks.clone(),
                seq: c.seq,
                body_rev: c.body_rev,
            });
            n += 1;
        }
        out.push(BootstrapLine::End {
            count: n,
            snapshot_seq: s.last_seq,
        });
        Ok(out)
    }
    async fn last_seq(&self) -> i64 {
        self.st.lock().unwrap().last_seq
    }
    async fn records(&self) -> Vec<Change> {
        self.st.lock().unwrap().records.values().cloned().collect()
    }
}
