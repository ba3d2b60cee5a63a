//! `jixiao bench scoring`: scoring many stored self-evaluations (8 indicators each, under
//! mof_2020_10) on the embedded default, with the peak RSS of the scoring alone.

use std::time::Instant;

use serde_json::json;

use super::{median, peak_rss_mb, reset_peak_rss};
use crate::store::Store;
use crate::store::workflows::Registry;

pub async fn run(evaluations: usize, runs: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::open(&url).await?;
    let reg = Registry::default();
    let t = Instant::now();
    store.load_self_evaluations(&reg, evaluations, chrono::Utc::now().timestamp_millis()).await?;
    let load_s = t.elapsed().as_secs_f64();
    println!("generated {evaluations} submitted self-evaluations of 8 indicators in {load_s:.1} s");
    // The peak covers the scoring, not the generation of its data.
    reset_peak_rss();
    let mut wall = Vec::new();
    let mut changed = Vec::new();
    for i in 0..runs {
        if i > 0 {
            // Every run scores unscored forms, as the first does.
            sqlx::query("UPDATE self_evaluations SET self_score = NULL, self_grade = NULL, card = NULL")
                .execute(&store.pool)
                .await?;
        }
        let t = Instant::now();
        let r = store.score_self_evaluations(2023).await?;
        let w = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            r.scored == evaluations as i64 && r.failed == 0,
            "scored {} of {evaluations} ({} failed)",
            r.scored,
            r.failed
        );
        println!("run {}: scored {} in {w:.2} s ({} newly scored)", i + 1, r.scored, r.changed);
        wall.push(w);
        changed.push(r.changed);
    }
    let peak = peak_rss_mb();
    let grades: Vec<(String, i64)> =
        sqlx::query_as("SELECT self_grade, COUNT(*) FROM self_evaluations GROUP BY self_grade ORDER BY self_grade")
            .fetch_all(&store.pool)
            .await?;
    store.close().await;
    let w = median(&mut wall);
    println!(
        "{}",
        json!({
            "bench": "scoring",
            "backend": "sqlite",
            "evaluations": evaluations,
            "indicators": evaluations * 8,
            "runs": runs,
            "wall_s": (w * 100.0).round() / 100.0,
            "per_second": (evaluations as f64 / w).round(),
            "peak_rss_mb": peak.round(),
            "load_s": (load_s * 10.0).round() / 10.0,
            // Every run scores forms with no stored score: all of them change.
            "changed_per_run": changed,
            "grades": grades.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        })
    );
    Ok(())
}
