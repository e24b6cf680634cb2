//! The search benchmark `cargo xtask bench` calls: fixed queries covering every construct,
//! each beside the same question asked in hand-written SQL on a copy of the store (with the
//! FTS5 table and indexes the baseline needs, created on the copy only), plus index build
//! time, size and write-to-visible latency. Every SQL value is bound, never spliced.

use std::time::{Duration, Instant};

use rapport_core::ops::{self, NewLead};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, Sqlite};

use crate::{Clock, Error, Result, SearchIndex};

/// One query's timings, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub query: String,
    pub hits: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The SQL baseline's answer count and timings.
    pub sql_hits: u64,
    pub sql_p50_us: u64,
    pub sql_p99_us: u64,
}

impl BenchRow {
    /// Whether the index and the SQL baseline found the same number of leads.
    pub fn agrees(&self) -> bool {
        self.hits == self.sql_hits
    }
}

/// Everything the bench measures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub leads: i64,
    pub rows: Vec<BenchRow>,
    /// A full rebuild from SQLite.
    pub build_ms: u64,
    pub index_bytes: u64,
    /// Commit of one write until a search sees it.
    pub write_visible_p50_ms: f64,
    pub write_visible_max_ms: f64,
}

impl BenchReport {
    /// The queries whose index answer differs from the SQL baseline's, described; the bench
    /// fails when there is any (a wrong answer is never a timing).
    pub fn disagreements(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| !r.agrees())
            .map(|r| format!("`{}`: index {} hits, SQL {}", r.query, r.hits, r.sql_hits))
            .collect()
    }
}

/// `(query, SQL baseline)`. The SQL returns `(id, total)` rows: the first page in the query's
/// order, with the match count. `?1`.. are the bound values from [`binds`].
const CASES: &[(&str, &str)] = &[
    (
        "acme",
        "SELECT l.id, count(*) OVER () FROM lead_fts f JOIN leads l ON l.id = f.lead_id WHERE lead_fts MATCH 'acme*' ORDER BY f.rank, l.date_updated DESC LIMIT 50",
    ),
    (
        "acme online",
        "SELECT l.id, count(*) OVER () FROM lead_fts f JOIN leads l ON l.id = f.lead_id WHERE lead_fts MATCH 'acme* online*' ORDER BY f.rank LIMIT 50",
    ),
    (
        "\"menlo park\"",
        "SELECT l.id, count(*) OVER () FROM lead_fts f JOIN leads l ON l.id = f.lead_id WHERE lead_fts MATCH '\"menlo park\"' ORDER BY f.rank LIMIT 50",
    ),
    (
        "name:acme",
        "SELECT l.id, count(*) OVER () FROM lead_fts f JOIN leads l ON l.id = f.lead_id WHERE lead_fts MATCH 'name : acme*' ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "status:customer",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND status_label = 'Customer' COLLATE NOCASE ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "status in (customer, qualified)",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND status_label COLLATE NOCASE IN ('Customer', 'Qualified') ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "calls > 3",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND n_calls > 3 ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "not has:calls",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND n_calls = 0 ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "has:opportunities",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND n_opportunities > 0 ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "last_called < \"30 days ago\"",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND last_called > ?1 ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "last_called:never",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND last_called IS NULL ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "created > 365 days ago",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND json_extract(data, '$.date_created') < ?2 ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "city:san",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND (city LIKE 'san%' OR city LIKE '% san%') ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "phone:415",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND EXISTS (SELECT 1 FROM contacts c, json_each(c.data, '$.phones') p WHERE c.lead_id = l.id AND c.deleted = 0 AND (json_extract(p.value, '$.phone') LIKE '+415%' OR json_extract(p.value, '$.phone') LIKE '+1415%')) ORDER BY l.date_updated DESC LIMIT 50",
    ),
    // One-word prefixes over many distinct words (every email word starting with `a`;
    // every word starting with `1`: phone digits, zips, numbers): the index must find all
    // of them, fast.
    (
        "email:a",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND EXISTS (SELECT 1 FROM contacts c, json_each(c.data, '$.emails') e WHERE c.lead_id = l.id AND c.deleted = 0 AND (' ' || lower(replace(replace(replace(replace(replace(json_extract(e.value, '$.email'), '@', ' '), '.', ' '), '-', ' '), '_', ' '), '+', ' '))) LIKE '% a%') ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "1",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND (l.id IN (SELECT lead_id FROM lead_fts WHERE lead_fts MATCH '1*') OR EXISTS (SELECT 1 FROM contacts c, json_each(c.data, '$.phones') p WHERE c.lead_id = l.id AND c.deleted = 0 AND ltrim(json_extract(p.value, '$.phone'), '+') LIKE '1%')) ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "call(duration > 600)",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND EXISTS (SELECT 1 FROM activities a WHERE a.lead_id = l.id AND a.kind = 'call' AND a.deleted = 0 AND json_extract(a.data, '$.duration') > 600) ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "call(date > \"90 days ago\" duration > 60)",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND EXISTS (SELECT 1 FROM activities a WHERE a.lead_id = l.id AND a.kind = 'call' AND a.deleted = 0 AND a.at < ?3 AND json_extract(a.data, '$.duration') > 60) ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "contact(title:cto)",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND EXISTS (SELECT 1 FROM contacts c WHERE c.lead_id = l.id AND c.deleted = 0 AND (' ' || lower(json_extract(c.data, '$.title'))) LIKE '% cto%') ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "email(opened:yes)",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND EXISTS (SELECT 1 FROM activities a WHERE a.lead_id = l.id AND a.kind = 'email' AND a.deleted = 0 AND a.extra_at IS NOT NULL) ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "contact(email(opened:yes))",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND EXISTS (SELECT 1 FROM contacts c JOIN activities a ON json_extract(a.data, '$.contact_id') = c.id WHERE c.lead_id = l.id AND c.deleted = 0 AND a.lead_id = l.id AND a.kind = 'email' AND a.deleted = 0 AND a.extra_at IS NOT NULL) ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "\"custom.Lead Source\":web",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND json_extract(data, '$.custom.\"Lead Source\"') = 'Web' COLLATE NOCASE ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "custom.Employees > 1000",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND json_extract(data, '$.custom.Employees') > 1000 ORDER BY date_updated DESC LIMIT 50",
    ),
    (
        "acme or status:cold",
        "SELECT l.id, count(*) OVER () FROM leads l WHERE l.deleted = 0 AND (l.status_label = 'Cold' OR l.id IN (SELECT lead_id FROM lead_fts WHERE lead_fts MATCH 'acme*')) ORDER BY l.date_updated DESC LIMIT 50",
    ),
    (
        "sort:-created,name",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 ORDER BY json_extract(data, '$.date_created') DESC, name LIMIT 50",
    ),
    (
        "calls > 2 last_activity < \"7 days ago\" sort:-calls",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 AND n_calls > 2 AND last_activity > ?4 ORDER BY n_calls DESC LIMIT 50",
    ),
    (
        "*",
        "SELECT id, count(*) OVER () FROM leads WHERE deleted = 0 ORDER BY date_updated DESC LIMIT 50",
    ),
];

/// The benchmark's queries, in order.
pub fn queries() -> impl Iterator<Item = &'static str> {
    CASES.iter().map(|(q, _)| *q)
}

/// The values the SQL binds: instants 30 days, 365 days, 90 days and 7 days before `now`.
fn binds(clock: &Clock) -> Vec<String> {
    [30, 365, 90, 7]
        .iter()
        .map(|days| {
            let ms = clock.ago(*days, rapport_query::TimeUnit::Day);
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| rapport_core::time::fmt(&t))
                .unwrap_or_default()
        })
        .collect()
}

fn percentiles(mut v: Vec<Duration>) -> (u64, u64) {
    v.sort();
    let at = |q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0, |d| d.as_micros() as u64)
    };
    (at(0.5), at(0.99))
}

/// Runs every query `n_runs` times through the index and through SQL on a copy of the store
/// (made in the store's directory, removed afterwards), then measures a rebuild and how long
/// a write takes to become searchable.
pub async fn bench_queries(
    index: &SearchIndex,
    clock: Clock,
    n_runs: usize,
) -> Result<BenchReport> {
    let n_runs = n_runs.max(1);
    index.wait_fresh(Duration::from_secs(600)).await?;
    let store = index.store();
    let copy = store.path().with_extension("bench-copy.db");
    let _ = std::fs::remove_file(&copy);
    sqlx::query("VACUUM INTO ?")
        .bind(copy.display().to_string())
        .execute(store.pool())
        .await
        .map_err(rapport_store::Error::from)?;
    let sql = baseline(&copy).await?;
    let values = binds(&clock);
    let ctx = index.context(clock).await?;
    let mut rows = Vec::new();
    for (query, sql_text) in CASES {
        let plan = crate::plan_text(query, &ctx).map_err(Error::Query)?;
        let (mut times, mut sql_times) = (Vec::new(), Vec::new());
        let (mut hits, mut sql_hits) = (0, 0);
        // Each side runs its own loop after one untimed warm-up run (the first run pages
        // the postings or tables in), so neither is timed right after the other has
        // evicted its caches.
        for i in 0..=n_runs {
            let t = Instant::now();
            hits = index.run_now(&plan, 0, 50)?.total;
            if i > 0 {
                times.push(t.elapsed());
            }
        }
        for i in 0..=n_runs {
            let t = Instant::now();
            let mut q = sqlx::query::<Sqlite>(sql_text);
            for v in &values {
                q = q.bind(v);
            }
            let result = q
                .fetch_all(&sql)
                .await
                .map_err(rapport_store::Error::from)?;
            sql_hits = result.first().map_or(0, |r| r.get::<i64, _>(1) as u64);
            if i > 0 {
                sql_times.push(t.elapsed());
            }
        }
        let (p50_us, p99_us) = percentiles(times);
        let (sql_p50_us, sql_p99_us) = percentiles(sql_times);
        rows.push(BenchRow {
            query: query.to_string(),
            hits,
            p50_us,
            p99_us,
            sql_hits,
            sql_p50_us,
            sql_p99_us,
        });
    }
    sql.close().await;
    let _ = std::fs::remove_file(&copy);
    let build = index
        .reindex(
            None,
            std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        )
        .await?;
    let (p50, max) = write_latency(index, 20).await?;
    Ok(BenchReport {
        leads: store.lead_count().await?,
        rows,
        build_ms: build.millis,
        index_bytes: index.size_bytes(),
        write_visible_p50_ms: p50,
        write_visible_max_ms: max,
    })
}

/// The SQL baseline's store: the copy, with an FTS5 table over each lead's text and the
/// indexes its queries need.
async fn baseline(copy: &std::path::Path) -> Result<SqlitePool> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(copy))
        .await
        .map_err(rapport_store::Error::from)?;
    for stmt in [
        "CREATE VIRTUAL TABLE lead_fts USING fts5(lead_id UNINDEXED, name, body, tokenize = 'unicode61 remove_diacritics 2')",
        "INSERT INTO lead_fts (lead_id, name, body)
         SELECT l.id,
                l.name || ' ' || coalesce((SELECT group_concat(json_extract(c.data, '$.name'), ' ') FROM contacts c WHERE c.lead_id = l.id AND c.deleted = 0), ''),
                coalesce(json_extract(l.data, '$.description'), '') || ' ' || coalesce(json_extract(l.data, '$.url'), '') || ' ' ||
                coalesce((SELECT group_concat(coalesce(json_extract(a.value, '$.address_1'), '') || ' ' || coalesce(json_extract(a.value, '$.city'), '') || ' ' || coalesce(json_extract(a.value, '$.state'), '') || ' ' || coalesce(json_extract(a.value, '$.zipcode'), '') || ' ' || coalesce(json_extract(a.value, '$.address_2'), '') || ' ' || coalesce(json_extract(a.value, '$.country'), ''), ' ') FROM json_each(l.data, '$.addresses') a), '') || ' ' ||
                coalesce((SELECT group_concat(coalesce(json_extract(c.data, '$.title'), '') || ' ' || coalesce(json_extract(c.data, '$.emails[0].email'), ''), ' ') FROM contacts c WHERE c.lead_id = l.id AND c.deleted = 0), '') || ' ' ||
                coalesce((SELECT group_concat(coalesce(json_extract(a.data, '$.note'), '') || ' ' || coalesce(json_extract(a.data, '$.subject'), '') || ' ' || coalesce(json_extract(a.data, '$.body_text'), '') || ' ' || coalesce(json_extract(a.data, '$.title'), ''), ' ') FROM activities a WHERE a.lead_id = l.id AND a.deleted = 0), '') || ' ' ||
                coalesce((SELECT group_concat(v.value, ' ') FROM json_each(l.data, '$.custom') v), '')
         FROM leads l WHERE l.deleted = 0",
        "CREATE INDEX bench_status ON leads (status_label COLLATE NOCASE, date_updated)",
        "CREATE INDEX bench_calls ON leads (n_calls, date_updated)",
        "CREATE INDEX bench_last_called ON leads (last_called)",
        "CREATE INDEX bench_city ON leads (city)",
        "CREATE INDEX bench_created ON leads (json_extract(data, '$.date_created'))",
        "ANALYZE",
    ] {
        sqlx::query(stmt)
            .execute(&pool)
            .await
            .map_err(rapport_store::Error::from)?;
    }
    Ok(pool)
}

/// Creates and deletes a probe lead `n` times; returns (p50, max) ms from commit to visible.
pub async fn write_latency(index: &SearchIndex, n: usize) -> Result<(f64, f64)> {
    let store = index.store();
    let mut times = Vec::new();
    for i in 0..n {
        let name = format!("Benchprobe{i}");
        let mut w = store.begin_write().await?;
        let (lead, plan) = ops::create_lead(
            NewLead {
                name: name.clone(),
                ..Default::default()
            },
            &mut w.ctx,
        )
        .map_err(rapport_store::Error::from)?;
        w.apply(plan).await?;
        w.commit().await?;
        let t = Instant::now();
        index.nudge();
        loop {
            let plan = crate::plan::Plan {
                node: crate::plan::Node::Words {
                    field: "name".into(),
                    tokens: vec![name.to_lowercase()],
                    prefix: false,
                },
                sort: vec![],
            };
            if index.run_now(&plan, 0, 1)?.total > 0 || t.elapsed() > Duration::from_secs(10) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        let mut w = store.begin_write().await?;
        let children = w.children_of(lead.id).await?;
        w.apply(ops::delete_lead(&lead, children)).await?;
        w.commit().await?;
    }
    index.nudge();
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times.last().copied().unwrap_or(0.0)))
}
