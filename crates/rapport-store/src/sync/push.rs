//! The outbox as pushed ops: each un-acknowledged entry becomes an op carrying the current
//! values and clocks of the fields it names (state-based: a later edit only makes an older
//! entry's op newer, never wrong); an entry whose record a later entry of the same batch
//! names again carries nothing, the later one the union. Acknowledgements delete what the
//! server applied; a `clock_skew` answer re-stamps what is pending; a fork or a server restore
//! renumbers what is pending for a new client id.

use super::SyncState;
use crate::error::{Error, Result};
use crate::{Store, rows};
use rapport_core::plan::Entity;
use rapport_core::{Hlc, NodeId};
use rapport_sync::state::{CREATED, DELETED, MAP_FIELDS, MAX_FIELDS, RecordState};
use rapport_sync::wire::{MAX_FUTURE_SKEW_MS, Op, OpStatus, PushResponse, op_id};
use serde_json::{Map, Value};
use sqlx::Row;
use std::collections::{BTreeSet, HashMap};

/// A record's stored state: its data, clocks and tombstone flag.
pub(crate) fn stored_state(data: &str, clocks: &str, deleted: bool) -> Result<RecordState> {
    let fields: Map<String, Value> = serde_json::from_str(data)
        .map_err(|e| Error::Corrupt(format!("undecodable record: {e}")))?;
    let clocks = serde_json::from_str(clocks)
        .map_err(|e| Error::Corrupt(format!("undecodable clocks: {e}")))?;
    Ok(RecordState {
        fields,
        clocks,
        deleted,
    })
}

/// The part of `full` that `keys` (outbox field names) name, with their effective clocks.
pub(crate) fn partial(full: &RecordState, keys: &BTreeSet<String>) -> RecordState {
    if keys.contains(CREATED) {
        return full.clone();
    }
    let mut out = RecordState::default();
    for f in MAX_FIELDS {
        if let Some(v) = full.fields.get(f) {
            out.fields.insert(f.to_string(), v.clone());
        }
    }
    for k in keys {
        out.clocks.insert(k.clone(), full.effective(k));
        if k == DELETED {
            out.deleted = full.deleted;
            continue;
        }
        if let Some((map, sub)) = k.split_once('.')
            && MAP_FIELDS.contains(&map)
        {
            let m = out
                .fields
                .entry(map.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let (Some(v), Value::Object(m)) = (full.value(k), m) {
                m.insert(sub.to_string(), v);
            }
            continue;
        }
        if MAP_FIELDS.contains(&k.as_str()) {
            // An entry from before per-key clocks: the whole map, with its keys' own clocks.
            if let Some(v) = full.fields.get(k) {
                out.fields.insert(k.clone(), v.clone());
            }
            for (ck, c) in &full.clocks {
                if ck.starts_with(&format!("{k}.")) {
                    out.clocks.insert(ck.clone(), *c);
                }
            }
            continue;
        }
        if let Some(v) = full.fields.get(k) {
            out.fields.insert(k.clone(), v.clone());
        }
    }
    out
}

struct Entry {
    seq: i64,
    entity: String,
    id: String,
    lead_id: Option<String>,
    op: String,
    fields: Vec<String>,
}

impl crate::Writer {
    /// The newest stamp the server holds from this store or that this store received.
    pub(crate) async fn floor(&mut self) -> Result<Option<Hlc>> {
        let v: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'hlc_floor'")
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(v.and_then(|v| v.parse().ok()))
    }

    /// Raises the floor to `h` (if higher).
    pub(crate) async fn raise_floor(&mut self, h: Option<Hlc>) -> Result<()> {
        let Some(h) = h else { return Ok(()) };
        if self.floor().await?.is_some_and(|f| f >= h) {
            return Ok(());
        }
        self.set_meta("hlc_floor", &h.to_string()).await
    }
}

impl Store {
    /// Up to `limit` of the oldest un-acknowledged outbox entries, as ops.
    pub async fn pending_ops(&self, limit: usize) -> Result<Vec<Op>> {
        let st = self.joined_state().await?;
        let rows = sqlx::query(
            "SELECT seq, entity, record_id, lead_id, op, fields FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(st.acked_seq)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let entries: Vec<Entry> = rows
            .iter()
            .map(|r| Entry {
                seq: r.get(0),
                entity: r.get(1),
                id: r.get(2),
                lead_id: r.get(3),
                op: r.get(4),
                fields: serde_json::from_str(&r.get::<String, _>(5)).unwrap_or_default(),
            })
            .collect();
        // The union of the fields each record's entries name, and its last entry.
        let mut union: HashMap<(&str, &str), (BTreeSet<String>, i64)> = HashMap::new();
        for e in &entries {
            let u = union.entry((&e.entity, &e.id)).or_default();
            u.0.extend(e.fields.iter().cloned());
            u.1 = e.seq;
        }
        let states = self.states_of(&entries).await?;
        let bases = self.note_bases(&entries).await?;
        let mut out = Vec::with_capacity(entries.len());
        for e in &entries {
            let (keys, last) = &union[&(e.entity.as_str(), e.id.as_str())];
            let local_seq = e.seq - st.seq_base;
            let (state, kind, base_rev) = match states.get(&(e.entity.clone(), e.id.clone())) {
                Some(full) if *last == e.seq => {
                    let state = partial(full, keys);
                    let body = keys.contains(CREATED) || keys.contains("note");
                    let is_note = e.entity == Entity::Activity.as_str()
                        && full.fields.get("_type").and_then(Value::as_str) == Some("note");
                    let base = if body && is_note {
                        bases.get(&e.id).copied()
                    } else {
                        None
                    };
                    let kind = if keys.contains(CREATED) {
                        "create".to_string()
                    } else {
                        e.op.clone()
                    };
                    (state, kind, base)
                }
                _ => (RecordState::default(), "update".to_string(), None),
            };
            out.push(Op {
                local_seq,
                op_id: op_id(local_seq, &e.entity, &e.id, &state),
                entity: e.entity.clone(),
                id: e.id.clone(),
                lead_id: e.lead_id.clone(),
                kind,
                state,
                base_rev,
            });
        }
        Ok(out)
    }

    /// The stored states of the entries' records.
    async fn states_of(&self, entries: &[Entry]) -> Result<HashMap<(String, String), RecordState>> {
        let mut by_entity: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in entries {
            by_entity.entry(&e.entity).or_default().push(&e.id);
        }
        let mut out = HashMap::new();
        for (entity, ids) in by_entity {
            let Some(ent) = Entity::parse(entity) else {
                continue;
            };
            let sql = format!(
                "SELECT id, data, clocks, deleted FROM {} WHERE id IN (SELECT value FROM json_each(?))",
                rows::table(ent).name
            );
            let rows: Vec<(String, String, String, bool)> = sqlx::query_as(&sql)
                .bind(serde_json::to_string(&ids).unwrap_or_default())
                .fetch_all(&self.pool)
                .await?;
            for (id, data, clocks, deleted) in rows {
                out.insert(
                    (entity.to_string(), id),
                    stored_state(&data, &clocks, deleted)?,
                );
            }
        }
        Ok(out)
    }

    async fn note_bases(&self, entries: &[Entry]) -> Result<HashMap<String, i64>> {
        let ids: Vec<&str> = entries
            .iter()
            .filter(|e| e.entity == Entity::Activity.as_str())
            .map(|e| e.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT note_id, rev FROM note_base WHERE note_id IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(&ids).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Records the server's answer to a push of `ops`: entries through `applied_through` are
    /// deleted (they are on the server), the acknowledged position advances, and a note body
    /// the server took as it was becomes the base of the next edit. One transaction.
    pub async fn acknowledge(&self, ops: &[Op], resp: &PushResponse) -> Result<()> {
        let mut w = self.begin_write().await?;
        let st: SyncState = sqlx::query_as(&format!(
            "SELECT {} FROM sync_state WHERE id = 1",
            super::COLUMNS
        ))
        .fetch_one(&mut *w.tx)
        .await?;
        // Never past what this push carried: a server that applied more under this client
        // id (a copy of this store pushing too) must see the rest to tell a fork.
        let sent = ops.iter().map(|o| o.local_seq).max().unwrap_or(0);
        let acked = resp.applied_through.min(sent) + st.seq_base;
        sqlx::query(
            "DELETE FROM outbox WHERE seq <= ?1;
             UPDATE sync_state SET acked_seq = max(acked_seq, ?1), server_seq = max(server_seq, ?2)",
        )
        .bind(acked)
        .bind(resp.last_seq)
        .execute(&mut *w.tx)
        .await?;
        // Stamps the server now holds: a re-stamp after clock skew never goes below them.
        let held = ops
            .iter()
            .filter(|o| o.local_seq <= resp.applied_through.min(sent))
            .filter_map(|o| o.state.max_clock())
            .max();
        w.raise_floor(held).await?;
        for r in &resp.results {
            let Some(op) = ops.iter().find(|o| o.local_seq == r.local_seq) else {
                continue;
            };
            if r.status == OpStatus::Applied
                && let Some(seq) = r.seq
                && op.entity == Entity::Activity.as_str()
                && op.state.fields.contains_key("note")
                && op.state.fields.get("_type").is_none_or(|t| t == "note")
            {
                sqlx::query(
                    "INSERT INTO note_base (note_id, rev) VALUES (?, ?)
                     ON CONFLICT(note_id) DO UPDATE SET rev = max(rev, excluded.rev)",
                )
                .bind(&op.id)
                .bind(seq)
                .execute(&mut *w.tx)
                .await?;
            }
        }
        w.commit().await
    }

    /// After a `clock_skew` answer: stores the offset the server measured (every later stamp
    /// uses it), and re-stamps every clock of a pending record that is ahead of the corrected
    /// clock by more than the allowed skew, with fresh stamps from the corrected clock.
    /// Returns how many clocks were re-stamped.
    pub async fn restamp_pending(&self, clock_offset_ms: i64) -> Result<usize> {
        let mut w = self.begin_write().await?;
        w.clock_offset_ms = clock_offset_ms;
        let now = w.now_ms();
        let limit = now + MAX_FUTURE_SKEW_MS as u64;
        // The clock itself was ahead: start it over at the bound (stamps this store received
        // can be up to it), and never below a stamp the server holds from this store or that
        // it received (the floor): an edit made after another must still win over it.
        let floor = w.floor().await?;
        if w.hlc.ms > limit {
            let base = Hlc::zero(w.hlc.node).tick(limit);
            w.hlc = match floor {
                Some(f) if f > base => Hlc {
                    node: w.hlc.node,
                    ..f
                }
                .tick(0),
                _ => base,
            };
        }
        let pending: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT entity, record_id FROM outbox
             WHERE seq > (SELECT acked_seq FROM sync_state WHERE id = 1)",
        )
        .fetch_all(&mut *w.tx)
        .await?;
        let mut n = 0;
        for (entity, id) in pending {
            let Some(e) = Entity::parse(&entity) else {
                continue;
            };
            let t = rows::table(e).name;
            let clocks: Option<String> =
                sqlx::query_scalar(&format!("SELECT clocks FROM {t} WHERE id = ?"))
                    .bind(&id)
                    .fetch_optional(&mut *w.tx)
                    .await?;
            let Some(clocks) = clocks else { continue };
            let mut map: std::collections::BTreeMap<String, Hlc> = serde_json::from_str(&clocks)
                .map_err(|e| Error::Corrupt(format!("undecodable clocks: {e}")))?;
            let mut changed = false;
            for c in map.values_mut() {
                if c.ms > limit.max(floor.map(|f| f.ms).unwrap_or(0)) {
                    w.hlc = w.hlc.tick(limit);
                    *c = w.hlc;
                    changed = true;
                    n += 1;
                }
            }
            if changed {
                sqlx::query(&format!("UPDATE {t} SET clocks = ? WHERE id = ?"))
                    .bind(serde_json::to_string(&map).unwrap_or_default())
                    .bind(&id)
                    .execute(&mut *w.tx)
                    .await?;
            }
        }
        sqlx::query("UPDATE sync_state SET clock_offset_ms = ?")
            .bind(clock_offset_ms)
            .execute(&mut *w.tx)
            .await?;
        w.hlc_unsaved = true;
        w.commit().await?;
        Ok(n)
    }

    /// Starts over as a new client of the same org: after `client_forked` (this store was
    /// copied, and another copy pushed under the same client id) a new node id and client id;
    /// after a server restore (`epoch_changed`) every record is queued again as its whole
    /// state, since what the server lost is unknown. Pending entries are renumbered so the
    /// first is the new client's `local_seq` 1.
    pub async fn restart_as(
        &self,
        client_id: &str,
        new_node: bool,
        repush_all: bool,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        if new_node {
            let node = NodeId(self.next_seed());
            w.set_meta("node_id", &format!("{:016x}", node.0)).await?;
            w.hlc.node = node;
            w.hlc_unsaved = true;
        }
        if repush_all {
            w.snapshot_outbox().await?;
            sqlx::query(
                "UPDATE sync_state SET pull_cursor = 0, server_seq = 0, bootstrap = 'none',
                    bootstrap_snapshot_seq = 0, bootstrap_after_id = NULL",
            )
            .execute(&mut *w.tx)
            .await?;
        }
        let first: Option<i64> = sqlx::query_scalar(
            "SELECT min(seq) FROM outbox WHERE seq > (SELECT acked_seq FROM sync_state WHERE id = 1)",
        )
        .fetch_one(&mut *w.tx)
        .await?;
        let base =
            match first {
                Some(f) => f - 1,
                None => sqlx::query_scalar(
                    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)",
                )
                .fetch_one(&mut *w.tx)
                .await?,
            };
        sqlx::query(
            "UPDATE sync_state SET client_id = ?, seq_base = ?, acked_seq = ?, epoch = NULL",
        )
        .bind(client_id)
        .bind(base)
        .bind(base)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(())
    }
}
