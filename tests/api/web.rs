//! The web pages' log-in over real HTTP: passwords, the session cookie, CSRF on every form,
//! the log-in rate limit, session expiry, and the inbox page in Chinese and English.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::helpers::*;

pub(crate) struct Page {
    pub status: StatusCode,
    pub cookies: Vec<String>,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value a Set-Cookie gave `name`, with its attributes.
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|c| c.starts_with(&format!("{name}="))).map(String::as_str)
    }

    fn cookie_value(&self, name: &str) -> String {
        let c = self.cookie(name).unwrap_or_else(|| panic!("no {name} cookie in {:?}", self.cookies));
        c[name.len() + 1..].split(';').next().unwrap().to_string()
    }

    /// The value of the hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        self.body[at..].split('"').next().unwrap().to_string()
    }
}

async fn send(req: reqwest::RequestBuilder) -> Page {
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let cookies = resp.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let location = resp.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_string());
    Page { status, cookies, location, body: resp.text().await.unwrap() }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) async fn get(app: &TestApp, path: &str, cookies: &str) -> Page {
    send(client().get(format!("{}{path}", app.base)).header(COOKIE, cookies)).await
}

pub(crate) async fn post(app: &TestApp, path: &str, cookies: &str, fields: &[(&str, &str)]) -> Page {
    let req = client()
        .post(format!("{}{path}", app.base))
        .header(COOKIE, cookies)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields));
    send(req).await
}

/// Logs in through the form; returns the session cookie.
async fn log_in(app: &TestApp, username: &str, password: &str) -> Page {
    log_in_with(app, &client(), username, password).await
}

/// Logs in through the form with `http` (e.g. a client bound to another local address).
pub(crate) async fn log_in_with(app: &TestApp, http: &reqwest::Client, username: &str, password: &str) -> Page {
    let page = send(http.get(format!("{}/login", app.base))).await;
    let pre = page.cookie_value("jx_login");
    let fields = [("username", username), ("password", password), ("csrf", &page.csrf()), ("next", "/")];
    let req = http
        .post(format!("{}/login", app.base))
        .header(COOKIE, format!("jx_login={pre}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&fields));
    send(req).await
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    let users = app.ok_get("/api/v1/admin/users?limit=100", ADMIN_TOKEN).await;
    users["items"].as_array().unwrap().iter().find(|u| u["username"] == username).unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn log_in_with_a_password_and_see_the_inbox_with_csrf_and_limits_enforced() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": ONE_STAGE})).await;
    app.ok("/api/v1/projects", &c.dept_tokens[0], project("W2023-1", "D001", "1000000", false)).await;
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "self-only", "fiscal_year": 2023, "project_codes": ["W2023-1"]}),
    )
    .await;
    let (d001, d002) = (user_id(&app, "d001").await, user_id(&app, "d002").await);
    let (s, v) =
        app.post(&format!("/api/v1/admin/users/{d001}/password"), ADMIN_TOKEN, json!({"password": "short"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    for id in [d001, d002] {
        let (s, v) = app
            .post(&format!("/api/v1/admin/users/{id}/password"), ADMIN_TOKEN, json!({"password": "县财政局-2023-绩效"}))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let (s, _) = app
        .post(
            &format!("/api/v1/admin/users/{d001}/password"),
            &c.finance_tokens[0],
            json!({"password": "0123456789ab"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The log-in page: Chinese, no foreign asset, a CSRF token doubled in an HttpOnly cookie.
    let page = get(&app, "/login", "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("登录") && page.body.contains("/assets/app.css"), "{}", page.body);
    assert!(!page.body.contains("http://") && !page.body.contains("https://"), "every asset is served by jixiao");
    let pre = page.cookie("jx_login").unwrap();
    assert!(pre.contains("HttpOnly") && pre.contains("SameSite=Lax"), "{pre}");
    assert_eq!(page.cookie_value("jx_login"), page.csrf());

    // A form without the matching token is refused.
    let refused = post(
        &app,
        "/login",
        "jx_login=forged",
        &[("username", "d001"), ("password", "县财政局-2023-绩效"), ("csrf", "other")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("页面已过期"), "{}", refused.body);
    // A token the client made up, doubled in a cookie it set itself, is refused too: the
    // server signs the tokens it issues. So is a signed token altered, or one over an hour old.
    let made_up = "1700000000000-0123456789abcdef0123456789abcdef.00ff";
    let mut altered = page.csrf();
    altered.replace_range(0..1, if altered.starts_with('1') { "2" } else { "1" });
    for token in [made_up.to_string(), altered] {
        let refused = post(
            &app,
            "/login",
            &format!("jx_login={token}"),
            &[("username", "d001"), ("password", "县财政局-2023-绩效"), ("csrf", &token)],
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{token}");
    }

    // Wrong passwords count; the sixth try is locked out even with the right password, until
    // the window has passed.
    for _ in 0..5 {
        let wrong = log_in(&app, "d002", "not-the-password").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("用户名或密码不正确"), "{}", wrong.body);
    }
    let locked = log_in(&app, "d002", "县财政局-2023-绩效").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.body.contains("登录失败次数过多"), "{}", locked.body);

    // The right password opens a session in an HttpOnly cookie and goes to the inbox.
    let ok = log_in(&app, "d001", "县财政局-2023-绩效").await;
    assert_eq!((ok.status, ok.location.as_deref()), (StatusCode::SEE_OTHER, Some("/")), "{}", ok.body);
    let session = ok.cookie("jx_session").unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    let jar = format!("jx_session={}", ok.cookie_value("jx_session"));
    let inbox = get(&app, "/", &jar).await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(
        inbox.body.contains("我的待办") && inbox.body.contains("W2023-1") && inbox.body.contains("单位绩效自评"),
        "{}",
        inbox.body
    );
    let english = get(&app, "/?lang=en", &jar).await;
    assert!(
        english.body.contains("My tasks") && english.body.contains("fill in or re-score the self-evaluation"),
        "{}",
        english.body
    );
    assert!(english.cookie("jx_lang").is_some_and(|c| c.starts_with("jx_lang=en")));

    // Log-out needs the session's token.
    let forged = post(&app, "/logout", &jar, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/", &jar).await.status, StatusCode::OK, "still signed in");

    // A session ends after 30 idle minutes.
    app.set_time(start_ms() + 31 * 60_000);
    let expired = get(&app, "/", &jar).await;
    assert_eq!((expired.status, expired.location.as_deref()), (StatusCode::SEE_OTHER, Some("/login?next=/")));

    // By then the lock on d002 has passed too; logging out ends the session at once.
    let ok = log_in(&app, "d002", "县财政局-2023-绩效").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let jar = format!("jx_session={}", ok.cookie_value("jx_session"));
    let inbox = get(&app, "/", &jar).await;
    assert!(inbox.body.contains("目前没有待办事项"), "{}", inbox.body);
    let out = post(&app, "/logout", &jar, &[("csrf", &inbox.csrf())]).await;
    assert_eq!((out.status, out.location.as_deref()), (StatusCode::SEE_OTHER, Some("/login")));
    assert_eq!(get(&app, "/", &jar).await.status, StatusCode::SEE_OTHER);
}

/// Signs in `username` (whose password the admin sets) and returns the session cookie.
pub(crate) async fn session_of(app: &TestApp, username: &str) -> String {
    let id = user_id(app, username).await;
    let (s, v) = app
        .post(&format!("/api/v1/admin/users/{id}/password"), ADMIN_TOKEN, json!({"password": "县财政局-2023-绩效"}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let ok = log_in(app, username, "县财政局-2023-绩效").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    format!("jx_session={}", ok.cookie_value("jx_session"))
}

/// The form fields a page's task form shows, as posted back unchanged.
pub(crate) fn shown_fields(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in body.split("<input type=\"text\" name=\"").skip(1) {
        let name = part.split('"').next().unwrap().to_string();
        let value = part.split("value=\"").nth(1).and_then(|v| v.split('"').next()).unwrap_or_default();
        out.push((name, value.replace("&amp;", "&").replace("&#x2f;", "/")));
    }
    for part in body.split("<select name=\"").skip(1) {
        let name = part.split('"').next().unwrap().to_string();
        let chosen = part.split("</select>").next().unwrap();
        let value = chosen.split("\" selected>").next().filter(|_| chosen.contains(" selected>"));
        let value = value.and_then(|v| v.rsplit("value=\"").next()).unwrap_or_default();
        out.push((name, value.to_string()));
    }
    out
}

#[tokio::test]
async fn targets_are_declared_from_the_sector_library_and_the_bureau_pages_answer_by_role() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let mut p = project("T2023-1", "D001", "800000", false);
    p["indicators"] = json!([]);
    app.ok("/api/v1/projects", &c.dept_tokens[0], p).await;
    app.ok(
        "/api/v1/cycles",
        &c.finance_tokens[0],
        json!({"workflow_id": "county-annual-cycle", "fiscal_year": 2023, "project_codes": ["T2023-1"]}),
    )
    .await;
    let (_, cases) = app.get("/api/v1/cases", ADMIN_TOKEN).await;
    let case_id = cases["items"][0]["id"].as_i64().unwrap();
    let v = app.wait_case(case_id, "targets requested", |v| v["phase"] == "awaiting_submission").await;
    let task = open_task(&v, "submission")["id"].as_i64().unwrap();
    let dept = session_of(&app, "d001").await;

    // The declaration page offers the health library; ticking two entries adds them as rows.
    let page = get(&app, &format!("/tasks/{task}"), &dept).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("行业指标库") && page.body.contains("适龄儿童国家免疫规划疫苗接种率"), "{}", page.body);
    let csrf = page.csrf();
    let added = post(
        &app,
        &format!("/tasks/{task}"),
        &dept,
        &[("csrf", &csrf), ("add", "1"), ("pick.0", "1"), ("pick.1", "1")],
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(added.body.contains("name=\"indicators[1].name\" value=\"7岁以下儿童健康管理率\""), "{}", added.body);
    // The session cookie is for the pages only: the API still wants a token.
    assert_eq!(get(&app, &format!("/api/v1/tasks/{task}"), &dept).await.status, StatusCode::UNAUTHORIZED);

    // Submitted with a weight missing and a level-2 name that is not under its level 1: each
    // mistake comes back in Chinese beside its field, and nothing is stored.
    let mut fields = shown_fields(&added.body);
    for (k, v) in fields.iter_mut() {
        if k == "indicators[0].weight" {
            *v = "60".into();
        }
        if k == "indicators[1].level2" {
            *v = "社会效益指标".into();
        }
    }
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    form.push(("csrf", &csrf));
    let wrong = post(&app, &format!("/tasks/{task}"), &dept, &form).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.body);
    assert!(wrong.body.contains("“社会效益指标”不是产出下的二级指标"), "{}", wrong.body);
    assert_eq!(app.ok_get(&format!("/api/v1/tasks/{task}"), ADMIN_TOKEN).await["status"], "open");
    let mut fields = shown_fields(&wrong.body);
    for (k, v) in fields.iter_mut() {
        match k.as_str() {
            "indicators[1].level2" => *v = "数量指标".into(),
            "indicators[1].weight" => *v = "40".into(),
            _ => {}
        }
    }
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    form.push(("csrf", &csrf));
    let done = post(&app, &format!("/tasks/{task}"), &dept, &form).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (StatusCode::SEE_OTHER, Some(&*format!("/tasks/{task}?done=1"))),
        "{}",
        done.body
    );
    let stored = app.ok_get(&format!("/api/v1/tasks/{task}"), ADMIN_TOKEN).await;
    assert_eq!(stored["status"], "completed", "{stored}");
    let project = app.ok_get(&format!("/api/v1/projects/{}", v["project_id"]), ADMIN_TOKEN).await;
    let names: Vec<&str> =
        project["indicators"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["适龄儿童国家免疫规划疫苗接种率", "7岁以下儿童健康管理率"]);

    // Who may open which page.
    assert_eq!(get(&app, "/dashboard", &dept).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/projects", &dept).await.status, StatusCode::OK);
    let expert = session_of(&app, "expert1").await;
    assert_eq!(get(&app, "/projects", &expert).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, &format!("/cases/{case_id}"), &expert).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/dashboard", "").await.location.as_deref(), Some("/login?next=/dashboard"));
    let other = session_of(&app, "d002").await;
    assert_eq!(get(&app, &format!("/tasks/{task}"), &other).await.status, StatusCode::NOT_FOUND);
    let bureau = session_of(&app, "finance1").await;
    for (path, expect) in [
        ("/dashboard", "各环节案卷"),
        ("/cases?stage=target_review", "T2023-1"),
        ("/panels", "评审专家"),
        ("/workflows", "county-annual-cycle"),
        ("/workflows/county-annual-cycle/5", "绩效目标申报与审核"),
        ("/actions?status=all", "结果应用"),
        ("/disclosures", "信息公开"),
        (&format!("/cases/{case_id}"), "办理记录"),
    ] {
        let page = get(&app, path, &bureau).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(page.body.contains(expect), "{path} lacks {expect}: {}", page.body);
    }
    // The result actions' status tabs are in Chinese, not the stored status words.
    let actions = get(&app, "/actions", &bureau).await;
    assert!(actions.body.contains("待审批") && actions.body.contains("执行中"), "{}", actions.body);
    assert!(!actions.body.contains(">in_progress<") && !actions.body.contains(">proposed<"), "{}", actions.body);
    // Publishing a disclosure: the form's token is required.
    let page = get(&app, "/disclosures", &bureau).await;
    let forged =
        post(&app, "/disclosures", &bureau, &[("csrf", "forged"), ("fiscal_year", "2023"), ("kind", "targets")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let published = post(
        &app,
        "/disclosures",
        &bureau,
        &[("csrf", &page.csrf()), ("fiscal_year", "2023"), ("kind", "targets"), ("correction_note", "")],
    )
    .await;
    assert_eq!(published.status, StatusCode::SEE_OTHER, "{}", published.body);
    let list = get(&app, "/disclosures", &bureau).await;
    assert!(list.body.contains("/public/disclosures/2023/targets.html"), "{}", list.body);
}
