//! Softphone figures (`rapport_phone::bench`): dial→INVITE, mouth-to-ear through sipp's RTP echo, tone SNR under loss and CPU per call, converted to table rows.

use crate::stats::Row;

pub async fn run(rows: &mut Vec<Row>) -> anyhow::Result<()> {
    for r in rapport_phone::bench::run_bench().await? {
        rows.push(Row::new(
            &r.name,
            r.value,
            &r.unit,
            &r.baseline_name,
            r.baseline,
            &r.target,
        ));
    }
    Ok(())
}
