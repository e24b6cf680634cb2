//! Loading the demo data set through the bulk path: generated on a helper thread while the
//! previous chunk is written, with progress and cancellation between chunks.

use crate::{App, Result};
use rapport_core::demo;
use rapport_core::ops::Rng;
use rapport_core::time::Timestamp;
use rapport_core::{FieldTarget, LeadBundle};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub leads: u64,
    pub seed: u64,
    /// The data set's "now": dates spread over the two years before it.
    pub now: Timestamp,
    /// Leads per transaction.
    pub chunk: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub leads: u64,
    pub records: u64,
    pub cancelled: bool,
}

impl App {
    /// Generates and writes the demo data set. `progress(done, total)` is called per chunk;
    /// setting `cancel` stops after the current chunk (every written chunk is whole).
    pub async fn load_demo(
        &self,
        opts: DemoOptions,
        progress: impl Fn(u64, u64),
        cancel: Arc<AtomicBool>,
    ) -> Result<DemoReport> {
        let existing = self.fields().await?;
        let missing: Vec<_> = demo::field_defs(&mut Rng(opts.seed), opts.now)
            .into_iter()
            .filter(|def| {
                !existing.iter().any(|f| {
                    f.applies_to == FieldTarget::Lead && f.name.eq_ignore_ascii_case(&def.name)
                })
            })
            .collect();
        // one transaction: the demo's field definitions come all together or not at all
        self.add_fields(missing).await?;
        let statuses: Vec<String> = self
            .statuses()
            .await?
            .into_iter()
            .map(|s| s.label)
            .collect();
        let user = Some(self.store.local_user().await?.id);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<LeadBundle>>(2);
        let gen_cancel = cancel.clone();
        let o = opts.clone();
        let producer = std::thread::spawn(move || {
            let mut n = 0;
            while n < o.leads && !gen_cancel.load(Ordering::Relaxed) {
                let end = (n + o.chunk.max(1)).min(o.leads);
                let chunk: Vec<LeadBundle> = (n..end)
                    .map(|i| demo::lead(o.seed, i, o.now, &statuses, user))
                    .collect();
                if tx.blocking_send(chunk).is_err() {
                    break;
                }
                n = end;
            }
        });
        let mut report = DemoReport {
            leads: 0,
            records: 0,
            cancelled: false,
        };
        while let Some(chunk) = rx.recv().await {
            let r = self.store.write_bundles(chunk).await?;
            report.leads += r.leads as u64;
            report.records += r.records as u64;
            progress(report.leads, opts.leads);
            if cancel.load(Ordering::Relaxed) {
                break;
            }
        }
        drop(rx);
        let _ = producer.join();
        report.cancelled = report.leads < opts.leads && cancel.load(Ordering::Relaxed);
        Ok(report)
    }
}
