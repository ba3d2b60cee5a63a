//! The check step of a stage: runs the plugins the workflow names on a case's project, as a
//! queued job, and stores what they found. A plugin that cannot run (not installed, trapped,
//! too slow, too hungry, too talkative) becomes a finding "plugin X failed: reason", is logged
//! and counted, and the other plugins still run; the stage's policy decides what the failure
//! means for the case.

use std::sync::Arc;

use crate::app::Runtime;
use crate::domain::project::Project as StoredProject;
use crate::plugin_host::{self, PluginHost, Severity};
use crate::store::checks::{CheckRequest, FAILED_CODE, StoredFinding};
use crate::workflow::PluginRef;

/// What running one check produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRun {
    /// The plugins that ran, as name@version.
    pub ran: Vec<String>,
    pub findings: Vec<StoredFinding>,
    /// (plugin, failure kind) of every plugin that could not run.
    pub failed: Vec<(String, &'static str)>,
}

/// Runs the referenced plugins on a project (CPU-bound; call from a blocking thread).
pub fn run(host: &PluginHost, refs: &[PluginRef], project: &StoredProject) -> CheckRun {
    let input = plugin_host::project_for_plugins(project);
    let mut out = CheckRun { ran: Vec::new(), findings: Vec::new(), failed: Vec::new() };
    let mut plugins = Vec::new();
    for r in refs {
        match r {
            PluginRef::Named { name, version } => match host.get(name, version.as_deref()) {
                Some(p) => plugins.push(p),
                None => {
                    let failure = plugin_host::PluginFailure::Unknown(r.to_string());
                    out.failed.push((name.clone(), failure.kind()));
                    out.findings.push(failed_finding(name, version.clone(), &failure));
                }
            },
            PluginRef::Sector => {
                let mut found = host.for_sector(&project.sector);
                if found.is_empty() {
                    out.findings.push(StoredFinding {
                        plugin: "host".into(),
                        plugin_version: None,
                        code: "host.no_sector_plugin".into(),
                        severity: "info".into(),
                        indicator_index: None,
                        indicator_name: None,
                        message_zh: format!("未安装“{}”行业的指标检查插件，仅做通用检查", project.sector),
                        message_en: format!(
                            "no indicator-check plugin is installed for sector '{}'; only the general checks ran",
                            project.sector
                        ),
                    });
                }
                plugins.append(&mut found);
            }
        }
    }
    // A plugin named both directly and through the sector rule runs once.
    let mut seen = std::collections::HashSet::new();
    plugins.retain(|p| seen.insert((p.info.name.clone(), p.info.version.clone())));
    for p in plugins {
        let label = format!("{}@{}", p.info.name, p.info.version);
        match host.run_plugin(&p, &input) {
            Ok(findings) => {
                out.ran.push(label);
                for f in findings {
                    let index = f.indicator.map(i64::from);
                    let name = f.indicator.and_then(|i| project.indicators.get(i as usize)).map(|i| i.name.clone());
                    out.findings.push(StoredFinding {
                        plugin: p.info.name.clone(),
                        plugin_version: Some(p.info.version.clone()),
                        code: f.code,
                        severity: match f.severity {
                            Severity::Error => "error",
                            Severity::Warning => "warning",
                            Severity::Info => "info",
                        }
                        .into(),
                        // An index past the list is the plugin's mistake: keep the finding, drop the index.
                        indicator_index: name.as_ref().and(index),
                        indicator_name: name,
                        message_zh: f.message_zh,
                        message_en: f.message_en,
                    });
                }
            }
            Err(failure) => {
                out.failed.push((p.info.name.clone(), failure.kind()));
                out.findings.push(failed_finding(&p.info.name, Some(p.info.version.clone()), &failure));
            }
        }
    }
    out
}

fn failed_finding(plugin: &str, version: Option<String>, failure: &plugin_host::PluginFailure) -> StoredFinding {
    StoredFinding {
        plugin: plugin.to_string(),
        plugin_version: version,
        code: FAILED_CODE.into(),
        severity: "error".into(),
        indicator_index: None,
        indicator_name: None,
        message_zh: format!("插件 {plugin} 运行失败：{failure}"),
        message_en: format!("plugin {plugin} failed: {failure}"),
    }
}

/// Runs the given checks (a job): each pending one is run, then all their findings are stored
/// in one transaction, once. Returns how many were finished by this call.
pub async fn run_jobs(rt: &Arc<Runtime>, ids: &[i64]) -> anyhow::Result<usize> {
    let mut work: Vec<(CheckRequest, StoredProject)> = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(req) = rt.store.check_request(*id).await? else { continue };
        let project = rt.store.project(req.project_id).await?;
        work.push((req, project));
    }
    if work.is_empty() {
        return Ok(0);
    }
    let host = Arc::clone(&rt.plugins);
    let results = tokio::task::spawn_blocking(move || {
        work.into_iter()
            .map(|(req, project)| {
                let result = run(&host, &req.plugins, &project);
                (req, result)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let mut done = Vec::with_capacity(results.len());
    let mut failed = Vec::new();
    for (req, result) in results {
        failed.push((req.id, req.case_id, req.stage.clone(), result.failed));
        done.push((req, result.ran, result.findings));
    }
    let finished = rt.store.finish_checks(&done, rt.clock.now_ms()).await?;
    // Failures are counted and logged once, when their check is stored (a job that failed and
    // ran again, or was delivered twice, does not count them again).
    for (id, case, stage, failures) in failed.iter().filter(|(id, ..)| finished.contains(id)) {
        for (plugin, reason) in failures {
            rt.metrics.plugin_failed(plugin, reason);
            tracing::warn!(check = id, case, stage = %stage, plugin = %plugin, reason, "plugin failed");
        }
    }
    Ok(finished.len())
}
