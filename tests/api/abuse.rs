//! Standing abuse tests: what an anonymous client can do to the server's memory and to other
//! users must stay bounded.

use crate::helpers::TestApp;

/// Invented methods and paths never add series to `/metrics`: its labels come from closed sets.
#[tokio::test]
async fn random_methods_and_paths_leave_metrics_bounded() {
    let app = TestApp::spawn().await;
    let scrape = |app: &TestApp| {
        let (client, url) = (app.client.clone(), format!("{}/metrics", app.base));
        async move { client.get(url).bearer_auth(crate::helpers::ADMIN_TOKEN).send().await.unwrap().text().await.unwrap() }
    };
    // Every standard method on a few routes, so the known series exist before the count.
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
        for path in ["/healthz", "/api/v1/me", "/nowhere"] {
            let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
            app.client.request(method, format!("{}{path}", app.base)).send().await.unwrap();
        }
    }
    let _ = scrape(&app).await;
    let before = scrape(&app).await;
    let series = |text: &str| text.lines().filter(|l| l.starts_with("jixiao_http")).count();
    for i in 0..400 {
        let method = reqwest::Method::from_bytes(format!("M{i}X{}", i * 7919 % 1000).as_bytes()).unwrap();
        let path = format!("/{}/{}", i * 31, i * 17);
        let res = app.client.request(method, format!("{}{path}", app.base)).send().await.unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let after = scrape(&app).await;
    // The invented methods all count under "other" on the one "unmatched" route: a handful of
    // new series (a histogram's buckets for one label set), not one per request.
    let grown = series(&after).saturating_sub(series(&before));
    assert!(grown <= 40, "{grown} new series after 400 invented methods and paths");
    assert!(!after.contains("M1X"), "an invented method became a label");
    assert!(after.len() < before.len() + 8_000, "metrics grew from {} to {} bytes", before.len(), after.len());
}

/// The outbox names its transport without the server's folders.
#[tokio::test]
async fn the_outbox_does_not_show_the_server_s_paths() {
    let app = TestApp::spawn().await;
    let body = app.ok_get("/api/v1/outbox", crate::helpers::ADMIN_TOKEN).await;
    let transport = body["transport"].as_str().unwrap();
    assert_eq!(transport, "files in the mail folder (mail_dir)");
    assert!(!body.to_string().contains(&app.dir.path().display().to_string()), "{body}");
}

/// Names, e-mail addresses and codes with control or invisible characters are refused where
/// they enter, at their field; nothing is stored.
#[tokio::test]
async fn control_characters_are_refused_at_the_field() {
    use serde_json::json;
    let app = TestApp::spawn().await;
    let admin = crate::helpers::ADMIN_TOKEN;
    let cases = [
        (json!({"username": "u1", "display_name": "张三\r\nBcc: x@evil.cn", "role": "finance"}), "display_name"),
        (
            json!({"username": "u2", "display_name": "张三", "role": "finance", "email": "a@b.cn\r\nBcc: x@evil.cn"}),
            "email",
        ),
        (json!({"username": "u3", "display_name": "ad\u{202e}nim", "role": "finance"}), "display_name"),
        (json!({"username": "u4", "display_name": "nul\u{0}", "role": "finance"}), "display_name"),
        (json!({"username": "u5", "display_name": "张三", "role": "finance", "email": "not-an-address"}), "email"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post("/api/v1/admin/users", admin, body.clone()).await;
        assert_eq!(status.as_u16(), 422, "{body}: {answer}");
        let paths: Vec<&str> =
            answer["details"].as_array().unwrap().iter().filter_map(|d| d["path"].as_str()).collect();
        assert!(paths.contains(&field), "{body}: {answer}");
    }
    let (status, answer) = app
        .post("/api/v1/departments", admin, json!({"code": "D777", "name": "县\n教育局", "sector": "education"}))
        .await;
    assert_eq!(status.as_u16(), 422, "{answer}");
    let users = app.ok_get("/api/v1/admin/users", admin).await;
    assert_eq!(users["total"], 1, "nothing was stored: {users}");
}

/// Every answer carries the security headers: pages, API answers, errors and public documents.
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let admin = crate::helpers::ADMIN_TOKEN;
    for (path, token) in [
        ("/healthz", None),
        ("/login", None),
        ("/api/v1/me", Some(admin)),
        ("/api/v1/me", None),
        ("/api/v1/no-such", Some(admin)),
        ("/public/disclosures/2023/targets.html", None),
        ("/api/openapi.json", None),
    ] {
        let mut req = app.client.get(format!("{}{path}", app.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if token.is_some() {
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
    }
}

/// An amount beyond any budget is refused at its field (it used to be stored, and every report
/// answered 500 "integer overflow" from then on); the annual report keeps working.
#[tokio::test]
async fn an_amount_beyond_any_budget_is_refused_at_its_field() {
    let app = TestApp::spawn().await;
    let c = crate::helpers::county(&app).await;
    let admin = crate::helpers::ADMIN_TOKEN;
    let huge = "92233720368547758.07";
    let (status, answer) =
        app.post("/api/v1/projects", &c.dept_tokens[0], crate::helpers::project("BIG1", "D001", huge, false)).await;
    assert_eq!(status.as_u16(), 422, "{answer}");
    assert!(answer.to_string().contains("amount"), "{answer}");
    app.ok("/api/v1/projects", &c.dept_tokens[0], crate::helpers::project("OK1", "D001", "1000000", false)).await;
    let projects = app.ok_get("/api/v1/projects", admin).await;
    let id = projects["items"].as_array().unwrap().iter().find(|p| p["code"] == "OK1").unwrap()["id"].as_i64().unwrap();
    for amount in [serde_json::json!(huge), serde_json::json!(92_233_720_368_547_758_u64)] {
        let (status, answer) = app
            .post(
                &format!("/api/v1/projects/{id}/budget"),
                &c.finance_tokens[0],
                serde_json::json!({"kind": "addition", "amount": amount, "reason": "追加"}),
            )
            .await;
        assert_eq!(status.as_u16(), 422, "{answer}");
    }
    let (status, report) = app.get("/api/v1/reports/annual/2023", admin).await;
    assert_eq!(status.as_u16(), 200, "{report}");
    // Amounts written into the database behind the API's back, past what a 64-bit total can
    // hold: the report says so instead of answering 500, and wraps nothing round.
    app.ok("/api/v1/projects", &c.dept_tokens[0], crate::helpers::project("OK2", "D001", "1000000", false)).await;
    sqlx::query("UPDATE projects SET amount_fen = 5000000000000000000 WHERE code IN ('OK1', 'OK2')")
        .execute(&app.rt.store.pool)
        .await
        .unwrap();
    let (status, answer) = app.get("/api/v1/reports/annual/2023", admin).await;
    assert_eq!(status.as_u16(), 409, "{answer}");
    assert!(answer["message"].as_str().unwrap_or_default().contains("beyond what can be counted"), "{answer}");
}

/// Whatever refuses a request under `/api` answers with the API's error body: path and query
/// values that do not parse, a method the route lacks, an oversized upload, a body that is not
/// a JSON object.
#[tokio::test]
async fn every_api_refusal_is_the_error_body() {
    let app = TestApp::spawn().await;
    let admin = crate::helpers::ADMIN_TOKEN;
    let send = |method: &str, path: &str, body: Option<(Vec<u8>, &str)>| {
        let mut req = app
            .client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", app.base))
            .bearer_auth(admin);
        if let Some((bytes, kind)) = body {
            req = req.header("content-type", kind).body(bytes);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            (status, kind, res.text().await.unwrap())
        }
    };
    /// A request's method, path and body (bytes and content type), and the status it must get.
    type Case<'a> = (&'a str, &'a str, Option<(Vec<u8>, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        ("GET", "/api/v1/cases/abc", None, 400),
        ("GET", "/api/v1/cases?limit=abc", None, 400),
        ("DELETE", "/api/v1/me", None, 405),
        ("PATCH", "/api/v1/me", Some((b"[\"en\", true]".to_vec(), "application/json")), 422),
        ("PATCH", "/api/v1/me", Some((b"{\"language\": \"en\"}".to_vec(), "text/plain")), 415),
        ("POST", "/api/v1/plugins", Some((vec![0u8; 17 << 20], "application/wasm")), 413),
    ];
    for (method, path, body, want) in cases {
        let (status, kind, text) = send(method, path, body).await;
        assert_eq!(status, want, "{method} {path}: {text}");
        assert!(kind.starts_with("application/json"), "{method} {path}: {kind} {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v["code"].is_string() && v["message"].is_string() && v["details"].is_array(), "{method} {path}: {v}");
    }
    // The array was refused, so nothing changed.
    let me = app.ok_get("/api/v1/me", admin).await;
    assert_eq!(me["language"], "zh", "{me}");
}

/// Small workbooks that unpack into huge ones are refused at their bound, with the limit named,
/// before they are parsed: one cell far past Excel's 32,767 characters, and more shared strings
/// than a file may hold cells. The server goes on answering. (`jixiao bench bombs` reads the
/// full-size bombs, a 1 GiB cell and 50 million strings, and reports time and peak memory.)
#[tokio::test]
async fn xlsx_bombs_are_refused_at_their_bound() {
    use jixiao::bench::bombs::{Bomb, xlsx_bomb};
    let app = TestApp::spawn().await;
    let admin = crate::helpers::ADMIN_TOKEN;
    let bombs = [
        (Bomb::LongCell { bytes: 64 << 20 }, "32767 characters"),
        (Bomb::SharedStrings { count: 6_000_000 }, "shared strings"),
        // calamine reserves room for the declared count before reading: 10^12 strings would
        // ask for 24 TB at once and abort the process.
        (Bomb::DeclaredCount { count: 1_000_000_000_000 }, "declares count=\"1000000000000\""),
    ];
    for (bomb, named) in bombs {
        let file = tokio::task::spawn_blocking(move || xlsx_bomb(bomb)).await.unwrap();
        assert!(file.len() < 2 << 20, "{bomb:?} packs into {} bytes", file.len());
        let (status, body) = app.upload("/api/v1/imports?file=bomb.xlsx", admin, file).await;
        assert_eq!(status, 422, "{bomb:?}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{bomb:?}: {body}");
        let (status, _) = app.get("/api/v1/me", admin).await;
        assert_eq!(status, 200);
    }
    // An old .xls of a few kilobytes whose sheet declares four billion rows: the reader would
    // reserve memory for all of them at once, and a refused allocation ends the process.
    let xls = jixiao::bench::bombs::xls_with_dimensions(0, 0xFFFF_FFF0);
    assert!(xls.len() < 16 << 10);
    let (status, body) = app.upload("/api/v1/imports?file=bomb.xls", admin, xls).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("65536 rows"), "{body}");
    assert_eq!(app.get("/api/v1/me", admin).await.0, 200);
}

/// A client bound to the loopback address `last` (127.0.0.`last`): another client address.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap()
}

/// Someone else's wrong passwords lock the username for their address only: its owner, from
/// another address, still logs in with the right password. An address that fails across many
/// usernames is locked for all of them, and only that address. Behind a trusted proxy the
/// limits count by the address it forwards.
#[tokio::test]
async fn an_attacker_s_wrong_passwords_never_lock_the_owner_out() {
    use crate::helpers::{ADMIN_TOKEN, county};
    use crate::web::log_in_with;
    use reqwest::StatusCode;
    let app = TestApp::spawn_with(&[("JIXIAO_TRUSTED_PROXIES", "127.0.0.9".to_string())]).await;
    county(&app).await;
    let users = app.ok_get("/api/v1/admin/users?limit=100", ADMIN_TOKEN).await;
    let id = |name: &str| {
        users["items"].as_array().unwrap().iter().find(|u| u["username"] == name).unwrap()["id"].as_i64().unwrap()
    };
    let password = "县财政局-2023-绩效";
    for name in ["d001", "d002"] {
        let (s, v) = app
            .post(
                &format!("/api/v1/admin/users/{}/password", id(name)),
                ADMIN_TOKEN,
                serde_json::json!({"password": password}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let (owner, attacker, sprayer) = (client_from(1), client_from(2), client_from(3));

    // Five wrong passwords from the attacker's address lock d001 there, the right one included.
    for _ in 0..5 {
        assert_eq!(log_in_with(&app, &attacker, "d001", "guess-guess-guess").await.status, StatusCode::UNAUTHORIZED);
    }
    let locked = log_in_with(&app, &attacker, "d001", password).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.body);
    // The owner, elsewhere, gets in.
    let ok = log_in_with(&app, &owner, "d001", password).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);

    // One address guessing across thirty usernames is locked for every username, d002's
    // right password included; other addresses are not.
    for i in 0..30 {
        let s = log_in_with(&app, &sprayer, &format!("nobody{i}"), "guess-guess-guess").await.status;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(log_in_with(&app, &sprayer, "d002", password).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(log_in_with(&app, &owner, "d002", password).await.status, StatusCode::SEE_OTHER);

    // Through the trusted proxy (127.0.0.9) the limits count by the address the proxy saw,
    // the last in X-Forwarded-For; what a client writes in front of it is not believed, and
    // the header from anyone but the proxy is ignored.
    let via = |http: reqwest::Client, forwarded: &'static str| {
        let base = app.base.clone();
        async move {
            let page = http.get(format!("{base}/login")).send().await.unwrap();
            let pre = page
                .headers()
                .get_all("set-cookie")
                .iter()
                .find_map(|c| {
                    c.to_str().unwrap().strip_prefix("jx_login=").map(|v| v.split(';').next().unwrap().to_string())
                })
                .unwrap();
            http.post(format!("{base}/login"))
                .header("cookie", format!("jx_login={pre}"))
                .header("x-forwarded-for", forwarded)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("username=d002&password=wrong-wrong-wrong&csrf={pre}&next=%2F"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let proxy = client_from(9);
    for _ in 0..5 {
        assert_eq!(via(proxy.clone(), "10.1.1.1, 10.9.9.9").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(via(proxy.clone(), "10.2.2.2, 10.9.9.9").await, StatusCode::TOO_MANY_REQUESTS, "10.9.9.9 is locked");
    assert_eq!(via(proxy.clone(), "10.8.8.8").await, StatusCode::UNAUTHORIZED, "10.8.8.8 is not");
    assert_eq!(via(sprayer.clone(), "10.7.7.7").await, StatusCode::TOO_MANY_REQUESTS, "not from the proxy");
}

/// When an import's request times out, the reading of its file stops too: nothing runs on
/// after the answer.
#[tokio::test]
async fn a_spreadsheet_read_stops_when_its_request_times_out() {
    let app = TestApp::spawn_with(&[("JIXIAO_REQUEST_TIMEOUT_SECS", "1".to_string())]).await;
    // A large honest file (20,000 projects × 8 indicators): more than a second to read here.
    let (file, _) =
        tokio::task::spawn_blocking(|| jixiao::bench::import::county_workbook(20_000)).await.unwrap().unwrap();
    let before = jixiao::exchange::unpack::reads_stopped();
    let (status, body) =
        app.upload("/api/v1/imports?file=big.xlsx&dry_run=true", crate::helpers::ADMIN_TOKEN, file).await;
    assert_eq!(status, 503, "the read finished within the second: {body}");
    let t = std::time::Instant::now();
    while jixiao::exchange::unpack::reads_stopped() == before {
        assert!(t.elapsed() < std::time::Duration::from_secs(30), "the read went on after its request ended");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.get("/api/v1/me", crate::helpers::ADMIN_TOKEN).await.0, 200);
}
