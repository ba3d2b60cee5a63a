//! Standing abuse tests: what an anonymous client can do to the server's memory and to other
//! users must stay bounded.

use crate::helpers::TestApp;

/// Invented methods and paths never add series to `/metrics`: its labels come from closed sets.
#[tokio::test]
async fn random_methods_and_paths_leave_metrics_bounded() {
    let app = TestApp::spawn().await;
    let scrape = |app: &TestApp| {
        let (client, url) = (app.client.clone(), format!("{}/metrics", app.base));
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
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
