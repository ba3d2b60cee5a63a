//! `jixiao bench monitoring`: evaluating one monitoring run over many projects (every report
//! filled), beside a bare read of the same rows, on SQLite and, with `--database-url`, on
//! PostgreSQL.

use std::time::Instant;

use serde_json::{Value, json};

use super::{median, peak_rss_mb, reset_peak_rss};
use crate::store::Store;
use crate::store::workflows::Registry;

async fn one_backend(label: &str, url: &str, projects: usize, runs: usize) -> anyhow::Result<Value> {
    let store = Store::open(url).await?;
    let reg = Registry::default();
    let t = Instant::now();
    let generated = store.load_monitoring_run(&reg, projects, chrono::Utc::now().timestamp_millis()).await?;
    let load_s = t.elapsed().as_secs_f64();
    println!(
        "{label}: generated {} projects, {} indicators, filled reports in {load_s:.1} s",
        generated.projects, generated.indicators
    );
    reset_peak_rss();
    let (mut bare, mut wall) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let t = Instant::now();
        let (reports, bytes) = store.read_run_reports(generated.run_id).await?;
        let b = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let evaluated = store.evaluate_run(&reg, generated.run_id, chrono::Utc::now().timestamp_millis()).await?;
        let w = t.elapsed().as_secs_f64();
        anyhow::ensure!(evaluated == reports, "evaluated {evaluated} of {reports} reports");
        let mb = bytes / 1_000_000;
        println!(
            "{label} run {}: bare read {b:.2} s ({reports} reports, {mb} MB of forms), evaluation {w:.2} s",
            i + 1
        );
        bare.push(b);
        wall.push(w);
    }
    let peak = peak_rss_mb();
    let summary = store.monitoring_summary(generated.run_id).await?;
    store.close().await;
    let (b, w) = (median(&mut bare), median(&mut wall));
    Ok(json!({
        "projects": projects,
        "indicators": generated.indicators,
        "wall_s": (w * 100.0).round() / 100.0,
        "bare_read_s": (b * 100.0).round() / 100.0,
        "ratio": ((w / b) * 100.0).round() / 100.0,
        "peak_rss_mb": peak.round(),
        "load_s": (load_s * 10.0).round() / 10.0,
        "lights": summary["lights"],
        "blue_projects": summary["blue_projects"],
    }))
}

pub async fn run(projects: usize, runs: usize, database_url: Option<String>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = one_backend("sqlite", &sqlite_url, projects, runs).await?;
    let mut out = json!({"bench": "monitoring", "backend": "sqlite", "runs": runs});
    if let Value::Object(m) = sqlite {
        for (k, v) in m {
            out[k] = v;
        }
    }
    if let Some(server) = database_url {
        let name = format!("jixiao_bench_monitoring_{}", std::process::id());
        let url = crate::store::create_postgres_database(&server, &name).await?;
        let pg = one_backend("postgres", &url, projects, runs).await;
        crate::store::drop_postgres_database(&server, &name).await?;
        out["postgres"] = pg?;
    }
    println!("{out}");
    Ok(())
}
