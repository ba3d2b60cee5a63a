//! The container image without Docker. The Dockerfile's runtime stage (everything after its last
//! FROM: WORKDIR, ENV, COPY, VOLUME, ENTRYPOINT, CMD) is laid out in a temporary folder, with
//! every absolute image path rooted there, the builder's outputs taken from this build (a fixed
//! table: the test's binary and the freshly built plugins). The binary is then started in that
//! layout with the settings docker-compose.yml gives its `api` and `worker` services, on the
//! PostgreSQL and Redis of JIXIAO_TEST_DATABASE_URL and JIXIAO_TEST_REDIS_URL.
//!
//! What this cannot see: the builder stage's commands themselves (they need Docker), the
//! runtime stage's RUN lines (packages, the user), file ownership and the non-root user.

use crate::helpers::free_port;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::helpers::ADMIN_TOKEN;

/// The plugins the image ships (plugins/build.sh writes them to plugins/dist/).
const SHIPPED_PLUGINS: [&str; 6] = ["common", "education", "health", "agriculture", "transport", "social-security"];

/// Where a Docker container looks for a command when the image sets no PATH (Debian images).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile
// ---------------------------------------------------------------------------------------------

/// One instruction: the line it starts on, its keyword (upper case) and its arguments, with
/// continued lines joined.
#[derive(Debug, Clone)]
struct Instruction {
    line: usize,
    keyword: String,
    args: String,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if current.is_none() && trimmed.to_ascii_lowercase().starts_with("# escape=") {
            assert!(trimmed.ends_with('\\'), "Dockerfile:{}: only the backslash escape is understood here", i + 1);
        }
        // Comments (also inside a continued instruction) and empty lines are not part of it.
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (body, continues) = match trimmed.strip_suffix('\\') {
            Some(b) => (b.trim_end(), true),
            None => (trimmed, false),
        };
        let entry = current.get_or_insert_with(|| (i + 1, String::new()));
        if !entry.1.is_empty() {
            entry.1.push(' ');
        }
        entry.1.push_str(body);
        if !continues {
            let (line, joined) = current.take().expect("an instruction in progress");
            let (keyword, args) = joined.split_once(char::is_whitespace).unwrap_or((joined.as_str(), ""));
            out.push(Instruction { line, keyword: keyword.to_ascii_uppercase(), args: args.trim().to_string() });
        }
    }
    assert!(current.is_none(), "the Dockerfile ends inside a continued instruction");
    out
}

/// Splits shell-like words: whitespace separates, quotes group, a backslash escapes.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => word.extend(chars.next()),
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                word.extend(chars.next());
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unclosed quote in {s:?}");
    if in_word {
        out.push(word);
    }
    out
}

/// A path inside the image: `rel` against `base` (when relative), with `.`, `..` and doubled
/// slashes resolved. A trailing slash is kept (COPY reads it as "into this folder").
fn image_path(base: &str, rel: &str) -> String {
    let joined = if rel.starts_with('/') { rel.to_string() } else { format!("{}/{rel}", base.trim_end_matches('/')) };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if rel.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

#[derive(Debug, Clone)]
struct CopyOp {
    line: usize,
    /// `--from=<stage>`, or None for the build context (the repository).
    from: Option<String>,
    sources: Vec<String>,
    /// An absolute image path; a trailing slash when the Dockerfile wrote one.
    dest: String,
}

impl CopyOp {
    fn copies(&self, from: Option<&str>, source: &str) -> bool {
        let norm = |s: &str| s.trim_start_matches("./").trim_end_matches('/').to_string();
        self.from.as_deref() == from && self.sources.iter().any(|s| norm(s) == norm(source))
    }
}

/// What the runtime stage (after the last FROM) says about the image's files and settings.
#[derive(Debug, Default)]
struct RuntimeStage {
    /// Every WORKDIR, in order (each is created); the last is the working directory.
    workdirs: Vec<String>,
    env: Vec<(String, String)>,
    copies: Vec<CopyOp>,
    volumes: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    /// The HEALTHCHECK's command, as written.
    healthcheck: String,
}

impl RuntimeStage {
    fn workdir(&self) -> &str {
        self.workdirs.last().map(String::as_str).unwrap_or("/")
    }

    fn env(&self, name: &str) -> Option<&str> {
        self.env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Where a COPY put `source`: its destination as a folder (no trailing slash).
    fn copied_to(&self, from: Option<&str>, source: &str) -> String {
        let c = self
            .copies
            .iter()
            .find(|c| c.copies(from, source))
            .unwrap_or_else(|| panic!("the runtime stage has no COPY of {source} (from {from:?})"));
        assert_eq!(c.sources.len(), 1, "Dockerfile:{}: one source per COPY is expected here", c.line);
        c.dest.trim_end_matches('/').to_string()
    }
}

fn json_or_words(args: &str) -> Vec<String> {
    if args.starts_with('[') {
        serde_json::from_str(args).unwrap_or_else(|e| panic!("{args}: not a JSON list of strings: {e}"))
    } else {
        words(args)
    }
}

/// The stages of the Dockerfile: (FROM line's arguments, instructions after it).
fn stages(text: &str) -> Vec<(String, Vec<Instruction>)> {
    let mut out: Vec<(String, Vec<Instruction>)> = Vec::new();
    for i in instructions(text) {
        if i.keyword == "FROM" {
            out.push((i.args.clone(), Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(i);
        } else {
            assert_eq!(i.keyword, "ARG", "Dockerfile:{}: {} before the first FROM", i.line, i.keyword);
        }
    }
    assert!(!out.is_empty(), "the Dockerfile has no FROM");
    out
}

fn runtime_stage(text: &str) -> RuntimeStage {
    let (_, body) = stages(text).pop().expect("a stage");
    let mut stage = RuntimeStage::default();
    for i in body {
        let at = format!("Dockerfile:{}", i.line);
        match i.keyword.as_str() {
            "WORKDIR" => {
                let next = image_path(stage.workdir(), &i.args);
                stage.workdirs.push(next.trim_end_matches('/').to_string());
            }
            "ENV" => {
                assert!(!i.args.contains('$'), "{at}: ENV with a variable is not emulated by this test: {}", i.args);
                let w = words(&i.args);
                if w.first().is_some_and(|f| f.contains('=')) {
                    for kv in w {
                        let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("{at}: {kv} is not NAME=VALUE"));
                        stage.env.push((k.to_string(), v.to_string()));
                    }
                } else {
                    let (k, v) =
                        i.args.split_once(char::is_whitespace).unwrap_or_else(|| panic!("{at}: ENV {}", i.args));
                    stage.env.push((k.to_string(), v.trim().to_string()));
                }
            }
            "COPY" => {
                let mut w = json_or_words(&i.args);
                let mut from = None;
                while w.first().is_some_and(|f| f.starts_with("--")) {
                    let flag = w.remove(0);
                    match flag.split_once('=') {
                        Some(("--from", stage_name)) => from = Some(stage_name.to_string()),
                        Some(("--chown" | "--chmod", _)) => {}
                        None if flag == "--link" => {}
                        _ => panic!("{at}: COPY {flag} is not emulated by this test"),
                    }
                }
                assert!(w.len() >= 2, "{at}: COPY needs a source and a destination");
                let dest = w.pop().expect("a destination");
                assert!(w.len() == 1 || dest.ends_with('/'), "{at}: several sources need a destination ending in /");
                for s in &w {
                    assert!(!s.contains(['*', '?', '[']), "{at}: COPY wildcards are not emulated by this test: {s}");
                }
                stage.copies.push(CopyOp { line: i.line, from, sources: w, dest: image_path(stage.workdir(), &dest) });
            }
            "ADD" => panic!("{at}: ADD is not emulated by this test; use COPY"),
            "VOLUME" => stage.volumes.extend(json_or_words(&i.args)),
            "ENTRYPOINT" => {
                assert!(i.args.starts_with('['), "{at}: ENTRYPOINT in exec (JSON) form is expected");
                stage.entrypoint = json_or_words(&i.args);
            }
            "CMD" => stage.cmd = json_or_words(&i.args),
            "HEALTHCHECK" => stage.healthcheck = i.args.clone(),
            // Packages, users and metadata: nothing a file layout can show.
            "RUN" | "USER" | "EXPOSE" | "STOPSIGNAL" | "LABEL" | "ARG" | "SHELL" => {}
            other => panic!("{at}: {other} is not known to this test"),
        }
    }
    stage
}

/// The first http:// address in a health check's command, as the path it asks for.
fn health_path(command: &[String]) -> String {
    let url = command
        .iter()
        .flat_map(|c| c.split_whitespace())
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no http:// address in the health check {command:?}"));
    let rest = &url["http://".len()..];
    rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_else(|| "/".to_string())
}

// ---------------------------------------------------------------------------------------------
// .dockerignore
// ---------------------------------------------------------------------------------------------

fn glob_segment(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_segment(&p[1..], s) || (!s.is_empty() && glob_segment(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_segment(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_segment(&p[1..], &s[1..]),
        _ => false,
    }
}

fn glob_path(p: &[&str], s: &[&str]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(&"**"), _) => glob_path(&p[1..], s) || (!s.is_empty() && glob_path(p, &s[1..])),
        (Some(a), Some(b)) => glob_segment(a.as_bytes(), b.as_bytes()) && glob_path(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Whether .dockerignore keeps `path` (relative to the repository) out of the build context: a
/// pattern that matches the path or one of its folders excludes it, `!` takes it back, the last
/// matching pattern decides.
fn ignored(dockerignore: &str, path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let mut out = false;
    for line in dockerignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (keep, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, line),
        };
        let pat: Vec<&str> = pattern.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
        if (1..=parts.len()).any(|n| glob_path(&pat, &parts[..n])) {
            out = !keep;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml
// ---------------------------------------------------------------------------------------------

/// Resolves YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`): the mapping's own keys win, then
/// the merged mappings in order. Aliases are already expanded by the loader.
fn merged(y: Yaml) -> Yaml {
    match y {
        Yaml::Hash(h) => {
            let mut out = yaml_rust2::yaml::Hash::new();
            let mut bases = Vec::new();
            for (k, v) in h {
                let v = merged(v);
                if k.as_str() == Some("<<") {
                    match v {
                        Yaml::Array(list) => bases.extend(list),
                        other => bases.push(other),
                    }
                } else {
                    out.insert(k, v);
                }
            }
            for base in bases {
                let Yaml::Hash(base) = base else { panic!("a merge key names something that is not a mapping") };
                for (k, v) in base {
                    if !out.contains_key(&k) {
                        out.insert(k, v);
                    }
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(list) => Yaml::Array(list.into_iter().map(merged).collect()),
        other => other,
    }
}

fn compose() -> Yaml {
    let docs = YamlLoader::load_from_str(&read("docker-compose.yml")).expect("docker-compose.yml is YAML");
    let doc = docs.into_iter().next().expect("docker-compose.yml has a document");
    merged(doc)
}

fn service<'a>(compose: &'a Yaml, name: &str) -> &'a Yaml {
    let s = &compose["services"][name];
    assert!(s.as_hash().is_some(), "docker-compose.yml has no service {name}");
    s
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_list(y: &Yaml, what: &str) -> Vec<String> {
    match y {
        Yaml::Array(list) => {
            list.iter().map(|v| scalar(v).unwrap_or_else(|| panic!("{what}: {v:?} is not a string"))).collect()
        }
        Yaml::String(s) => words(s),
        other => panic!("{what}: expected a list or a string, found {other:?}"),
    }
}

/// Compose's interpolation of `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
/// `${NAME:?message}`, `${NAME?message}`, `${NAME:+alt}`, `${NAME+alt}` and `$$`, against the
/// variables of the shell that runs `docker compose`. A required variable that is missing is an
/// error with compose's message.
fn interpolate(s: &str, vars: &BTreeMap<&str, String>) -> Result<String, String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r.find('}').ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
            let expr = &r[..end];
            rest = &r[end + 1..];
            if expr.contains("${") {
                return Err(format!("nested interpolation is not emulated by this test: {s:?}"));
            }
            let name_len = expr.find(|c: char| !is_name(c)).unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_len);
            let value = vars.get(name).cloned();
            let (kind, arg) = ([":-", ":?", ":+", "-", "?", "+"].iter())
                .find_map(|k| op.strip_prefix(k).map(|a| (*k, a)))
                .unwrap_or(("", op));
            // With a colon an empty value counts as missing.
            let present = value.as_deref().is_some_and(|v| !(kind.starts_with(':') && v.is_empty()));
            out.push_str(&match kind.trim_start_matches(':') {
                "" if arg.is_empty() => value.unwrap_or_default(),
                "-" if present => value.unwrap_or_default(),
                "-" => arg.to_string(),
                "?" if present => value.unwrap_or_default(),
                "?" => return Err(format!("required variable {name} is missing a value: {arg}")),
                "+" if present => arg.to_string(),
                "+" => String::new(),
                _ => return Err(format!("cannot read ${{{expr}}} in {s:?}")),
            });
        } else {
            let len = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
            out.push_str(&vars.get(&rest[..len]).cloned().unwrap_or_default());
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A service's `environment`, interpolated (a mapping or a list of NAME=VALUE).
fn service_env(compose: &Yaml, name: &str, vars: &BTreeMap<&str, String>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    match &service(compose, name)["environment"] {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let k = scalar(k).expect("a variable name");
                let v = match v {
                    // A name without a value passes the shell's variable through.
                    Yaml::Null => vars.get(k.as_str()).cloned().unwrap_or_default(),
                    v => interpolate(&scalar(v).unwrap_or_else(|| panic!("{name}: {k} is not a scalar")), vars)?,
                };
                out.push((k, v));
            }
        }
        Yaml::Array(list) => {
            for item in list {
                let item = interpolate(&scalar(item).expect("NAME=VALUE"), vars)?;
                let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
                out.push((k.to_string(), v.to_string()));
            }
        }
        Yaml::BadValue | Yaml::Null => {}
        other => panic!("{name}: environment {other:?}"),
    }
    Ok(out)
}

/// The container paths of a service's volumes (named volumes and tmpfs; a bind mount of a host
/// folder is not emulated).
fn service_volumes(compose: &Yaml, name: &str) -> Vec<String> {
    match &service(compose, name)["volumes"] {
        Yaml::Array(list) => list
            .iter()
            .map(|v| match v {
                Yaml::String(s) => {
                    let parts: Vec<&str> = s.split(':').collect();
                    assert!(parts.len() >= 2, "{name}: volume {s} has no container path");
                    assert!(
                        !parts[0].starts_with(['.', '/', '~']),
                        "{name}: bind mount {s} is not emulated by this test"
                    );
                    parts[1].to_string()
                }
                Yaml::Hash(_) => scalar(&v["target"]).unwrap_or_else(|| panic!("{name}: volume {v:?} has no target")),
                other => panic!("{name}: volume {other:?}"),
            })
            .collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// The layout and the processes
// ---------------------------------------------------------------------------------------------

/// An image path under the temporary root.
fn rooted(root: &Path, image_path: &str) -> PathBuf {
    root.join(image_path.trim_start_matches('/'))
}

/// A setting that is an absolute path inside the image, rooted; anything else as it is.
fn rooted_value(root: &Path, value: &str) -> String {
    if value.starts_with('/') { rooted(root, value).display().to_string() } else { value.to_string() }
}

/// The builder's outputs the runtime stage may copy, and what this build has in their place.
fn builder_output(source: &str, staging: &Path) -> PathBuf {
    match source.trim_end_matches('/') {
        "/out/jixiao" => PathBuf::from(env!("CARGO_BIN_EXE_jixiao")),
        "/out/plugins" => {
            // The builder installs plugins/dist/*.wasm: the shipped plugins, not dist/test/.
            let dir = staging.join("out/plugins");
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(crate::plugins::plugin_dist()).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() && path.extension().is_some_and(|x| x == "wasm") {
                    std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
                }
            }
            dir
        }
        other => panic!(
            "the Dockerfile's runtime stage copies {other} from the builder, which tests/api/image.rs does not \
             know: say in builder_output what this build has in its place"
        ),
    }
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
    }
}

/// Builds the runtime stage's files under `root`: its WORKDIRs, its COPYs (a folder's contents
/// go into the destination; a file goes to the destination, or into it when it ends in /) and
/// its volumes.
fn lay_out(stage: &RuntimeStage, root: &Path, staging: &Path) {
    for w in &stage.workdirs {
        std::fs::create_dir_all(rooted(root, w)).unwrap();
    }
    let dockerignore = read(".dockerignore");
    for c in &stage.copies {
        for source in &c.sources {
            let from = match c.from.as_deref() {
                Some("builder") => builder_output(source, staging),
                Some(other) => panic!("Dockerfile:{}: COPY --from={other} is not emulated by this test", c.line),
                None => {
                    assert!(
                        !source.split('/').any(|p| p == ".."),
                        "Dockerfile:{}: {source} leaves the context",
                        c.line
                    );
                    assert!(!ignored(&dockerignore, source), "Dockerfile:{}: .dockerignore excludes {source}", c.line);
                    repo().join(source)
                }
            };
            assert!(from.exists(), "Dockerfile:{}: {source} ({}) does not exist", c.line, from.display());
            let dest = rooted(root, &c.dest);
            let to = if from.is_dir() || !c.dest.ends_with('/') { dest } else { dest.join(from.file_name().unwrap()) };
            copy_tree(&from, &to);
        }
    }
    for v in &stage.volumes {
        std::fs::create_dir_all(rooted(root, v)).unwrap();
    }
}

/// The program the entrypoint names, found as the container would (PATH, inside the image).
fn entrypoint_program(stage: &RuntimeStage, root: &Path) -> PathBuf {
    let name = stage.entrypoint.first().expect("the runtime stage has an ENTRYPOINT");
    if name.starts_with('/') {
        return rooted(root, name);
    }
    let path = stage.env("PATH").unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|dir| rooted(root, dir).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("the ENTRYPOINT {name} is in no folder of the image's PATH {path}"))
}

/// What replaces the compose file's service addresses: this machine's PostgreSQL and Redis.
struct Services {
    database_url: String,
    redis_url: String,
    queue_namespace: String,
}

/// A started process; its output (stdout and stderr) is collected, and it is killed when
/// dropped so a failing test leaves nothing running.
struct Running {
    name: String,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(name: &str, mut cmd: Command) -> Running {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        let pipes: [Box<dyn Read + Send>; 2] =
            [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for pipe in pipes {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line);
                }
            });
        }
        Running { name: name.to_string(), child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// Panics with the output when the process has stopped.
    fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(200));
            panic!("{what}: the {} process stopped ({status}); its output:\n{}", self.name, self.output());
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command that starts a compose service in the layout under `root`: the image's entrypoint
/// with the service's command, in the image's working directory, with the image's environment
/// overlaid by the service's (absolute paths rooted), the database, Redis and queue namespace
/// replaced by the test's, SMTP dropped (mail goes to files), and the listen address moved to
/// 127.0.0.1:`port`. No other JIXIAO_ setting of this shell reaches it. `command` replaces the
/// service's command, as `docker compose exec <service> jixiao ...` would.
fn service_command(
    stage: &RuntimeStage,
    compose: &Yaml,
    name: &str,
    root: &Path,
    vars: &BTreeMap<&str, String>,
    services: &Services,
    port: u16,
    command: Option<&[&str]>,
) -> (PathBuf, Command) {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &stage.env {
        env.insert(k.clone(), rooted_value(root, v));
    }
    for (k, v) in service_env(compose, name, vars).unwrap_or_else(|e| panic!("{name}: {e}")) {
        env.insert(k, rooted_value(root, &v));
    }
    let db = env.get("JIXIAO_DATABASE_URL").cloned().unwrap_or_default();
    assert!(db.starts_with("postgres://"), "{name}: the compose file gives a PostgreSQL database, not {db:?}");
    let redis = env.get("JIXIAO_REDIS_URL").cloned().unwrap_or_default();
    assert!(redis.starts_with("redis://"), "{name}: the compose file gives a Redis queue, not {redis:?}");
    env.insert("JIXIAO_DATABASE_URL".into(), services.database_url.clone());
    env.insert("JIXIAO_REDIS_URL".into(), services.redis_url.clone());
    env.insert("JIXIAO_QUEUE_NAMESPACE".into(), services.queue_namespace.clone());
    env.remove("JIXIAO_SMTP_URL");
    let listen = format!("127.0.0.1:{port}");
    if env.contains_key("JIXIAO_LISTEN") {
        env.insert("JIXIAO_LISTEN".into(), listen.clone());
    }
    for v in service_volumes(compose, name) {
        std::fs::create_dir_all(rooted(root, &v)).unwrap();
    }
    let mut args = match (command, &service(compose, name)["command"]) {
        (Some(c), _) => c.iter().map(|a| a.to_string()).collect(),
        (None, Yaml::BadValue | Yaml::Null) => stage.cmd.clone(),
        (None, c) => string_list(c, &format!("{name}: command")),
    };
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--listen" && i + 1 < args.len() {
            args[i + 1] = listen.clone();
        } else if args[i].starts_with("--listen=") {
            args[i] = format!("--listen={listen}");
        }
        i += 1;
    }
    let program = entrypoint_program(stage, root);
    let mut cmd = Command::new(&program);
    cmd.args(&stage.entrypoint[1..]).args(&args).current_dir(rooted(root, stage.workdir()));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("JIXIAO_") {
            cmd.env_remove(&k);
        }
    }
    cmd.envs(&env);
    (program, cmd)
}

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> Option<(StatusCode, String)> {
    let mut req = client.get(url).timeout(Duration::from_secs(10));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.ok()?;
    let status = resp.status();
    Some((status, resp.text().await.unwrap_or_default()))
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn the_runtime_stage_copies_plugins_and_workflows_where_its_settings_point() {
    let dockerfile = read("Dockerfile");
    let stage = runtime_stage(&dockerfile);

    let plugins = stage.copied_to(Some("builder"), "/out/plugins");
    let workflows = stage.copied_to(None, "workflows");
    assert!(plugins.starts_with('/') && workflows.starts_with('/'));
    assert_eq!(stage.env("JIXIAO_PLUGINS_DIR").map(|p| p.trim_end_matches('/')), Some(plugins.as_str()));
    assert_eq!(stage.env("JIXIAO_WORKFLOWS_DIR").map(|p| p.trim_end_matches('/')), Some(workflows.as_str()));
    let data = stage.env("JIXIAO_DATA_DIR").expect("the image sets JIXIAO_DATA_DIR");
    assert!(stage.volumes.iter().any(|v| v.trim_end_matches('/') == data), "the data folder {data} is a VOLUME");

    // The entrypoint is the binary the builder made, found on the image's PATH.
    let binary = stage.copied_to(Some("builder"), "/out/jixiao");
    let name = stage.entrypoint.first().expect("an ENTRYPOINT");
    let path = stage.env("PATH").unwrap_or(DEFAULT_PATH);
    assert!(
        binary == *name || path.split(':').any(|d| format!("{}/{name}", d.trim_end_matches('/')) == binary),
        "ENTRYPOINT {name} is not the copied binary {binary}"
    );

    // The builder makes what the runtime stage copies: the plugins with plugins/build.sh for
    // wasm32-wasip2 (only the shipped ones, dist/*.wasm), the server, both under /out/.
    let (_, builder) = stages(&dockerfile)
        .into_iter()
        .find(|(from, _)| from.to_ascii_lowercase().ends_with(" as builder"))
        .expect("a stage named builder");
    let runs: Vec<&str> = builder.iter().filter(|i| i.keyword == "RUN").map(|i| i.args.as_str()).collect();
    let run_with = |needles: &[&str]| runs.iter().any(|r| needles.iter().all(|n| r.contains(n)));
    assert!(run_with(&["rustup target add wasm32-wasip2"]), "the builder installs the plugins' target");
    assert!(run_with(&["plugins/build.sh", "plugins/dist/*.wasm", "/out/plugins"]), "{runs:#?}");
    assert!(run_with(&["cargo build --release", "/out/jixiao"]), "{runs:#?}");
    for c in stage.copies.iter().filter(|c| c.from.is_some()) {
        assert_eq!(c.from.as_deref(), Some("builder"), "Dockerfile:{}", c.line);
        for s in &c.sources {
            assert!(s.starts_with("/out/"), "Dockerfile:{}: builder outputs live under /out/, not {s}", c.line);
        }
    }

    // The build context has what the stages copy, and none of what is built inside the image.
    let dockerignore = read(".dockerignore");
    for (_, body) in stages(&dockerfile) {
        for i in body.iter().filter(|i| i.keyword == "COPY" && !i.args.starts_with("--from")) {
            let mut w = json_or_words(&i.args);
            w.pop();
            for source in w.iter().filter(|s| !s.starts_with("--")) {
                assert!(repo().join(source).exists(), "Dockerfile:{}: {source} is not in the repository", i.line);
                assert!(!ignored(&dockerignore, source), "Dockerfile:{}: .dockerignore excludes {source}", i.line);
            }
        }
    }
    for built in ["target", "plugins/target", "plugins/dist", "plugins/dist/common.wasm"] {
        assert!(ignored(&dockerignore, built), ".dockerignore lets {built} into the build context");
    }

    // The composed api is ready when /readyz answers, the worker runs `worker`, and the admin
    // token must be given.
    let compose = compose();
    let api_check = string_list(&service(&compose, "api")["healthcheck"]["test"], "api healthcheck");
    assert_eq!(health_path(&api_check), "/readyz");
    let api = string_list(&service(&compose, "api")["command"], "api command");
    assert!(api.starts_with(&["serve".to_string()]) && api.contains(&"--api-only".to_string()), "{api:?}");
    assert_eq!(string_list(&service(&compose, "worker")["command"], "worker command"), ["worker"]);
    // Processes that start at once on an empty database race to create its first contents, so
    // the workers wait for a ready api (the other test starts them in that order too).
    assert_eq!(service(&compose, "worker")["depends_on"]["api"]["condition"].as_str(), Some("service_healthy"));
    assert_eq!(service(&compose, "worker")["depends_on"]["postgres"]["condition"].as_str(), Some("service_healthy"));
    let vars = BTreeMap::from([("JIXIAO_ADMIN_TOKEN", ADMIN_TOKEN.to_string())]);
    for name in ["api", "worker"] {
        let env = service_env(&compose, name, &vars).unwrap();
        assert!(env.contains(&("JIXIAO_ADMIN_TOKEN".to_string(), ADMIN_TOKEN.to_string())), "{name}: {env:?}");
        let missing = service_env(&compose, name, &BTreeMap::new()).unwrap_err();
        assert!(missing.contains("JIXIAO_ADMIN_TOKEN"), "{missing}");
    }
}

#[test]
fn compose_interpolation_and_dockerignore_patterns_read_as_docker_reads_them() {
    let vars = BTreeMap::from([("A", "x".to_string()), ("E", String::new())]);
    let ok = |s: &str| interpolate(s, &vars).unwrap();
    assert_eq!(ok("p://${B:-u}:${A:-v}@h/$A$$"), "p://u:x@h/x$");
    assert_eq!(ok("${E:-d}|${E-d}|${B-d}|${A:+y}|${E+y}|${B+y}"), "d||d|y|y|");
    assert!(interpolate("${B:?set B}", &vars).unwrap_err().contains("set B"));
    assert!(interpolate("${E:?set E}", &vars).is_err());
    assert_eq!(ok("${E?set E}"), "");

    let di = "target/\n**/target/\n*.db\nplugins/dist/\n!plugins/dist/keep\n";
    assert!(ignored(di, "target") && ignored(di, "plugins/x/target/y") && ignored(di, "a.db"));
    assert!(!ignored(di, "src/a.db") && !ignored(di, "plugins") && !ignored(di, "workflows"));
    assert!(ignored(di, "plugins/dist/a.wasm") && !ignored(di, "plugins/dist/keep"));

    assert_eq!(image_path("/app", "./workflows"), "/app/workflows");
    assert_eq!(image_path("/app", "../x/"), "/x/");
    assert_eq!(image_path("/app", "/usr/local/bin/jixiao"), "/usr/local/bin/jixiao");
    assert_eq!(words(r#"A=1 B="two words" C=x\ y D='$E'"#), ["A=1", "B=two words", "C=x y", "D=$E"]);
    let joined = instructions("FROM x\n# c\nENV A=1 \\\n    # inside\n    B=2\nCOPY a b\n");
    assert_eq!(
        joined.iter().map(|i| (i.line, i.keyword.as_str(), i.args.as_str())).collect::<Vec<_>>(),
        [(1, "FROM", "x"), (3, "ENV", "A=1 B=2"), (6, "COPY", "a b")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_layout_runs_the_composed_api_and_worker() {
    let set = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty()).is_some();
    if !set("JIXIAO_TEST_DATABASE_URL") || !set("JIXIAO_TEST_REDIS_URL") {
        println!(
            "skipped: the image test needs JIXIAO_TEST_DATABASE_URL and JIXIAO_TEST_REDIS_URL (the compose file's api \
             and workers run on PostgreSQL + Redis)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("image");
    let stage = runtime_stage(&read("Dockerfile"));
    lay_out(&stage, &root, &tmp.path().join("builder"));

    // A database and a queue namespace of this test's own, as every integration test gets.
    let helper_env = crate::helpers::test_env(tmp.path()).await;
    let take = |k: &str| {
        helper_env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("test_env: no {k}"))
    };
    let services = Services {
        database_url: take("JIXIAO_DATABASE_URL"),
        redis_url: take("JIXIAO_REDIS_URL"),
        queue_namespace: take("JIXIAO_QUEUE_NAMESPACE"),
    };
    // The shell that runs `docker compose up` sets the admin token, as the compose file asks.
    let vars = BTreeMap::from([("JIXIAO_ADMIN_TOKEN", ADMIN_TOKEN.to_string())]);
    let compose = compose();

    let port = free_port();
    let (program, cmd) = service_command(&stage, &compose, "api", &root, &vars, &services, port, None);
    assert_eq!(program, root.join("usr/local/bin/jixiao"), "the entrypoint is the copied binary");
    let mut api = Running::start("api", cmd);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    // The first start migrates the database and compiles the plugins.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        api.assert_running("waiting for /readyz");
        if let Some((StatusCode::OK, _)) = get(&client, &format!("{base}/readyz"), None).await {
            break;
        }
        assert!(Instant::now() < deadline, "the api was not ready within 240 s; its output:\n{}", api.output());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The compose file's health check and the image's own answer too.
    let checks = [
        health_path(&string_list(&service(&compose, "api")["healthcheck"]["test"], "api healthcheck")),
        health_path(&words(&stage.healthcheck)),
    ];
    for path in checks {
        let answer = get(&client, &format!("{base}{path}"), None).await;
        assert!(matches!(answer, Some((StatusCode::OK, _))), "GET {path}: {answer:?}");
    }

    // The plugins the image carries were found and loaded, and so the shipped workflow that
    // names them was published from the image's workflows folder.
    let (status, body) = get(&client, &format!("{base}/api/v1/plugins"), Some(ADMIN_TOKEN)).await.expect("plugins");
    assert_eq!(status, StatusCode::OK, "{body}");
    let plugins: Value = serde_json::from_str(&body).unwrap();
    let mut loaded: Vec<&str> = plugins["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|p| p["loaded"] == true)
        .filter_map(|p| p["name"].as_str())
        .collect();
    loaded.sort_unstable();
    let mut shipped = SHIPPED_PLUGINS.to_vec();
    shipped.sort_unstable();
    assert_eq!(loaded, shipped, "{body}");
    let (status, body) = get(&client, &format!("{base}/api/v1/workflows"), Some(ADMIN_TOKEN)).await.expect("workflows");
    assert_eq!(status, StatusCode::OK, "{body}");
    let workflows: Value = serde_json::from_str(&body).unwrap();
    assert!(
        workflows["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|w| w["workflow_id"] == "county-annual-cycle" && w["origin"] == "file:county-annual-cycle.yaml"),
        "{body}"
    );

    // The workers, started the same way and all at once (compose starts its replicas once the
    // api is ready), say that they run, and keep running.
    let replicas = service(&compose, "worker")["deploy"]["replicas"].as_i64().unwrap_or(1);
    let mut workers: Vec<Running> = (0..replicas)
        .map(|i| {
            let (_, cmd) = service_command(&stage, &compose, "worker", &root, &vars, &services, free_port(), None);
            Running::start(&format!("worker {}", i + 1), cmd)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    for worker in &mut workers {
        while !worker.output().contains("jixiao worker running") {
            worker.assert_running("waiting for the worker to start");
            assert!(
                Instant::now() < deadline,
                "{} did not start within 120 s; its output:\n{}",
                worker.name,
                worker.output()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for worker in &mut workers {
        worker.assert_running("after its start");
        let out = worker.output();
        assert!(!out.contains("ERROR"), "{}: {out}", worker.name);
    }
    api.assert_running("with the workers beside it");
    let answer = get(&client, &format!("{base}/readyz"), None).await;
    assert!(matches!(answer, Some((StatusCode::OK, _))), "GET /readyz with the workers running: {answer:?}");

    // The demo county loads into the composed system from the api's container
    // (`docker compose exec api jixiao demo`; fewer projects here), and the api shows it.
    let (_, mut demo) = service_command(
        &stage,
        &compose,
        "api",
        &root,
        &vars,
        &services,
        free_port(),
        Some(&["demo", "--projects", "40"]),
    );
    let out = tokio::task::spawn_blocking(move || demo.output()).await.unwrap().expect("the demo runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "jixiao demo in the api's settings failed:\n{text}");
    let (status, body) =
        get(&client, &format!("{base}/api/v1/projects?limit=1"), Some(ADMIN_TOKEN)).await.expect("projects");
    assert_eq!(status, StatusCode::OK, "{body}");
    let projects: Value = serde_json::from_str(&body).unwrap();
    assert!(projects["total"].as_i64().unwrap_or(0) >= 40, "the demo's projects are listed: {body}");
    drop(workers);
    drop(api);
}
