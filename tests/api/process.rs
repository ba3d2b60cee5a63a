//! The real binary: first start prints the admin token once, SIGTERM shuts down cleanly, a bad
//! setting stops start-up with a clear message, `workflow check` reports positions.

use crate::helpers::free_port;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jixiao"))
}

#[test]
fn first_start_prints_the_token_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = bin()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir", dir.path().to_str().unwrap()])
        .env("JIXIAO_WORKFLOWS_DIR", format!("{}/workflows", env!("CARGO_MANIFEST_DIR")))
        .env_remove("JIXIAO_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut token = None;
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains("token") {
            token = line.split_whitespace().last().map(str::to_string);
        }
        if line.contains("listening") {
            break;
        }
    }
    let token = token.expect("the first start prints the admin token");
    assert!(token.starts_with("jx_"));
    assert!(dir.path().join("jixiao.db").exists(), "the database is created in the data folder");
    let me = std::process::Command::new("curl")
        .args(["-s", "-H", &format!("Authorization: Bearer {token}"), &format!("http://127.0.0.1:{port}/api/v1/me")])
        .output();
    if let Ok(me) = me {
        assert!(String::from_utf8_lossy(&me.stdout).contains("\"role\":\"admin\""));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "clean exit after SIGTERM: {code:?}");

    // A second start does not print a new token.
    let out = bin()
        .args(["demo", "--data-dir", dir.path().to_str().unwrap()])
        .env("JIXIAO_WORKFLOWS_DIR", format!("{}/workflows", env!("CARGO_MANIFEST_DIR")))
        .env_remove("JIXIAO_ADMIN_TOKEN")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("admin token"), "{text}");
    assert!(text.contains("3244 projects"), "{text}");
    assert!(text.contains("74 departments declared their overall duties and budget"), "{text}");
    assert!(text.contains("(department-overall) started with 74 cases"), "{text}");
}

#[test]
fn a_bad_setting_stops_start_up_and_names_it() {
    let out = bin().args(["serve"]).env("JIXIAO_LISTEN", "not-an-address").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("JIXIAO_LISTEN") && err.contains("expected a socket address"), "{err}");
}

#[test]
fn workflow_check_reports_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(&f, "id: x\nversion: 1\ntitle: t\ntimezone: Asia/Shanghai\nstages:\n  - id: a\n    kind: disclosure\n    approve: { by: finance, within: 5 weeks }\n").unwrap();
    let out = bin().args(["workflow", "check", f.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bad.yaml:8:37: bad duration"), "{text}");
    let good = bin()
        .args(["workflow", "check", &format!("{}/workflows/county-annual-cycle.yaml", env!("CARGO_MANIFEST_DIR"))])
        .output()
        .unwrap();
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stdout));
}
