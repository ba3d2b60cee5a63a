//! Start-up as a user meets it: relative paths resolved against the working directory, a start
//! that cannot proceed names the setting and leaves nothing half-made, the demo's credentials,
//! and the README's tour kept the same as the script CI runs.

use crate::helpers::free_port;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jixiao"));
    // Only what a test sets: nothing from the environment the tests run in.
    for (k, _) in std::env::vars() {
        if k.starts_with("JIXIAO_") {
            c.env_remove(k);
        }
    }
    c
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder laid out as a user's checkout: `workflows/` and `plugins/dist/` (links to the
/// repository's), and nothing else.
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let dist = crate::plugins::plugin_dist();
    std::os::unix::fs::symlink(repo().join("workflows"), dir.path().join("workflows")).unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    std::os::unix::fs::symlink(dist, dir.path().join("plugins/dist")).unwrap();
    dir
}

/// Waits for the line saying the server listens; returns everything printed until then.
fn until_listening(child: &mut Child) -> String {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        text.push_str(&line);
        if line.contains("listening") {
            // Keep the pipe drained so the server never blocks on a full one.
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            return text;
        }
    }
    panic!("the server did not start listening:\n{text}");
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "clean exit after SIGTERM: {s:?}");
            return;
        }
        assert!(Instant::now() < deadline, "the server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    })
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file and folder under `dir`, for "nothing was left behind".
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn default_relative_paths_start_the_demo_and_a_restart_changes_nothing() {
    let dir = checkout();
    let port = free_port();
    let start = || {
        bin()
            .current_dir(dir.path())
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .env("JIXIAO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    let mut child = start();
    let printed = until_listening(&mut child);
    let data = dir.path().join("data");
    assert!(data.join("jixiao.db").is_file(), "{printed}");
    assert!(data.join("plugin-cache").is_dir());
    assert_eq!(mode(&data.join("jixiao.db")), 0o600, "the database is readable by its owner only");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("mail")), 0o700);
    let creds = data.join("demo-tokens.txt");
    assert_eq!(mode(&creds), 0o600);
    let text = std::fs::read_to_string(&creds).unwrap();
    let rows: Vec<Vec<&str>> =
        text.lines().filter(|l| !l.starts_with('#')).map(|l| l.split_whitespace().collect()).collect();
    for role in ["admin", "finance", "department", "third_party", "expert"] {
        let row = rows.iter().find(|r| r[0] == role).unwrap_or_else(|| panic!("no {role} in\n{text}"));
        assert!(row[2].len() >= 10, "a password for {role}: {row:?}");
        assert!(row[3].starts_with("jx_"), "a token for {role}: {row:?}");
        let (status, me) = get(port, "/api/v1/me", Some(row[3]));
        assert_eq!(status, 200, "{role}: {me}");
        assert!(me.contains(&format!("\"role\":\"{role}\"")), "{role}: {me}");
    }
    assert!(rows.iter().filter(|r| r[0] == "expert").count() >= 3, "{text}");
    // The printed sign-in lines name the users and their passwords.
    let admin = rows.iter().find(|r| r[0] == "admin").unwrap();
    assert!(printed.contains(admin[2]), "{printed}");
    assert!(printed.contains("/login"), "{printed}");
    // The password signs in on the web page.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dept = rows.iter().find(|r| r[0] == "department").unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let page = client.get(format!("http://127.0.0.1:{port}/login")).send().await.unwrap();
        let cookie =
            page.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string());
        let html = page.text().await.unwrap();
        let csrf = html.split("name=\"csrf\" value=\"").nth(1).map(|s| s.split('"').next().unwrap().to_string());
        let mut form = vec![("username", dept[1].to_string()), ("password", dept[2].to_string())];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let mut req = client.post(format!("http://127.0.0.1:{port}/login")).form(&form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303, "the demo password signs in: {}", res.text().await.unwrap());
    });
    // The mail written for the demo's tasks is readable by the server's user only.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mail = loop {
        let found = std::fs::read_dir(data.join("mail"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "eml"));
        if let Some(p) = found {
            break p;
        }
        assert!(Instant::now() < deadline, "no mail written within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(mode(&mail), 0o600, "{}", mail.display());
    stop(&mut child);

    // A restart of the demo instance changes none of it.
    let mut child = start();
    let printed = until_listening(&mut child);
    assert!(printed.contains("nothing loaded"), "{printed}");
    assert!(!printed.contains("admin token"), "{printed}");
    assert_eq!(std::fs::read_to_string(&creds).unwrap(), text);
    let (status, _) = get(port, "/api/v1/me", Some(admin[3]));
    assert_eq!(status, 200);
    stop(&mut child);
}

/// A start refused because of a path: exit status, one line naming the setting, nothing left.
fn refused(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let before = listing(dir);
    let out = bin().current_dir(dir).args(args).envs(envs.iter().copied()).output().unwrap();
    assert!(!out.status.success(), "the start must fail: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(listing(dir), before, "a refused start leaves nothing behind: {err}");
    err
}

#[test]
fn a_start_that_cannot_proceed_names_the_setting_and_leaves_nothing_behind() {
    let dir = checkout();
    // A data folder that cannot be created (a part of its path is a file).
    std::fs::write(dir.path().join("afile"), "x").unwrap();
    let err = refused(dir.path(), &["serve", "--data-dir", "./afile/data"], &[]);
    assert!(err.contains("error: data_dir = ./afile/data: cannot create the folder"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // One that cannot be written in (permissions do not stop root, so only when not root).
    #[cfg(unix)]
    if !std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(true) {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("readonly");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        let err = refused(dir.path(), &["serve", "--data-dir", "./readonly"], &[]);
        assert!(err.contains("data_dir = ./readonly: cannot write in the folder: permission denied"), "{err}");
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    // The plugin cache and the mail folder are checked the same way, before any database.
    let err = refused(dir.path(), &["serve"], &[("JIXIAO_PLUGIN_CACHE_DIR", "afile/cache")]);
    assert!(err.contains("plugin_cache_dir = afile/cache: cannot create the folder"), "{err}");
    let err = refused(dir.path(), &["serve"], &[("JIXIAO_MAIL_DIR", "afile/mail")]);
    assert!(err.contains("mail_dir = afile/mail: cannot create the folder"), "{err}");
    let err = refused(dir.path(), &["serve"], &[("JIXIAO_CALENDAR_DIR", "no-such-calendars")]);
    assert!(err.contains("calendar_dir = no-such-calendars: does not exist"), "{err}");
    // A plugins folder that does not exist: the shipped workflow needs plugins, so the start
    // is refused, saying why and how to build them; the new database is taken away again.
    let err = refused(dir.path(), &["serve"], &[("JIXIAO_PLUGINS_DIR", "./no-plugins")]);
    assert!(err.contains("unknown plugin 'common'"), "{err}");
    assert!(err.contains("plugins_dir = ./no-plugins") && err.contains("bash plugins/build.sh"), "{err}");
}

#[test]
fn without_plugins_a_workflow_that_needs_none_still_starts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    let text = std::fs::read_to_string(repo().join("workflows/county-annual-cycle.yaml")).unwrap();
    // The shipped cycle without its plugin checks.
    let plain: String =
        text.lines().filter(|l| !l.trim_start().starts_with("checks:")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("flows/cycle.yaml"), plain).unwrap();
    let port = free_port();
    let mut child = bin()
        .current_dir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir", "state"])
        .env("JIXIAO_WORKFLOWS_DIR", "flows")
        .env("JIXIAO_PLUGINS_DIR", "missing/dist")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // The log goes to standard output, before the line saying the server listens.
    let log = until_listening(&mut child);
    assert_eq!(get(port, "/readyz", None).0, 200);
    stop(&mut child);
    assert!(log.contains("plugins_dir = missing/dist: no such folder; starting without its plugins"), "{log}");
    assert!(dir.path().join("state/jixiao.db").is_file());
}

#[test]
fn import_creates_a_missing_data_folder_and_audit_never_does() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("departments.csv");
    std::fs::write(&csv, "部门编码,部门名称,行业\nD900,县测试局,教育\n").unwrap();
    let out =
        bin().current_dir(dir.path()).args(["import", "departments.csv", "--data-dir", "new/data"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("a new one is created there") && text.contains("stored"), "{text}");
    assert!(dir.path().join("new/data/jixiao.db").is_file());
    // A dry run into a missing folder creates nothing.
    let out = bin()
        .current_dir(dir.path())
        .args(["import", "departments.csv", "--dry-run", "--data-dir", "other"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join("other").exists());
    // Verifying the audit trail of a folder without a database is an error, not an empty log.
    let out = bin().current_dir(dir.path()).args(["audit", "verify", "--data-dir", "typo"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("typo").exists());
}

#[test]
fn the_readme_shows_the_tour_script_verbatim() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let script = std::fs::read_to_string(repo().join("scripts/tour.sh")).unwrap();
    let start = readme.find("```sh\n#!/usr/bin/env bash\n").expect("the README shows scripts/tour.sh in a sh block");
    let body = &readme[start + "```sh\n".len()..];
    let end = body.find("```\n").expect("the block ends");
    assert_eq!(&body[..end], script, "README's tour block and scripts/tour.sh differ");
    // The two commands come first, and CI runs the first as written.
    let two = readme.find("## Two commands").expect("a section with the two commands");
    assert!(two < start);
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(ci.contains("scripts/fresh-clone.sh"), "CI runs the README's commands on a fresh clone");
}

/// An api and two workers started at the same moment on an empty PostgreSQL all start: the
/// first admin, the shipped workflows and the plugins are created once, by whichever comes
/// first. (Before start-up took a lock, one of three lost that race each time.)
#[test]
fn an_api_and_workers_started_together_on_postgres_all_start() {
    if std::env::var("JIXIAO_TEST_DATABASE_URL").map_or(true, |v| v.is_empty()) {
        eprintln!("skipped: set JIXIAO_TEST_DATABASE_URL (and JIXIAO_TEST_REDIS_URL) to run it");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = rt.block_on(crate::helpers::test_env(dir.path()));
    let port = free_port();
    let spawn = |args: &[&str]| {
        bin()
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("JIXIAO_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    /// The processes, killed if the test fails half-way (so no orphan holds a pipe open).
    struct Procs(Vec<Child>);
    impl Drop for Procs {
        fn drop(&mut self) {
            for c in &mut self.0 {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut procs = Procs(vec![spawn(&["serve", "--api-only"]), spawn(&["worker"]), spawn(&["worker"])]);
    // Each process's output read on a thread of its own, so a silent process cannot hang the test.
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Option<String>)>();
    for (i, child) in procs.0.iter_mut().enumerate() {
        let out = BufReader::new(child.stdout.take().unwrap());
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in out.lines() {
                let _ = tx.send((i, Some(line.unwrap_or_default())));
            }
            let _ = tx.send((i, None));
        });
    }
    let mut started = [false; 3];
    let deadline = Instant::now() + Duration::from_secs(120);
    while started.iter().any(|s| !s) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, Some(line))) if line.contains("listening") || line.contains("worker running") => started[i] = true,
            Ok((_, Some(_))) => {}
            Ok((i, None)) => assert!(started[i], "process {i} (of api, worker, worker) exited during start-up"),
            Err(_) => panic!("not every process started within 120 s: {started:?}"),
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    for child in &mut procs.0 {
        assert!(child.try_wait().unwrap().is_none(), "a process stopped after starting");
    }
    assert_eq!(get(port, "/readyz", None).0, 200);
    for child in &mut procs.0 {
        stop(child);
    }
}
