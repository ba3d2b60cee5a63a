//! The plugin host against freshly built plugins (plugins/build.sh runs once per test binary):
//! the sector plugins find real defects, and misbehaving plugins become failures while the host
//! goes on.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use jixiao::plugin_host::{Limits, PluginFailure, PluginHost, Severity, project_for_plugins, sample_project};

/// Builds the plugin workspace once and returns the folder of its components.
pub fn plugin_dist() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins");
            let out = std::process::Command::new("bash").arg(root.join("build.sh")).output().expect("bash runs");
            assert!(
                out.status.success(),
                "plugins/build.sh failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            root.join("dist")
        })
        .clone()
}

/// A built component: a shipped plugin from dist/, a misbehaving test plugin from dist/test/.
pub fn wasm(name: &str) -> Vec<u8> {
    let dist = plugin_dist();
    let path = dist.join(format!("{name}.wasm"));
    let path = if path.exists() { path } else { dist.join("test").join(format!("{name}.wasm")) };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn host() -> PluginHost {
    let cache = tempfile::tempdir().unwrap().keep();
    PluginHost::new(Some(&cache), Limits::default()).unwrap()
}

#[test]
fn sector_plugins_load_describe_themselves_and_find_defects() {
    let h = host();
    for name in ["common", "education", "health", "agriculture", "transport", "social-security"] {
        let p = h.load(&wasm(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.info.interface_version, "1.0.0");
        assert!(!p.info.sectors.is_empty(), "{name} names its sectors");
        assert_eq!(p.sha256.len(), 64);
    }
    assert_eq!(h.list().len(), 6);
    // A health project with the seed's defects: a reverse-sense rate declared with ≥ and an
    // unfalsifiable 100%, text on a quantitative indicator, no benefit indicator, a vaccination
    // target under 90%.
    let mut p = sample_project();
    p.indicators[0].value = "80".into();
    p.indicators[1].name = "逾期发放率".into();
    p.indicators[1].value = "100".into();
    p.indicators[2].level1 = jixiao::plugin_host::Level1::Output;
    p.indicators[2].level2 = "质量指标".into();
    p.indicators[2].operator = jixiao::plugin_host::Operator::Ge;
    p.indicators[2].unit = "%".into();
    let common = h.check("common", None, &p).unwrap();
    let codes: Vec<&str> = common.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.iter().any(|c| c.contains("benefit")), "missing 效益 is found: {codes:?}");
    assert!(common.iter().any(|f| f.indicator == Some(1)), "the 逾期发放率 indicator is named: {codes:?}");
    assert!(
        common.iter().any(|f| f.indicator == Some(2) && f.severity == Severity::Error),
        "text on a quantitative indicator: {codes:?}"
    );
    assert!(common.iter().all(|f| !f.message_zh.is_empty() && !f.message_en.is_empty()));
    let health = h.check("health", None, &p).unwrap();
    assert!(
        health.iter().any(|f| f.indicator == Some(0)),
        "a vaccination target of 80% is flagged: {:?}",
        health.iter().map(|f| &f.code).collect::<Vec<_>>()
    );
    // The sample project itself is clean for the common rules' errors.
    let clean = h.check("common", None, &sample_project()).unwrap();
    assert!(
        clean.iter().all(|f| f.severity != Severity::Error),
        "{:?}",
        clean.iter().map(|f| &f.code).collect::<Vec<_>>()
    );
}

/// What a failure must look like.
type Expect = fn(&PluginFailure) -> bool;

#[test]
fn misbehaving_plugins_fail_cleanly_and_the_host_goes_on() {
    let h = host();
    let table: Vec<(&str, Expect)> = vec![
        ("loop-forever", |e| matches!(e, PluginFailure::Timeout(50))),
        // On a busy machine the time limit can stop the bomb before it reaches the memory limit.
        ("memory-bomb", |e| {
            matches!(e, PluginFailure::OutOfMemory(32) | PluginFailure::Trap(_) | PluginFailure::Timeout(_))
        }),
        ("panics", |e| matches!(e, PluginFailure::Trap(_))),
        ("huge-output", |e| {
            matches!(
                e,
                PluginFailure::OutputTooLarge(_)
                    | PluginFailure::OutOfMemory(_)
                    | PluginFailure::Trap(_)
                    | PluginFailure::Timeout(_)
            )
        }),
        ("wrong-interface", |e| matches!(e, PluginFailure::WrongInterface { .. })),
    ];
    for (name, expected) in table {
        let started = Instant::now();
        let err = h.load(&wasm(name)).expect_err(name);
        assert!(expected(&err), "{name}: {err}");
        assert!(started.elapsed().as_secs() < 10, "{name} was stopped promptly");
    }
    assert!(h.list().is_empty(), "no misbehaving plugin was accepted");
    // The host still serves good plugins afterwards.
    h.load(&wasm("common")).unwrap();
    assert!(h.check("common", None, &sample_project()).is_ok());
    assert_eq!(h.check("nope", None, &sample_project()).unwrap_err(), PluginFailure::Unknown("nope".into()));
    let garbage = h.load(b"not wasm").unwrap_err();
    assert!(matches!(garbage, PluginFailure::Invalid(_)), "{garbage}");
}

#[test]
fn compiled_plugins_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = wasm("common");
    let first = Instant::now();
    PluginHost::new(Some(cache.path()), Limits::default()).unwrap().load(&bytes).unwrap();
    let cold = first.elapsed();
    // wasmtime writes its cache in the background; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let files = walk(cache.path());
    assert!(files > 0, "the compiled component is in the cache folder");
    let second = Instant::now();
    PluginHost::new(Some(cache.path()), Limits::default()).unwrap().load(&bytes).unwrap();
    let warm = second.elapsed();
    eprintln!("load cold {cold:?}, warm {warm:?}");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

#[test]
fn stored_projects_convert_for_plugins() {
    let county = jixiao::demo::generate(7, 10, 2023);
    for p in &county.projects {
        let stored = jixiao::domain::project::Project {
            id: 1,
            code: p.code.clone(),
            name: p.name.clone(),
            department_id: 1,
            department_code: p.department_code.clone(),
            sector: p.sector.clone(),
            amount: p.amount,
            budget: p.amount,
            fiscal_year: p.fiscal_year,
            is_new: p.is_new,
            funding_source: p.funding_source,
            kind: "project".into(),
            indicators: p.indicators.clone(),
        };
        let q = project_for_plugins(&stored);
        assert_eq!(q.indicators.len(), p.indicators.len());
        assert_eq!(q.amount_fen, p.amount.fen());
    }
}

#[tokio::test]
async fn plugins_are_uploaded_validated_listed_and_versioned_through_the_api() {
    use crate::helpers::*;
    use reqwest::StatusCode;
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    // The shipped plugins were loaded from plugins/dist at start.
    let (_, list) = app.get("/api/v1/plugins", ADMIN_TOKEN).await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["agriculture", "common", "education", "health", "social-security", "transport"], "{list}");
    let (s, v) = app.upload_plugin(&c.dept_tokens[0], wasm("buggy")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = app.upload_plugin(ADMIN_TOKEN, wasm("buggy")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "buggy");
    let (s, _) = app.upload_plugin(ADMIN_TOKEN, wasm("buggy")).await;
    assert_eq!(s, StatusCode::OK, "the same component again changes nothing");
    let (s, _) = app.upload_plugin(ADMIN_TOKEN, wasm("common")).await;
    assert_eq!(s, StatusCode::OK, "a shipped plugin uploaded again changes nothing");
    let (s, v) = app.upload_plugin(ADMIN_TOKEN, wasm("loop-forever")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["code"], "invalid_plugin");
    assert!(v["message"].as_str().unwrap().contains("time limit"), "{v}");
    let (s, v) = app.upload_plugin(ADMIN_TOKEN, wasm("wrong-interface")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().unwrap().contains("interface"), "{v}");
    let (s, v) = app.upload_plugin(ADMIN_TOKEN, b"\0asm garbage".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, list) = app.get("/api/v1/plugins", &c.expert_tokens[0].1).await;
    assert_eq!(s, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 7, "{list}");
    let buggy = items.iter().find(|p| p["name"] == "buggy").unwrap();
    assert_eq!(buggy["interface_version"], "1.0.0");
    assert_eq!(buggy["loaded"], true);
    assert_eq!(buggy["sha256"].as_str().unwrap().len(), 64);
    let (_, m) = app.call(reqwest::Method::GET, "/metrics", Some(ADMIN_TOKEN), None).await;
    let m = m.as_str().unwrap();
    for reason in ["timeout", "wrong_interface", "invalid"] {
        let line = format!("jixiao_plugin_failures_total{{plugin=\"(upload)\",reason=\"{reason}\"}} 1");
        assert!(m.contains(&line), "{line} in\n{m}");
    }
    // A restart loads the uploaded plugin again from the store.
    let app = app.restart().await;
    let (_, list) = app.get("/api/v1/plugins", ADMIN_TOKEN).await;
    let buggy = list["items"].as_array().unwrap().iter().find(|p| p["name"] == "buggy").unwrap().clone();
    assert_eq!(buggy["loaded"], true, "{list}");
}
