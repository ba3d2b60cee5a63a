// A minimal W3C WebDriver client for integration tests that drive headless Chromium through chromedriver.
//
// Written to be dropped into a test folder as one file and used with `mod browser;`: it has no crate-level
// attributes, and its public items carry `#[allow(dead_code)]` so a test that uses only part of the API
// still builds without warnings.
//
// Typical use:
//
//     let Some(browser) = Browser::start().await? else { return Ok(()) }; // skipped: no browser installed
//     browser.goto("http://127.0.0.1:8080/").await?;
//     browser.fill("#name", "张三").await?;
//     browser.click("#submit").await?;
//     let result = browser.wait_for("#result", Duration::from_secs(5)).await?.text().await?;
//     browser.quit().await?;
//
// Every error says what was being done, e.g. "clicking `#submit`: no such element: Unable to locate element: …",
// and the whole text is in the error's own message (`to_string()`), not only in a cause chain.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The key under which WebDriver returns an element reference (W3C "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const DEFAULT_DRIVER: &str = "/usr/bin/chromedriver";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "install them with `apt-get install chromium chromium-driver`";
/// How long chromedriver gets to answer `GET /status` with `ready: true`.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound for any single WebDriver command; navigation has its own, shorter page-load timeout.
const HTTP_TIMEOUT: Duration = Duration::from_secs(90);
const PAGE_LOAD_TIMEOUT_MS: u64 = 30_000;
/// How long [`Browser::quit`] lets chromedriver take to exit by itself before killing it.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Arguments for Chromium. `--remote-debugging-pipe` makes chromedriver talk to Chromium over a pipe
/// instead of a TCP port, so Chromium exits by itself when chromedriver dies (e.g. killed on drop);
/// with the default port transport an orphaned Chromium would keep running.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1366,768",
    "--lang=zh-CN",
    "--remote-debugging-pipe",
];
/// `--lang` is ignored by Chromium on Linux; this preference is what sets `navigator.language` and the
/// `Accept-Language` header.
const ACCEPT_LANGUAGES: &str = "zh-CN,zh";

/// A headless Chromium session driven through its own chromedriver process.
///
/// Call [`Browser::quit`] at the end. Dropping it instead (e.g. when a test panics) kills chromedriver
/// (`kill_on_drop`: SIGKILL, nothing awaited) and Chromium exits on its own within a fraction of a second
/// because its debugging pipe closes, but Chromium's temporary profile (about 2.5 MB) stays in /tmp.
#[allow(dead_code)]
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    session: Arc<Session>,
}

/// An element found on the page. Cheap to clone; it stays usable while the session lives and the element
/// stays in the document (otherwise commands fail with "stale element reference").
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Element {
    session: Arc<Session>,
    id: String,
    /// How the element was found, for error messages, e.g. "`#submit`" or "`option`[2]".
    label: String,
}

/// What commands need: the HTTP client, the driver's base URL (`http://127.0.0.1:PORT`) and the session id.
#[derive(Debug)]
struct Session {
    http: reqwest::Client,
    base_url: String,
    id: String,
}

/// An error answered by the driver: `{"value": {"error": ..., "message": ...}}` with a non-2xx status.
#[derive(Debug)]
struct WebDriverError {
    error: String,
    message: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first_line = self.message.lines().next().unwrap_or("").trim();
        if first_line.is_empty() || first_line == self.error {
            write!(f, "{}", self.error)
        } else if first_line.starts_with(&self.error) {
            // chromedriver's messages usually repeat the error code: "no such element: Unable to locate …".
            write!(f, "{first_line}")
        } else {
            write!(f, "{}: {first_line}", self.error)
        }
    }
}

impl std::error::Error for WebDriverError {}

/// Prefixes an error with what was being done, keeping the whole chain in the message itself.
trait Doing<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Doing<T> for Result<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| anyhow!("{}: {e:#}", what()))
    }
}

#[allow(dead_code)]
impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    ///
    /// The driver is `$JIXIAO_CHROMEDRIVER` or `/usr/bin/chromedriver`, the browser `$JIXIAO_CHROMIUM` or
    /// `/usr/bin/chromium`. If either is missing this returns `Ok(None)` after printing a line to stderr
    /// saying browser tests are skipped — or an error when `JIXIAO_REQUIRE_BROWSER=1`.
    pub async fn start() -> Result<Option<Browser>> {
        let driver = path_from_env("JIXIAO_CHROMEDRIVER", DEFAULT_DRIVER);
        let chromium = path_from_env("JIXIAO_CHROMIUM", DEFAULT_CHROMIUM);
        let missing: Vec<String> =
            [("chromedriver", &driver, "JIXIAO_CHROMEDRIVER"), ("chromium", &chromium, "JIXIAO_CHROMIUM")]
                .into_iter()
                .filter(|(_, path, _)| !path.is_file())
                .map(|(name, path, var)| format!("{name} (looked for {}, set {var} to override)", path.display()))
                .collect();
        if !missing.is_empty() {
            let is = if missing.len() == 1 { "is" } else { "are" };
            let missing = missing.join(" and ");
            if std::env::var("JIXIAO_REQUIRE_BROWSER").as_deref() == Ok("1") {
                bail!("starting browser: JIXIAO_REQUIRE_BROWSER=1 but {missing} {is} missing; {INSTALL_HINT}");
            }
            eprintln!(
                "browser tests skipped: {missing} {is} missing; {INSTALL_HINT}, \
                 or set JIXIAO_REQUIRE_BROWSER=1 to make this an error"
            );
            return Ok(None);
        }
        Self::launch(&driver, &chromium)
            .await
            .doing(|| format!("starting {} with {}", driver.display(), chromium.display()))
            .map(Some)
    }

    async fn launch(driver_path: &Path, chromium: &Path) -> Result<Browser> {
        // Ask the OS for a free port, then hand it to chromedriver (a tiny race, reported below if lost).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("finding a free port")?
            .port();
        let mut driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("spawning chromedriver")?;
        let http = reqwest::Client::builder()
            .no_proxy() // The driver is on loopback; a proxy from the environment must not get in between.
            .timeout(HTTP_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let base_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&http, &base_url, &mut driver).await?;

        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "goog:chromeOptions": {
                        "binary": chromium.to_string_lossy(),
                        "args": CHROMIUM_ARGS,
                        "prefs": { "intl": { "accept_languages": ACCEPT_LANGUAGES } },
                    },
                    "timeouts": { "pageLoad": PAGE_LOAD_TIMEOUT_MS },
                }
            }
        });
        let created = send(&http, Method::POST, &format!("{base_url}/session"), Some(capabilities))
            .await
            .context("creating a session")?;
        let id = created["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("creating a session: no sessionId in the answer {created}"))?
            .to_owned();
        Ok(Browser { driver, session: Arc::new(Session { http, base_url, id }) })
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.session.post("/url", json!({ "url": url })).await.map(drop).doing(|| format!("navigating to {url}"))
    }

    /// The URL of the current page.
    pub async fn url(&self) -> Result<String> {
        self.session.get_string("/url").await.doing(|| "reading the current URL".into())
    }

    /// The title of the current page.
    pub async fn title(&self) -> Result<String> {
        self.session.get_string("/title").await.doing(|| "reading the page title".into())
    }

    /// The serialized DOM of the current page (not the bytes the server sent).
    pub async fn source(&self) -> Result<String> {
        self.session.get_string("/source").await.doing(|| "reading the page source".into())
    }

    /// The first element matching the CSS selector; fails at once if there is none.
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.session.find(None, css).await.doing(|| format!("finding `{css}`"))
    }

    /// All elements matching the CSS selector, in document order (possibly none).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        self.session.find_all(None, css).await.doing(|| format!("finding all `{css}`"))
    }

    /// Polls every 100 ms until an element matching `css` is in the document (present, not necessarily
    /// displayed) and returns it; fails after `timeout`, or at once on any error other than "no such element".
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.session.find(None, css).await {
                Ok(element) => return Ok(element),
                Err(e) if is_no_such_element(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(POLL_INTERVAL).await
                }
                Err(e) if is_no_such_element(&e) => bail!("waiting for `{css}`: still not there after {timeout:?}"),
                Err(e) => return Err(e).doing(|| format!("waiting for `{css}`")),
            }
        }
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) -> Result<()> {
        async { self.session.find(None, css).await?.post("click", json!({})).await }
            .await
            .map(drop)
            .doing(|| format!("clicking `{css}`"))
    }

    /// Clears the first element matching `css`, then types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        async {
            let element = self.session.find(None, css).await?;
            element.post("clear", json!({})).await?;
            element.post("value", json!({ "text": text })).await
        }
        .await
        .map(drop)
        .doing(|| format!("filling `{css}`"))
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> Result<String> {
        async { as_string(self.session.find(None, css).await?.get("text").await?) }
            .await
            .doing(|| format!("reading the text of `{css}`"))
    }

    /// Chooses `value` in the `<select>` matching `css_of_select` by clicking its `option[value="…"]`.
    pub async fn select(&self, css_of_select: &str, value: &str) -> Result<()> {
        async {
            let select = self.session.find(None, css_of_select).await?;
            let option_css = format!("option[value=\"{}\"]", css_string_escape(value));
            let option = self.session.find(Some(&select), &option_css).await?;
            option.post("click", json!({})).await
        }
        .await
        .map(drop)
        .doing(|| format!("selecting value {value:?} in `{css_of_select}`"))
    }

    /// Resizes the browser window (outer size; the viewport is what the page gets of it).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        self.session
            .post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .map(drop)
            .doing(|| format!("setting the window size to {width}x{height}"))
    }

    /// Saves a PNG of the viewport to `path`, creating its parent folders.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        async {
            let encoded = self.session.get_string("/screenshot").await?;
            let png = base64::engine::general_purpose::STANDARD.decode(encoded).context("decoding base64")?;
            if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
        }
        .await
        .doing(|| format!("taking a screenshot to {}", path.display()))
    }

    /// Deletes all cookies visible to the current page.
    pub async fn delete_cookies(&self) -> Result<()> {
        self.session.call(Method::DELETE, "/cookie", None).await.map(drop).doing(|| "deleting cookies".into())
    }

    /// Adds a cookie for the current page's domain with path `/`. The current page must be an http(s)
    /// page of that domain: on `about:blank` or `data:` pages the driver answers "invalid cookie domain".
    pub async fn add_cookie(&self, name: &str, value: &str) -> Result<()> {
        self.session
            .post("/cookie", json!({ "cookie": { "name": name, "value": value } }))
            .await
            .map(drop)
            .doing(|| format!("adding cookie {name:?}"))
    }

    /// The `(name, value)` of every cookie visible to the current page.
    pub async fn cookies(&self) -> Result<Vec<(String, String)>> {
        async {
            let cookies = self.session.call(Method::GET, "/cookie", None).await?;
            let cookies = cookies.as_array().ok_or_else(|| anyhow!("expected an array, got {cookies}"))?;
            cookies
                .iter()
                .map(|cookie| match (cookie["name"].as_str(), cookie["value"].as_str()) {
                    (Some(name), Some(value)) => Ok((name.to_owned(), value.to_owned())),
                    _ => Err(anyhow!("unexpected cookie {cookie}")),
                })
                .collect::<Result<Vec<_>>>()
        }
        .await
        .doing(|| "reading cookies".into())
    }

    /// Runs `script` as the body of a function (use `return` for a result; `arguments[i]` are `args`)
    /// and returns its JSON result. Elements come back as `{"element-6066-…": id}` objects.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.session
            .post("/execute/sync", json!({ "script": script, "args": args }))
            .await
            .doing(|| format!("executing script `{}`", abbreviate(script, 60)))
    }

    /// Ends the session (Chromium closes) and stops chromedriver, which is stopped even if ending the
    /// session failed.
    pub async fn quit(self) -> Result<()> {
        let Browser { mut driver, session } = self;
        let ended = session.call(Method::DELETE, "", None).await;
        // chromedriver deletes Chromium's temporary profile only once Chromium has exited, a few hundred
        // milliseconds after answering: its /shutdown lets it finish that, where a kill would leave the
        // profile behind in /tmp. Killing is the fallback.
        let shutdown_url = format!("{}/shutdown", session.base_url);
        let _ = session.http.get(shutdown_url).timeout(SHUTDOWN_TIMEOUT).send().await;
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, driver.wait()).await.is_err() {
            let _ = driver.kill().await; // Best effort; the session's result is the one worth reporting.
        }
        ended.map(drop).doing(|| "quitting the browser".into())
    }
}

#[allow(dead_code)]
impl Element {
    /// Clicks the element (scrolling it into view first).
    pub async fn click(&self) -> Result<()> {
        self.post("click", json!({})).await.map(drop).doing(|| format!("clicking {}", self.label))
    }

    /// Empties an input, textarea or contenteditable element.
    pub async fn clear(&self) -> Result<()> {
        self.post("clear", json!({})).await.map(drop).doing(|| format!("clearing {}", self.label))
    }

    /// Types `text` into the element. WebDriver key codes work too, e.g. `"\u{E007}"` for Enter.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.post("value", json!({ "text": text })).await.map(drop).doing(|| format!("typing into {}", self.label))
    }

    /// The rendered text of the element, as a user sees it (hidden parts excluded).
    pub async fn text(&self) -> Result<String> {
        async { as_string(self.get("text").await?) }.await.doing(|| format!("reading the text of {}", self.label))
    }

    /// The HTML attribute `name` as written in the markup (`/attribute` endpoint), or `None` if absent.
    /// For an input this is the *initial* `value`; use [`Element::prop`] for what was typed since.
    pub async fn attr(&self, name: &str) -> Result<Option<String>> {
        async { Ok(optional_string(self.get(&format!("attribute/{name}")).await?)) }
            .await
            .doing(|| format!("reading attribute {name:?} of {}", self.label))
    }

    /// The DOM property `name` (`/property` endpoint), e.g. an input's current `value` or `checked`, as a
    /// string, or `None` if it is null or undefined.
    pub async fn prop(&self, name: &str) -> Result<Option<String>> {
        async { Ok(optional_string(self.get(&format!("property/{name}")).await?)) }
            .await
            .doing(|| format!("reading property {name:?} of {}", self.label))
    }

    /// Whether the element is rendered visibly.
    pub async fn is_displayed(&self) -> Result<bool> {
        async {
            let shown = self.get("displayed").await?;
            shown.as_bool().ok_or_else(|| anyhow!("expected a boolean, got {shown}"))
        }
        .await
        .doing(|| format!("checking whether {} is displayed", self.label))
    }

    /// The first descendant matching `css`.
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.session.find(Some(self), css).await.doing(|| format!("finding `{css}` inside {}", self.label))
    }

    async fn get(&self, command: &str) -> Result<Value> {
        self.session.call(Method::GET, &format!("/element/{}/{command}", self.id), None).await
    }

    async fn post(&self, command: &str, body: Value) -> Result<Value> {
        self.session.post(&format!("/element/{}/{command}", self.id), body).await
    }
}

impl Session {
    /// Sends a command to `/session/{id}{path}` and returns the answer's `value`.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        send(&self.http, method, &format!("{}/session/{}{path}", self.base_url, self.id), body).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn get_string(&self, path: &str) -> Result<String> {
        as_string(self.call(Method::GET, path, None).await?)
    }

    /// Finds the first match of `css`, in the document or inside `parent`; errors are left undescribed.
    async fn find(self: &Arc<Self>, parent: Option<&Element>, css: &str) -> Result<Element> {
        let found =
            self.post(&search_path(parent, "element"), json!({ "using": "css selector", "value": css })).await?;
        self.element(&found, format!("`{css}`"))
    }

    async fn find_all(self: &Arc<Self>, parent: Option<&Element>, css: &str) -> Result<Vec<Element>> {
        let found =
            self.post(&search_path(parent, "elements"), json!({ "using": "css selector", "value": css })).await?;
        let found = found.as_array().ok_or_else(|| anyhow!("expected an array of elements, got {found}"))?;
        found.iter().enumerate().map(|(i, reference)| self.element(reference, format!("`{css}`[{i}]"))).collect()
    }

    fn element(self: &Arc<Self>, reference: &Value, label: String) -> Result<Element> {
        let id =
            reference[ELEMENT_KEY].as_str().ok_or_else(|| anyhow!("expected an element reference, got {reference}"))?;
        Ok(Element { session: Arc::clone(self), id: id.to_owned(), label })
    }
}

fn search_path(parent: Option<&Element>, what: &str) -> String {
    match parent {
        Some(parent) => format!("/element/{}/{what}", parent.id),
        None => format!("/{what}"),
    }
}

/// Sends one WebDriver request and returns the answer's `value`, or the driver's error.
async fn send(http: &reqwest::Client, method: Method, url: &str, body: Option<Value>) -> Result<Value> {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let text = response.text().await.with_context(|| format!("{method} {url}: reading the answer"))?;
    let answer: Option<Value> = serde_json::from_str(&text).ok();
    if status.is_success() {
        let Some(mut answer) = answer else { bail!("{method} {url}: answer is not JSON: {}", abbreviate(&text, 200)) };
        return Ok(answer.get_mut("value").map(Value::take).unwrap_or_default());
    }
    let error = answer.as_ref().map(|answer| &answer["value"]);
    match error.and_then(|error| error["error"].as_str()) {
        Some(code) => Err(WebDriverError {
            error: code.to_owned(),
            message: error.and_then(|error| error["message"].as_str()).unwrap_or_default().to_owned(),
        }
        .into()),
        None => bail!("{method} {url}: HTTP {status}: {}", abbreviate(&text, 200)),
    }
}

async fn wait_until_ready(http: &reqwest::Client, base_url: &str, driver: &mut Child) -> Result<()> {
    let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
    let status_url = format!("{base_url}/status");
    loop {
        if let Some(exit) = driver.try_wait().context("checking on chromedriver")? {
            bail!("chromedriver exited ({exit}) before it was ready (is {base_url} taken?)");
        }
        if is_ready(http, &status_url).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("chromedriver at {base_url} was not ready after {DRIVER_READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn is_ready(http: &reqwest::Client, status_url: &str) -> bool {
    let Ok(response) = http.get(status_url).timeout(Duration::from_secs(2)).send().await else { return false };
    response.json::<Value>().await.is_ok_and(|status| status["value"]["ready"] == true)
}

fn is_no_such_element(error: &anyhow::Error) -> bool {
    error.downcast_ref::<WebDriverError>().is_some_and(|e| e.error == "no such element")
}

fn as_string(value: Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(anyhow!("expected a string, got {other}")),
    }
}

fn optional_string(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

fn path_from_env(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).filter(|value| !value.is_empty()).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Escapes text for use inside a double-quoted CSS string.
fn css_string_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\n' => escaped.push_str("\\a "),
            _ => escaped.push(c),
        }
    }
    escaped
}

fn abbreviate(text: &str, max_chars: usize) -> String {
    let first_line = text.lines().next().unwrap_or("");
    match first_line.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &first_line[..cut]),
        None if first_line.len() < text.trim_end().len() => format!("{first_line}…"),
        None => first_line.to_owned(),
    }
}
