//! Aggregate reads for the reports page and `rapport report`: the pipeline (opportunity value
//! by status and by expected close month, weighted by confidence), calls per day and per user
//! with answered/other split, and the lead status funnel (leads per status now, entries into
//! each status per month from StatusChange activities). Each is one grouped SQL query over
//! live records of live leads, optionally restricted to a set of leads (a search's results);
//! nothing is loaded record by record.

use crate::Store;
use crate::error::Result;
use rapport_core::Id;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineRow {
    /// A status label (by status) or `YYYY-MM` / `none` (by expected close month).
    pub key: String,
    pub count: i64,
    /// Cents.
    pub value: i64,
    /// Cents: Σ value × confidence / 100 (no confidence counts as 0 %).
    pub weighted: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineReport {
    pub by_status: Vec<PipelineRow>,
    pub by_month: Vec<PipelineRow>,
    pub count: i64,
    pub value: i64,
    pub weighted: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallsRow {
    /// `YYYY-MM-DD` (UTC) or a user id (`none`: no user).
    pub key: String,
    pub answered: i64,
    /// no-answer, busy, failed, voicemail…
    pub other: i64,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallsReport {
    pub by_day: Vec<CallsRow>,
    pub by_user: Vec<CallsRow>,
    pub total: i64,
    pub answered: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunnelRow {
    pub status: String,
    /// Leads in this status now.
    pub leads: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunnelMonth {
    /// `YYYY-MM`.
    pub month: String,
    pub status: String,
    /// Status changes into `status` during the month.
    pub entered: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunnelReport {
    pub current: Vec<FunnelRow>,
    pub by_month: Vec<FunnelMonth>,
}

/// The lead filter: every live lead, or those of a JSON id list (bound as `?1`).
fn scope(col: &str, leads: Option<&[Id]>) -> String {
    match leads {
        Some(_) => format!("{col} IN (SELECT value FROM json_each(?1))"),
        None => "?1 IS NOT NULL".into(),
    }
}

fn ids_json(leads: Option<&[Id]>) -> String {
    let ids: Vec<String> = leads.unwrap_or(&[]).iter().map(Id::to_string).collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Opportunity value by status and by expected close month.
    pub async fn pipeline_report(&self, leads: Option<&[Id]>) -> Result<PipelineReport> {
        let group = |key: &str| {
            format!(
                "SELECT {key} AS k, count(*), coalesce(sum(v), 0), coalesce(sum(v * c), 0) / 100
                 FROM (SELECT json_extract(o.data, '$.value') AS v,
                              coalesce(json_extract(o.data, '$.confidence'), 0) AS c,
                              json_extract(o.data, '$.status_label') AS s,
                              coalesce(substr(json_extract(o.data, '$.date_won'), 1, 7), 'none') AS m
                       FROM opportunities o JOIN leads l ON l.id = o.lead_id AND l.deleted = 0
                       WHERE o.deleted = 0 AND {scope})
                 GROUP BY k ORDER BY k",
                scope = scope("o.lead_id", leads)
            )
        };
        let ids = ids_json(leads);
        let mut out = PipelineReport {
            by_status: vec![],
            by_month: vec![],
            count: 0,
            value: 0,
            weighted: 0,
        };
        for (key, slot) in [("s", 0), ("m", 1)] {
            let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(&group(key))
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
            let rows: Vec<PipelineRow> = rows
                .into_iter()
                .map(|(key, count, value, weighted)| PipelineRow {
                    key,
                    count,
                    value,
                    weighted,
                })
                .collect();
            if slot == 0 {
                out.count = rows.iter().map(|r| r.count).sum();
                out.value = rows.iter().map(|r| r.value).sum();
                out.weighted = rows.iter().map(|r| r.weighted).sum();
                out.by_status = rows;
            } else {
                out.by_month = rows;
            }
        }
        Ok(out)
    }

    /// Calls per day (UTC, from `since` when given: `YYYY-MM-DD`) and per user.
    pub async fn calls_report(
        &self,
        leads: Option<&[Id]>,
        since: Option<&str>,
    ) -> Result<CallsReport> {
        let group = |key: &str| {
            format!(
                "SELECT {key} AS k,
                        sum(json_extract(a.data, '$.disposition') = 'answered'),
                        sum(coalesce(json_extract(a.data, '$.disposition'), '') <> 'answered'),
                        count(*)
                 FROM activities a JOIN leads l ON l.id = a.lead_id AND l.deleted = 0
                 WHERE a.kind = 'call' AND a.deleted = 0 AND a.at >= ?2 AND {scope}
                 GROUP BY k ORDER BY k",
                scope = scope("a.lead_id", leads)
            )
        };
        let ids = ids_json(leads);
        let mut lists = Vec::new();
        for key in [
            "substr(a.at, 1, 10)",
            "coalesce(json_extract(a.data, '$.user_id'), 'none')",
        ] {
            let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(&group(key))
                .bind(&ids)
                .bind(since.unwrap_or(""))
                .fetch_all(&self.pool)
                .await?;
            lists.push(
                rows.into_iter()
                    .map(|(key, answered, other, total)| CallsRow {
                        key,
                        answered,
                        other,
                        total,
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let by_user = lists.pop().unwrap_or_default();
        let by_day = lists.pop().unwrap_or_default();
        Ok(CallsReport {
            total: by_day.iter().map(|r| r.total).sum(),
            answered: by_day.iter().map(|r| r.answered).sum(),
            by_day,
            by_user,
        })
    }

    /// Leads per status now (in the configured order) and status entries per month.
    pub async fn funnel_report(&self, leads: Option<&[Id]>) -> Result<FunnelReport> {
        let ids = ids_json(leads);
        let current: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT s.label, (SELECT count(*) FROM leads l
                              WHERE l.deleted = 0 AND l.status_label = s.label AND {scope})
             FROM lead_statuses s WHERE s.deleted = 0 ORDER BY s.position",
            scope = scope("l.id", leads)
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let months: Vec<(String, String, i64)> = sqlx::query_as(&format!(
            "SELECT substr(a.at, 1, 7) AS m, json_extract(a.data, '$.new_status_label') AS s, count(*)
             FROM activities a JOIN leads l ON l.id = a.lead_id AND l.deleted = 0
             WHERE a.kind = 'status_change' AND a.deleted = 0 AND {scope}
             GROUP BY m, s ORDER BY m, s",
            scope = scope("a.lead_id", leads)
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(FunnelReport {
            current: current
                .into_iter()
                .map(|(status, leads)| FunnelRow { status, leads })
                .collect(),
            by_month: months
                .into_iter()
                .map(|(month, status, entered)| FunnelMonth {
                    month,
                    status,
                    entered,
                })
                .collect(),
        })
    }
}
