//! The web pages, served by the API's own server: HTML rendered on the server from templates
//! embedded in the binary (compiled and test-rendered at start-up, HTML-escaped), one
//! stylesheet and no external asset. Chinese by default, English on request.
//!
//! Log-in is by username and password (argon2id hashes, `store::sessions`); the session lives in
//! an HttpOnly, SameSite=Lax cookie (Secure when `public_url` is https). Every form carries a
//! CSRF token: the session's, or before log-in a random one doubled in a cookie. Failed log-ins
//! are counted per username and lock it for a while. API tokens keep working for machines.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Environment;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::Runtime;
use crate::store::people::User;
use crate::store::sessions::{LoginRefused, Session};

const SESSION_COOKIE: &str = "jx_session";
const LOGIN_CSRF_COOKIE: &str = "jx_login";
const LANG_COOKIE: &str = "jx_lang";

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("layout.html")),
    ("login.html", include_str!("login.html")),
    ("inbox.html", include_str!("inbox.html")),
];

const STYLESHEET: &str = include_str!("app.css");

/// The pages' words: (key, Chinese, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("app", "预算绩效管理", "Budget performance"),
    ("login", "登录", "Log in"),
    ("logout", "退出", "Log out"),
    ("username", "用户名", "Username"),
    ("password", "密码", "Password"),
    ("other_language", "English", "中文"),
    ("inbox", "我的待办", "My tasks"),
    ("pending", "待办", "Open"),
    ("due_soon", "即将到期", "Due soon"),
    ("overdue", "已逾期", "Overdue"),
    ("project", "项目", "Project"),
    ("stage", "环节", "Stage"),
    ("task", "事项", "Task"),
    ("due", "截止时间", "Due"),
    ("more", "另有待办（请缩小范围查看）：", "More open tasks not shown:"),
    ("nothing", "目前没有待办事项。", "Nothing to do right now."),
    ("wrong", "用户名或密码不正确。", "The username or password is wrong."),
    ("locked", "登录失败次数过多，请于 {} 后再试。", "Too many failed attempts; try again after {}."),
    ("expired", "页面已过期，请重新提交。", "The page expired; please submit it again."),
];

/// One of the pages' words in `lang`.
fn word(lang: &str, key: &'static str) -> &'static str {
    WORDS.iter().find(|(k, ..)| *k == key).map(|(_, zh, en)| if lang == "en" { *en } else { *zh }).unwrap_or(key)
}

/// The compiled page templates.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Compiles every page and renders it with a sample; a broken page stops start-up.
    pub fn load() -> anyhow::Result<Pages> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).map_err(|e| anyhow::anyhow!("page template {name}: {e}"))?;
        }
        let pages = Pages { env };
        for (name, _) in TEMPLATES {
            pages.render(name, "zh", None, "", sample()).map_err(|e| anyhow::anyhow!("page template {name}: {e}"))?;
        }
        Ok(pages)
    }

    fn render(
        &self,
        name: &str,
        lang: &str,
        user: Option<&User>,
        csrf: &str,
        mut ctx: Value,
    ) -> anyhow::Result<String> {
        let en = lang == "en";
        let words: BTreeMap<&str, &str> = WORDS.iter().map(|(k, zh, e)| (*k, if en { *e } else { *zh })).collect();
        ctx["t"] = json!(words);
        ctx["lang"] = json!(if en { "en" } else { "zh-CN" });
        ctx["other_lang"] = json!(if en { "zh" } else { "en" });
        ctx["user"] = json!(user);
        ctx["csrf"] = json!(csrf);
        Ok(self.env.get_template(name)?.render(&ctx)?)
    }
}

/// What every page is test-rendered with at start-up.
fn sample() -> Value {
    json!({
        "error": "", "next": "/", "username": "",
        "total": 1, "due_soon": 0, "overdue": 1, "more": 0,
        "tasks": [{"project_code": "XY2023-D001-0001", "project_name": "基本公共卫生服务项目", "stage_title": "绩效目标审核",
                   "task_label": "申报绩效目标", "due": "2023-03-14 23:59", "state": "overdue"}],
    })
}

pub fn routes() -> Router<Arc<Runtime>> {
    Router::new()
        .route("/", get(inbox))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/assets/app.css", get(stylesheet))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A cookie for the pages: HttpOnly, SameSite=Lax, Secure when served over https.
fn set_cookie(rt: &Runtime, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
    let secure = if rt.settings.public_url.starts_with("https://") { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("jx_invalid=1"))
}

/// A page with the headers every page carries: no framing, no foreign content.
fn page(html: String, extra: Vec<(header::HeaderName, HeaderValue)>) -> Response {
    let mut resp = Html(html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    for (k, v) in extra {
        h.append(k, v);
    }
    resp
}

fn failure(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a page failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "an internal error occurred; it has been logged").into_response()
}

/// The visitor's language: `?lang=`, else the cookie, else (see [`Lang::for_user`]) the
/// user's, else Chinese.
#[derive(Debug, Clone)]
pub struct Lang(pub String, bool);

impl Lang {
    /// The user's own language unless the visitor chose one.
    fn for_user(self, user: &User) -> Lang {
        if self.1 { self } else { Lang(if user.language == "en" { "en".into() } else { "zh".into() }, false) }
    }
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

impl FromRequestParts<Arc<Runtime>> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _rt: &Arc<Runtime>) -> Result<Self, Self::Rejection> {
        let query = Query::<LangQuery>::try_from_uri(&parts.uri).ok().and_then(|q| q.0.lang);
        let chosen = query.as_deref().or_else(|| cookie(&parts.headers, LANG_COOKIE));
        Ok(Lang(if chosen == Some("en") { "en".into() } else { "zh".into() }, chosen.is_some()))
    }
}

/// The signed-in visitor, if any.
pub struct Visitor(pub Option<Session>);

impl FromRequestParts<Arc<Runtime>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, rt: &Arc<Runtime>) -> Result<Self, Self::Rejection> {
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE).filter(|v| !v.is_empty() && v.len() <= 200) else {
            return Ok(Visitor(None));
        };
        rt.store.session(value, rt.clock.now_ms()).await.map(Visitor).map_err(failure)
    }
}

/// Remembers a language chosen with `?lang=`.
fn lang_cookie(rt: &Runtime, parts_lang: &Lang, asked: bool) -> Vec<(header::HeaderName, HeaderValue)> {
    if asked {
        vec![(header::SET_COOKIE, set_cookie(rt, LANG_COOKIE, &parts_lang.0, 365 * 86_400))]
    } else {
        Vec::new()
    }
}

#[derive(Deserialize)]
struct PageQuery {
    lang: Option<String>,
    next: Option<String>,
}

/// Where to go after log-in: a path on this server only.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() <= 500 => p.to_string(),
        _ => "/".into(),
    }
}

async fn login_page(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Query(q): Query<PageQuery>,
) -> Response {
    if session.is_some() {
        return Redirect::to(&local_path(q.next.as_deref())).into_response();
    }
    render_login(&rt, &lang, "", "", &local_path(q.next.as_deref()), q.lang.is_some(), StatusCode::OK)
}

fn render_login(
    rt: &Runtime,
    lang: &Lang,
    error: &str,
    username: &str,
    next: &str,
    asked: bool,
    status: StatusCode,
) -> Response {
    let csrf = crate::store::people::new_token();
    let ctx = json!({"error": error, "username": username, "next": next});
    match rt.pages.render("login.html", &lang.0, None, &csrf, ctx) {
        Ok(html) => {
            let mut headers = lang_cookie(rt, lang, asked);
            headers.push((header::SET_COOKIE, set_cookie(rt, LOGIN_CSRF_COOKIE, &csrf, 3600)));
            let mut resp = page(html, headers);
            *resp.status_mut() = status;
            resp
        }
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

async fn login(State(rt): State<Arc<Runtime>>, lang: Lang, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let word = |k: &'static str| word(&lang.0, k);
    let next = local_path(Some(&f.next));
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE);
    if expected.is_none_or(|c| c != f.csrf || c.is_empty()) {
        return render_login(&rt, &lang, word("expired"), &f.username, &next, false, StatusCode::FORBIDDEN);
    }
    let now = rt.clock.now_ms();
    match rt.store.log_in(&f.username, &f.password, now).await {
        Ok(Ok(token)) => {
            let mut resp = Redirect::to(&next).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&rt, SESSION_COOKIE, &token, crate::store::sessions::LIFETIME_MS / 1000),
            );
            h.append(header::SET_COOKIE, set_cookie(&rt, LOGIN_CSRF_COOKIE, "", 0));
            resp
        }
        Ok(Err(LoginRefused::Wrong)) => {
            render_login(&rt, &lang, word("wrong"), &f.username, &next, false, StatusCode::UNAUTHORIZED)
        }
        Ok(Err(LoginRefused::Locked { until_ms })) => {
            let until = chrono::DateTime::from_timestamp_millis(until_ms)
                .map(|t| t.with_timezone(&chrono_tz::Asia::Shanghai).format("%H:%M").to_string())
                .unwrap_or_default();
            let message = word("locked").replace("{}", &until);
            render_login(&rt, &lang, &message, &f.username, &next, false, StatusCode::TOO_MANY_REQUESTS)
        }
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(rt): State<Arc<Runtime>>,
    headers: HeaderMap,
    Visitor(session): Visitor,
    Form(f): Form<CsrfForm>,
) -> Response {
    let Some(session) = session else { return Redirect::to("/login").into_response() };
    if f.csrf != session.csrf {
        return (StatusCode::FORBIDDEN, "the form's CSRF token does not match the session").into_response();
    }
    if let Some(value) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = rt.store.log_out(value).await
    {
        return failure(e);
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(&rt, SESSION_COOKIE, "", 0));
    resp
}

/// A task as the inbox lists it.
#[derive(Serialize)]
struct InboxRow {
    project_code: String,
    project_name: String,
    stage_title: Value,
    task_label: Value,
    due: Value,
    state: &'static str,
}

async fn inbox(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    Visitor(session): Visitor,
    Query(q): Query<PageQuery>,
) -> Response {
    let Some(session) = session else { return Redirect::to("/login?next=/").into_response() };
    let lang = lang.for_user(&session.user);
    let now = rt.clock.now_ms();
    let (tasks, total, overdue) = match rt.store.digest_tasks(&session.user, now, 200).await {
        Ok(x) => x,
        Err(e) => return failure(e),
    };
    let mut rows = Vec::with_capacity(tasks.len());
    for t in &tasks {
        let mut shown = crate::notify::describe_task(&rt, t, &lang.0).await;
        let state = if t.due_ms < now {
            "overdue"
        } else if t.due_ms < now + crate::api::DUE_SOON_MS {
            "due_soon"
        } else {
            "open"
        };
        rows.push(InboxRow {
            project_code: t.project_code.clone(),
            project_name: t.project_name.clone(),
            stage_title: shown["stage_title"].take(),
            task_label: shown["task_label"].take(),
            due: shown["due"].take(),
            state,
        });
    }
    let due_soon = rows.iter().filter(|r| r.state == "due_soon").count();
    let ctx = json!({"tasks": rows, "total": total, "overdue": overdue, "due_soon": due_soon, "more": total - tasks.len() as i64});
    match rt.pages.render("inbox.html", &lang.0, Some(&session.user), &session.csrf, ctx) {
        Ok(html) => page(html, lang_cookie(&rt, &lang, q.lang.is_some())),
        Err(e) => failure(e),
    }
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_render_in_both_languages_and_escape_what_users_wrote() {
        let pages = Pages::load().expect("the shipped pages");
        let mut ctx = sample();
        ctx["tasks"][0]["project_name"] = json!("<script>alert(1)</script>");
        let zh = pages.render("inbox.html", "zh", None, "tok", ctx.clone()).unwrap();
        assert!(zh.contains("我的待办") && zh.contains("&lt;script&gt;") && !zh.contains("<script>"), "{zh}");
        let en = pages.render("inbox.html", "en", None, "tok", ctx).unwrap();
        assert!(en.contains("My tasks") && en.contains("lang=\"en\""), "{en}");
        assert_eq!(word("en", "login"), "Log in");
        assert_eq!(word("zh", "login"), "登录");
    }

    #[test]
    fn only_local_paths_are_followed_after_log_in() {
        assert_eq!(local_path(Some("/tasks/3")), "/tasks/3");
        for bad in ["https://evil.example", "//evil.example", "/\\evil", "tasks"] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }
}
