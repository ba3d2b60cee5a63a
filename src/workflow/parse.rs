//! Reading a workflow definition: YAML → checked `Workflow`. Every problem is a `Diagnostic`
//! with the line and column where it was written and what was expected; all problems found are
//! reported together.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use marked_yaml::{Span, Spanned};
use serde::{Deserialize, Serialize};

use super::expr::{Expr, VarValue, Vars};
use super::model::*;
use crate::domain::calendar::WorkDuration;

/// One problem in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Definitions larger than this are refused before parsing.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;
const MAX_STAGES: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    id: Spanned<String>,
    version: Spanned<u32>,
    title: Spanned<String>,
    timezone: Spanned<String>,
    #[serde(default)]
    subject: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    stages: Spanned<Vec<RawStage>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    id: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    when: Option<Spanned<String>>,
    #[serde(default)]
    schedule: Option<RawSchedule>,
    #[serde(default)]
    schedules: Option<Spanned<Vec<RawSchedule>>>,
    #[serde(default)]
    lights: Option<RawLights>,
    #[serde(default)]
    submit: Option<RawSubmit>,
    #[serde(default)]
    checks: Option<RawChecks>,
    #[serde(default)]
    panel: Option<RawPanel>,
    #[serde(default)]
    scoring: Option<Spanned<String>>,
    #[serde(default)]
    decide: Option<Vec<RawRule>>,
    #[serde(default)]
    actions: Option<Vec<RawAction>>,
    #[serde(default)]
    approve: Option<RawApprove>,
    #[serde(default)]
    spot_check: Option<Spanned<RawSpotCheck>>,
    #[serde(default)]
    rectify: Option<Spanned<RawRectify>>,
    #[serde(default)]
    remind: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    escalate: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpotCheck {
    #[serde(default)]
    share: Option<Spanned<String>>,
    #[serde(default)]
    stratify: Option<Spanned<String>>,
    #[serde(default)]
    margin: Option<Spanned<u32>>,
    #[serde(default)]
    within: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRectify {
    within: Spanned<String>,
    #[serde(default)]
    unrectified: Option<Spanned<String>>,
    #[serde(default)]
    percent: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: Spanned<String>,
    #[serde(default)]
    runs: Option<Spanned<u32>>,
    #[serde(default)]
    missed: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLights {
    #[serde(default)]
    execution: Option<RawBand>,
    #[serde(default)]
    indicator: Option<RawBand>,
    #[serde(default)]
    blue_from: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    red_below: Spanned<u32>,
    green_from: Spanned<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubmit {
    by: Spanned<String>,
    form: Spanned<String>,
    within: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    plugins: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    on_error: Option<Spanned<String>>,
    #[serde(default)]
    on_failure: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPanel {
    #[serde(default)]
    department: Option<Spanned<u32>>,
    #[serde(default)]
    finance: Option<Spanned<u32>>,
    #[serde(default)]
    expert: Option<Spanned<u32>>,
    form: Spanned<String>,
    within: Spanned<String>,
    #[serde(default)]
    aggregate: Option<Spanned<String>>,
    #[serde(default)]
    recusal: Option<RawRecusal>,
    #[serde(default)]
    outlier_margin: Option<Spanned<u32>>,
    #[serde(default)]
    on_overdue: Option<Spanned<String>>,
    #[serde(default)]
    quorum: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecusal {
    #[serde(default)]
    rules: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    years: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    when: Option<Spanned<String>>,
    #[serde(default)]
    then: Option<Spanned<String>>,
    #[serde(default, rename = "else")]
    otherwise: Option<Spanned<String>>,
    #[serde(default)]
    goto: Option<Spanned<String>>,
    #[serde(default)]
    max_rounds: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    #[serde(default)]
    when: Option<Spanned<String>>,
    propose: Spanned<String>,
    #[serde(default)]
    percent: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprove {
    by: Spanned<String>,
    within: Spanned<String>,
}

/// The variables a stage's `when` may use: the project.
pub fn project_sample() -> VarValue {
    let mut p = BTreeMap::new();
    p.insert("code".into(), VarValue::Text("XY2023-D001-0001".into()));
    p.insert("name".into(), VarValue::Text("示例项目".into()));
    p.insert("department".into(), VarValue::Text("D001".into()));
    p.insert("sector".into(), VarValue::Text("education".into()));
    p.insert("amount_yuan".into(), VarValue::Int(1_000_000));
    p.insert("amount_fen".into(), VarValue::Int(100_000_000));
    p.insert("fiscal_year".into(), VarValue::Int(2023));
    p.insert("is_new".into(), VarValue::Bool(true));
    p.insert("funding_source".into(), VarValue::Text("general_budget".into()));
    p.insert("indicator_count".into(), VarValue::Int(8));
    VarValue::Map(p)
}

fn entry_sample() -> Vars {
    let mut v = Vars::default();
    v.set("project", project_sample());
    v
}

/// The variables a decision or action rule may use: the project, the stage's score and grade
/// (from the panel or the self-evaluation), and the revision round (0 for the first review).
fn decision_sample() -> Vars {
    let mut v = entry_sample();
    v.set("score", VarValue::Decimal(rust_decimal::Decimal::new(8550, 2)));
    v.set("grade", VarValue::Text("良".into()));
    v.set("round", VarValue::Int(0));
    v.set("flagged", VarValue::Bool(false));
    v.set("source", VarValue::Text("self_evaluation".into()));
    v
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn at(&mut self, span: &Span, message: impl Into<String>) {
        let (line, column) = span.start().map(|m| (m.line(), m.column())).unwrap_or((1, 1));
        self.diags.push(Diagnostic { file: self.file.to_string(), line, column, message: message.into() });
    }

    /// Compiles an expression written at `span`; positions inside the expression are added to
    /// the position of the YAML value (exact for single-line plain and quoted scalars).
    fn expr(&mut self, s: &Spanned<String>, sample: &Vars, what: &str) -> Option<Expr> {
        match Expr::compile(s, sample) {
            Ok(e) => Some(e),
            Err(e) => {
                let (line, column) = s.span().start().map(|m| (m.line(), m.column())).unwrap_or((1, 1));
                let quoted = usize::from(matches!(self.source_char(line, column), Some('"') | Some('\'')));
                let (l, c) =
                    if e.line <= 1 { (line, column + quoted + e.column - 1) } else { (line + e.line - 1, e.column) };
                self.diags.push(Diagnostic {
                    file: self.file.to_string(),
                    line: l,
                    column: c,
                    message: format!("bad expression in {what}: {}", e.message),
                });
                None
            }
        }
    }

    /// The character at a 1-based line and column of the definition (to see whether a value
    /// was quoted, which shifts positions inside it by one).
    fn source_char(&self, line: usize, column: usize) -> Option<char> {
        self.text.lines().nth(line.checked_sub(1)?)?.chars().nth(column.checked_sub(1)?)
    }

    fn duration(&mut self, s: &Spanned<String>) -> Option<WorkDuration> {
        match WorkDuration::from_str(s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.at(s.span(), format!("bad duration: {e}"));
                None
            }
        }
    }

    fn role(&mut self, s: &Spanned<String>, allowed: &[Role]) -> Option<Role> {
        match Role::from_str(s) {
            Ok(r) if allowed.contains(&r) => Some(r),
            _ => {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                self.at(s.span(), format!("'{}' cannot do this (expected one of: {})", s.as_str(), names.join(", ")));
                None
            }
        }
    }

    fn one_of<T: Copy>(&mut self, s: &Spanned<String>, what: &str, options: &[(&str, T)]) -> Option<T> {
        match options.iter().find(|(n, _)| *n == s.as_str()) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.at(s.span(), format!("unknown {what} '{}' (expected one of: {})", s.as_str(), names.join(", ")));
                None
            }
        }
    }
}

/// Parses and checks a definition. `file` names the source in diagnostics.
pub fn parse(file: &str, text: &str) -> Result<Workflow, Vec<Diagnostic>> {
    let mut ctx = Ctx { file, text, diags: Vec::new() };
    if text.len() > MAX_DEFINITION_BYTES {
        ctx.diags.push(Diagnostic {
            file: file.into(),
            line: 1,
            column: 1,
            message: format!("the definition is {} bytes; at most {MAX_DEFINITION_BYTES} are accepted", text.len()),
        });
        return Err(ctx.diags);
    }
    let options = marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true).toplevel_mapping();
    let node = match marked_yaml::parse_yaml_with_options(0, text, options) {
        Ok(n) => n,
        Err(e) => {
            let (line, column, message) = load_error_position(&e);
            ctx.diags.push(Diagnostic { file: file.into(), line, column, message });
            return Err(ctx.diags);
        }
    };
    let raw: RawWorkflow = match marked_yaml::from_node(&node) {
        Ok(r) => r,
        Err(e) => {
            let (line, column) =
                key_position(&node, &e).or_else(|| e.start_mark().map(|m| (m.line(), m.column()))).unwrap_or((1, 1));
            let message = describe_serde_error(&e);
            ctx.diags.push(Diagnostic { file: file.into(), line, column, message });
            return Err(ctx.diags);
        }
    };
    let wf = check(&mut ctx, raw, text);
    if ctx.diags.is_empty() {
        wf.ok_or_else(Vec::new)
    } else {
        ctx.diags.sort_by_key(|d| (d.line, d.column));
        Err(ctx.diags)
    }
}

fn load_error_position(e: &marked_yaml::LoadError) -> (usize, usize, String) {
    use marked_yaml::LoadError as L;
    match e {
        L::TopLevelMustBeMapping(m) => (
            m.line(),
            m.column(),
            "a workflow definition must be a mapping (id, version, title, timezone, stages)".into(),
        ),
        L::DuplicateKey(d) => {
            let m = d.key.span().start().copied();
            let (l, c) = m.map(|m| (m.line(), m.column())).unwrap_or((1, 1));
            (l, c, format!("the key '{}' appears twice", d.key.as_str()))
        }
        L::ScanError(m, err) => (m.line(), m.column(), format!("not valid YAML: {err}")),
        other => (1, 1, format!("not valid YAML: {other}")),
    }
}

/// For an unknown key, the position of the key itself (the deserialiser reports the mapping
/// that holds it): follow the error's path (`stages[0].panel.colour`) through the parsed nodes.
fn key_position(root: &marked_yaml::Node, e: &marked_yaml::FromNodeError) -> Option<(usize, usize)> {
    let marked_yaml::Error::UnknownFieldError(field, _, _) = &**e else {
        return None;
    };
    let path = e.path()?;
    let mut node = root;
    let parent = path.strip_suffix(field.as_str())?.trim_end_matches('.');
    for part in parent.split('.').filter(|p| !p.is_empty()) {
        let (key, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            node = node.as_mapping()?.get_node(key)?;
        }
        for idx in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            node = node.as_sequence()?.get_node(idx.parse().ok()?)?;
        }
    }
    let (k, _) = node.as_mapping()?.iter().find(|(k, _)| k.as_str() == field)?;
    k.span().start().map(|m| (m.line(), m.column()))
}

fn describe_serde_error(e: &marked_yaml::FromNodeError) -> String {
    use marked_yaml::Error as E;
    let at = e.path().filter(|p| !p.is_empty() && *p != ".").map(|p| format!(" at {p}")).unwrap_or_default();
    match &**e {
        E::UnknownFieldError(field, expected, _) => {
            format!("unknown key '{field}'{at} (expected one of: {})", expected.join(", "))
        }
        E::IntegerParseFailure(_, _) => format!("expected a whole number{at}"),
        E::NotBoolean(_) => format!("expected true or false{at}"),
        E::FloatParseFailure(_, _) => format!("expected a number{at}"),
        E::Other(msg, _) => format!("{msg}{at}"),
    }
}

fn check(ctx: &mut Ctx<'_>, raw: RawWorkflow, text: &str) -> Option<Workflow> {
    let id_ok = !raw.id.is_empty()
        && raw.id.len() <= 64
        && raw.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !id_ok {
        ctx.at(
            raw.id.span(),
            format!("'{}' is not a workflow id (expected 1–64 lowercase letters, digits, '-' or '_')", raw.id.as_str()),
        );
    }
    if *raw.version == 0 {
        ctx.at(raw.version.span(), "version must be 1 or more");
    }
    let _ = &raw.description;
    let subjects: Vec<(&str, Subject)> = Subject::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    let subject = match &raw.subject {
        Some(s) => ctx.one_of(s, "subject", &subjects),
        None => Some(Subject::Project),
    };
    let timezone = match chrono_tz::Tz::from_str(&raw.timezone) {
        Ok(tz) => Some(tz),
        Err(_) => {
            ctx.at(
                raw.timezone.span(),
                format!("unknown time zone '{}' (expected an IANA name such as Asia/Shanghai)", raw.timezone.as_str()),
            );
            None
        }
    };
    if raw.stages.is_empty() {
        ctx.at(raw.stages.span(), "a workflow needs at least one stage");
    }
    if raw.stages.len() > MAX_STAGES {
        ctx.at(raw.stages.span(), format!("at most {MAX_STAGES} stages"));
    }
    let mut seen = HashSet::new();
    let stage_ids: Vec<String> = raw.stages.iter().map(|s| s.id.to_string()).collect();
    for s in raw.stages.iter() {
        let ok = !s.id.is_empty()
            && s.id.len() <= 64
            && s.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            ctx.at(
                s.id.span(),
                format!("'{}' is not a stage id (expected lowercase letters, digits and '_')", s.id.as_str()),
            );
        }
        if !seen.insert(s.id.as_str()) {
            ctx.at(s.id.span(), format!("the stage id '{}' is used twice", s.id.as_str()));
        }
    }
    let tz = timezone.unwrap_or(chrono_tz::Asia::Shanghai);
    let stages: Vec<Option<Stage>> =
        raw.stages.iter().enumerate().map(|(i, s)| check_stage(ctx, s, i, &stage_ids, tz)).collect();
    let stages: Vec<Stage> = stages.into_iter().collect::<Option<Vec<_>>>()?;
    for (i, s) in stages.iter().enumerate() {
        if let Some(reason) = never_finishes(&stages, i) {
            ctx.at(raw.stages[i].id.span(), format!("stage '{}' can never finish: {reason}", s.id));
        }
    }
    Some(Workflow {
        id: raw.id.to_string(),
        version: *raw.version,
        title: raw.title.to_string(),
        timezone: timezone?,
        subject: subject?,
        stages,
        source: text.to_string(),
    })
}

fn check_stage(
    ctx: &mut Ctx<'_>,
    s: &RawStage,
    index: usize,
    stage_ids: &[String],
    tz: chrono_tz::Tz,
) -> Option<Stage> {
    let before = ctx.diags.len();
    let kinds: Vec<(&str, StageKind)> = StageKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    let kind = ctx.one_of(&s.kind, "stage kind", &kinds);
    let when = s.when.as_ref().and_then(|w| ctx.expr(w, &entry_sample(), "when"));
    if let (Some(_), Some(list)) = (&s.schedule, &s.schedules) {
        ctx.at(list.span(), "write either 'schedule' (one) or 'schedules' (a list), not both");
    }
    if let Some(list) = &s.schedules
        && list.is_empty()
    {
        ctx.at(list.span(), "'schedules' needs at least one schedule");
    }
    let raw_schedules: Vec<&RawSchedule> = s.schedule.iter().chain(s.schedules.iter().flat_map(|l| l.iter())).collect();
    let schedules: Vec<Schedule> = raw_schedules.into_iter().filter_map(|sch| {
        let cron = match cron::Schedule::from_str(&sch.cron) {
            Ok(c) => Some(c),
            Err(e) => {
                ctx.at(sch.cron.span(), format!(
                    "bad cron string '{}': {e} (expected 6 or 7 fields, seconds first, e.g. \"0 0 9 1 May,Aug,Nov *\"; use day names, since numeric day-of-week 1 means Sunday)",
                    sch.cron.as_str()
                ));
                None
            }
        }?;
        let probe = chrono::Utc::now().with_timezone(&tz);
        if cron.after(&probe).next().is_none() {
            ctx.at(sch.cron.span(), format!("the cron string '{}' never fires, so the stage could never finish", sch.cron.as_str()));
        }
        let runs = sch.runs.as_ref().map(|r| **r).unwrap_or(1);
        if runs == 0
            && let Some(r) = &sch.runs {
                ctx.at(r.span(), "runs must be 1 or more");
            }
        let missed = match &sch.missed {
            None => Some(MissedPolicy::RunOnce),
            Some(m) => ctx.one_of(m, "missed-fire policy", &[("run_once", MissedPolicy::RunOnce), ("skip", MissedPolicy::Skip)]),
        }?;
        Some(Schedule { source: sch.cron.to_string(), cron, runs, missed })
    }).collect();
    let lights = match (&s.lights, kind) {
        (Some(l), Some(StageKind::Monitoring)) => {
            let mut bands = crate::domain::monitoring::Bands::default();
            let band = |b: &RawBand| crate::domain::monitoring::Band {
                red_below: (*b.red_below).into(),
                green_from: (*b.green_from).into(),
            };
            if let Some(b) = &l.execution {
                bands.execution = band(b);
            }
            if let Some(b) = &l.indicator {
                bands.indicator = band(b);
            }
            if let Some(b) = &l.blue_from {
                bands.blue_from = (**b > 0).then(|| (**b).into());
            }
            for p in bands.problems() {
                let at = l
                    .execution
                    .as_ref()
                    .map(|b| b.red_below.span())
                    .or(l.indicator.as_ref().map(|b| b.red_below.span()));
                ctx.at(at.or(l.blue_from.as_ref().map(|b| b.span())).unwrap_or(s.id.span()), format!("lights: {p}"));
            }
            Some(bands)
        }
        (Some(_), _) => {
            ctx.at(s.id.span(), "'lights' only applies to a monitoring stage");
            None
        }
        (None, Some(StageKind::Monitoring)) => Some(crate::domain::monitoring::Bands::default()),
        (None, _) => None,
    };
    let forms: Vec<(&str, SubmitForm)> = SubmitForm::ALL.iter().map(|f| (f.as_str(), *f)).collect();
    let submit = s.submit.as_ref().and_then(|sub| {
        let by = ctx.role(&sub.by, &[Role::Department, Role::ThirdParty]);
        let form = ctx.one_of(&sub.form, "submission form", &forms);
        let within = ctx.duration(&sub.within);
        Some(Submit { by: by?, form: form?, within: within? })
    });
    let policies = [("proceed", CheckPolicy::Proceed), ("return", CheckPolicy::Return), ("block", CheckPolicy::Block)];
    let checks = s.checks.as_ref().and_then(|c| {
        let mut plugins = Vec::new();
        for r in c.plugins.iter() {
            match PluginRef::parse(r) {
                Ok(plugin) => {
                    let (line, column) = r.span().start().map(|m| (m.line(), m.column())).unwrap_or((1, 1));
                    if plugins.iter().any(|p: &PluginRefAt| p.plugin == plugin) {
                        ctx.at(r.span(), format!("plugin '{}' is listed twice", r.as_str()));
                    }
                    plugins.push(PluginRefAt { plugin, line, column });
                }
                Err(e) => ctx.at(r.span(), e),
            }
        }
        if c.plugins.is_empty() {
            ctx.at(c.plugins.span(), "checks needs at least one plugin (e.g. plugins: [common, $sector])");
        }
        if c.plugins.len() > 16 {
            ctx.at(c.plugins.span(), "a check step may run at most 16 plugins");
        }
        let on_error = match &c.on_error {
            None => Some(CheckPolicy::Return),
            Some(p) => ctx.one_of(p, "check policy", &policies),
        };
        let on_failure = match &c.on_failure {
            None => Some(CheckPolicy::Proceed),
            Some(p) => ctx.one_of(p, "check policy", &policies),
        };
        Some(Checks { plugins, on_error: on_error?, on_failure: on_failure? })
    });
    if let Some(c) = &s.checks
        && s.submit.is_none()
    {
        ctx.at(c.plugins.span(), "checks run on a submission: add 'submit' to the stage");
    }
    let review_forms: Vec<(&str, ReviewForm)> = ReviewForm::ALL.iter().map(|f| (f.as_str(), *f)).collect();
    let panel = s.panel.as_ref().and_then(|p| {
        let get = |v: &Option<Spanned<u32>>| v.as_ref().map(|x| **x).unwrap_or(0);
        let (department, finance, expert) = (get(&p.department), get(&p.finance), get(&p.expert));
        let form = ctx.one_of(&p.form, "review form", &review_forms);
        let within = ctx.duration(&p.within);
        let aggregate = match &p.aggregate {
            None => Some(Aggregate::Mean),
            Some(a) => ctx.one_of(a, "aggregation", &[("mean", Aggregate::Mean), ("trimmed_mean", Aggregate::TrimmedMean), ("leader", Aggregate::Leader)]),
        };
        if department + finance + expert == 0 {
            ctx.at(p.form.span(), "a panel needs at least one member (department, finance or expert), otherwise its stage could never finish");
        }
        if let Some(e) = &p.expert
            && **e > 0 && (**e < 3 || **e % 2 == 0) {
                ctx.at(e.span(), format!("{} experts: a panel's experts must be an odd number of at least 3", **e));
            }
        if department + finance + expert > 25 {
            ctx.at(p.form.span(), "a panel may have at most 25 members");
        }
        let mut recusal = crate::domain::panel::RecusalPolicy::default();
        if let Some(r) = &p.recusal {
            if let Some(rules) = &r.rules {
                let names: Vec<(&str, crate::domain::panel::RecusalRule)> =
                    crate::domain::panel::RecusalRule::ALL.iter().map(|r| (r.as_str(), *r)).collect();
                recusal.rules = rules.iter().filter_map(|x| ctx.one_of(x, "recusal rule", &names)).collect();
            }
            if let Some(y) = &r.years {
                if !(1..=10).contains(&**y) {
                    ctx.at(y.span(), format!("recusal years must be between 1 and 10, not {}", **y));
                }
                recusal.years = **y as i32;
            }
        }
        let outlier_margin = match &p.outlier_margin {
            None => 15,
            Some(m) if (1..=100).contains(&**m) => **m,
            Some(m) => {
                ctx.at(m.span(), format!("outlier_margin must be between 1 and 100 points, not {}", **m));
                15
            }
        };
        let on_overdue = match &p.on_overdue {
            None => Some(OverduePolicy::Wait),
            Some(o) => ctx.one_of(o, "overdue policy", &[("wait", OverduePolicy::Wait), ("replace", OverduePolicy::Replace)]),
        };
        let quorum = p.quorum.as_ref().map(|q| {
            if **q == 0 || **q > department + finance + expert {
                ctx.at(
                    q.span(),
                    format!("a quorum of {} is not between 1 and the panel's {} members", **q, department + finance + expert),
                );
            }
            **q
        });
        Some(Panel {
            quorum,
            on_overdue: on_overdue?,
            department,
            finance,
            expert,
            form: form?,
            within: within?,
            aggregate: aggregate?,
            recusal,
            outlier_margin,
        })
    });
    let scoring = s.scoring.as_ref().and_then(|sc| {
        if crate::domain::scoring::Scheme::builtin(sc).is_some() {
            Some(sc.to_string())
        } else {
            ctx.at(
                sc.span(),
                format!("unknown scoring scheme '{}' (expected mof_2020_10 or mof_2021_101)", sc.as_str()),
            );
            None
        }
    });
    let produces_score = s.panel.is_some() || s.scoring.is_some();
    let mut decide = Vec::new();
    if let Some(rules) = &s.decide {
        if !produces_score && let Some(first) = rules.first() {
            let span = first.when.as_ref().or(first.then.as_ref()).or(first.otherwise.as_ref()).map(|x| *x.span());
            ctx.at(
                &span.unwrap_or_else(|| *s.id.span()),
                "decide needs a panel or a scoring scheme in the same stage to produce the score it decides on",
            );
        }
        for (ri, r) in rules.iter().enumerate() {
            let outcome_src = match (&r.then, &r.otherwise, &r.goto) {
                (Some(t), None, None) => Some(t),
                (None, Some(e), None) => Some(e),
                (None, None, Some(_)) => None,
                _ => {
                    ctx.at(
                        r.when.as_ref().map(|w| w.span()).unwrap_or(s.id.span()),
                        "a decision rule needs exactly one of 'then', 'else' or 'goto'",
                    );
                    continue;
                }
            };
            if r.otherwise.is_some() && r.when.is_some() {
                ctx.at(r.when.as_ref().map(|w| w.span()).unwrap_or(s.id.span()), "an 'else' rule has no 'when'");
            }
            if r.then.is_some() && r.when.is_none() {
                ctx.at(
                    r.then.as_ref().map(|t| t.span()).unwrap_or(s.id.span()),
                    "a 'then' rule needs a 'when' (use 'else' for the last rule)",
                );
            }
            if r.otherwise.is_some() && ri + 1 != rules.len() {
                ctx.at(r.otherwise.as_ref().map(|t| t.span()).unwrap_or(s.id.span()), "'else' must be the last rule");
            }
            let when = r.when.as_ref().and_then(|w| ctx.expr(w, &decision_sample(), "decide"));
            let outcome = if let Some(g) = &r.goto {
                match stage_ids.iter().position(|id| id == g.as_str()) {
                    Some(j) => Some(Outcome::Goto(j)),
                    None => {
                        ctx.at(
                            g.span(),
                            format!("unknown stage '{}' (expected one of: {})", g.as_str(), stage_ids.join(", ")),
                        );
                        None
                    }
                }
            } else {
                let src = outcome_src?;
                match src.as_str() {
                    "next" => Some(Outcome::Next),
                    "reject" => Some(Outcome::Reject),
                    "revise" => match &r.max_rounds {
                        Some(m) if **m >= 1 => Some(Outcome::Revise { max_rounds: **m }),
                        Some(m) => {
                            ctx.at(m.span(), "max_rounds must be 1 or more");
                            None
                        }
                        None => {
                            ctx.at(
                                src.span(),
                                "'revise' needs max_rounds, otherwise a case could be sent back for ever",
                            );
                            None
                        }
                    },
                    other => {
                        ctx.at(
                            src.span(),
                            format!("unknown outcome '{other}' (expected next, revise or reject, or use goto: STAGE)"),
                        );
                        None
                    }
                }
            };
            if r.max_rounds.is_some() && !matches!(outcome, Some(Outcome::Revise { .. }) | None) {
                ctx.at(
                    r.max_rounds.as_ref().map(|m| m.span()).unwrap_or(s.id.span()),
                    "max_rounds only applies to 'revise'",
                );
            }
            if let Some(outcome) = outcome
                && (r.when.is_none() || when.is_some())
            {
                decide.push(Rule { when, outcome });
            }
        }
        if let Some(last) = rules.last()
            && last.when.is_some()
        {
            let span = last.when.as_ref().map(|w| *w.span()).unwrap_or(*s.id.span());
            ctx.at(&span, "the last decision rule must be 'else' so that every score leads somewhere; otherwise the stage could never finish");
        }
        if rules.is_empty() {
            ctx.at(s.id.span(), "decide is empty");
        } else if !rules
            .iter()
            .any(|r| r.goto.is_some() || r.then.as_ref().or(r.otherwise.as_ref()).is_some_and(|o| o.as_str() == "next"))
        {
            ctx.at(s.id.span(), "no decision rule leads on (next or goto), so a case can never pass this stage; it could only be rejected");
        }
    }
    let action_kinds: Vec<(&str, ActionKind)> = ActionKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    let mut actions = Vec::new();
    for a in s.actions.iter().flatten() {
        let when = a.when.as_ref().and_then(|w| ctx.expr(w, &decision_sample(), "actions"));
        let Some(kind) = ctx.one_of(&a.propose, "action", &action_kinds) else {
            continue;
        };
        if kind == ActionKind::Cut {
            match &a.percent {
                Some(p) if (1..=100).contains(&**p) => {}
                Some(p) => ctx.at(p.span(), "percent must be between 1 and 100"),
                None => ctx.at(a.propose.span(), "'cut' needs percent (the share of the budget to cut)"),
            }
        } else if let Some(p) = &a.percent {
            ctx.at(p.span(), "percent only applies to 'cut'");
        }
        actions.push(ActionRule { when, kind, percent: a.percent.as_ref().map(|p| **p) });
    }
    let approve = s.approve.as_ref().and_then(|a| {
        let by = ctx.role(&a.by, &[Role::Finance, Role::Admin]);
        let within = ctx.duration(&a.within);
        Some(Approve { by: by?, within: within? })
    });
    if s.submit.is_none() && s.panel.is_none() && s.approve.is_none() && schedules.is_empty() && s.actions.is_none() {
        ctx.at(
            s.id.span(),
            "the stage has nothing to do (expected at least one of submit, panel, schedule, actions, approve)",
        );
    }
    if s.panel.is_some() && s.submit.is_none() {
        ctx.at(s.id.span(), "a panel reviews a submission: add 'submit' to the stage");
    }
    if !schedules.is_empty() && s.submit.is_none() {
        ctx.at(s.id.span(), "a scheduled stage issues a task at each fire: add 'submit'");
    }
    if s.scoring.is_some() && !matches!(s.submit.as_ref().map(|x| x.form.as_str()), Some("self_evaluation")) {
        ctx.at(
            s.scoring.as_ref().map(|x| x.span()).unwrap_or(s.id.span()),
            "scoring needs a self_evaluation submission in the same stage",
        );
    }
    if !s.actions.as_ref().map(|a| a.is_empty()).unwrap_or(true) && s.approve.is_none() {
        ctx.at(s.id.span(), "proposed actions need 'approve' so the bureau can approve or amend them");
    }
    let spot_check = s.spot_check.as_ref().and_then(|sc| {
        if s.scoring.is_none() {
            ctx.at(sc.span(), "'spot_check' re-scores a scored stage: add 'scoring' to the stage");
        }
        let mut out = SpotCheck::default();
        if let Some(sh) = &sc.share {
            let text = sh.trim();
            let parsed = match text.strip_suffix('%') {
                Some(p) => p.trim().parse::<rust_decimal::Decimal>().ok().map(|d| d / rust_decimal::Decimal::from(100)),
                None => text.parse::<rust_decimal::Decimal>().ok(),
            };
            match parsed {
                Some(f) if f > rust_decimal::Decimal::ZERO && f <= rust_decimal::Decimal::ONE => out.share = f,
                _ => ctx.at(sh.span(), format!("share '{text}' is not a share of the submissions (expected a percentage such as 15% or a fraction such as 0.15, above 0 and at most 100%)")),
            }
        }
        if let Some(st) = &sc.stratify {
            out.stratify_by_department = ctx.one_of(st, "stratification", &[("department", true), ("none", false)])?;
        }
        if let Some(m) = &sc.margin {
            if **m == 0 || **m > 100 {
                ctx.at(m.span(), "margin must be between 1 and 100 points");
            }
            out.margin = (**m).into();
        }
        if let Some(w) = &sc.within {
            out.within = ctx.duration(w)?;
        }
        Some(out)
    });
    let rectify = match (&s.rectify, kind) {
        (Some(r), Some(StageKind::ResultApplication)) => (|| {
            let within = ctx.duration(&r.within)?;
            let unrectified = match &r.unrectified {
                None => ActionKind::Cut,
                Some(u) => ctx.one_of(
                    u,
                    "escalation action",
                    &[("cut", ActionKind::Cut), ("suspend", ActionKind::Suspend), ("cancel", ActionKind::Cancel)],
                )?,
            };
            let percent = r.percent.as_ref().map(|p| **p);
            match (unrectified, &r.percent) {
                (ActionKind::Cut, Some(p)) if !(1..=100).contains(&**p) => {
                    ctx.at(p.span(), "percent must be between 1 and 100")
                }
                (ActionKind::Cut, None) => {
                    ctx.at(r.span(), "an escalation to 'cut' needs percent (the share of the budget to cut)")
                }
                (ActionKind::Cut, _) => {}
                (_, Some(p)) => ctx.at(p.span(), "percent only applies to an escalation to 'cut'"),
                (_, None) => {}
            }
            Some(Rectify { within, unrectified, percent })
        })(),
        (Some(r), _) => {
            ctx.at(r.span(), "'rectify' only applies to a result_application stage");
            None
        }
        (None, Some(StageKind::ResultApplication)) => Some(Rectify::default()),
        (None, _) => None,
    };
    let mut remind = Vec::new();
    for r in s.remind.iter().flatten() {
        match r.trim().strip_prefix('-').map(|t| t.trim().parse::<WorkDuration>()) {
            Some(Ok(d)) if !remind.contains(&d) => remind.push(d),
            Some(Ok(_)) => ctx.at(r.span(), format!("reminder '{}' is listed twice", r.as_str())),
            Some(Err(e)) => ctx.at(r.span(), format!("reminder '{}': {e}", r.as_str())),
            None => ctx.at(
                r.span(),
                format!("reminder '{}' must say how long before the deadline, e.g. -3 workdays", r.as_str()),
            ),
        }
    }
    if remind.len() > 5 {
        ctx.at(s.id.span(), "at most 5 reminders per stage");
    }
    let escalate = s.escalate.as_ref().and_then(|e| ctx.duration(e));
    if (!remind.is_empty() || escalate.is_some()) && s.submit.is_none() && s.panel.is_none() && s.approve.is_none() {
        ctx.at(s.id.span(), "reminders and escalation are about tasks: the stage has none");
    }
    let _ = index;
    if ctx.diags.len() > before {
        return None;
    }
    Some(Stage {
        id: s.id.to_string(),
        kind: kind?,
        title: s.title.clone().unwrap_or_else(|| s.id.to_string()),
        when,
        schedules,
        lights,
        submit,
        checks,
        panel,
        scoring,
        decide,
        actions,
        approve,
        spot_check,
        rectify,
        remind,
        escalate,
    })
}

/// Checks a parsed definition's plugin references against the installed plugins:
/// `installed(name, version)` says whether that plugin (and version, if one is named) is there.
/// `$sector` always passes: a project whose sector has no plugin gets an informational finding.
pub fn check_plugins(file: &str, wf: &Workflow, installed: &dyn Fn(&str, Option<&str>) -> bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for st in &wf.stages {
        for r in st.checks.iter().flat_map(|c| c.plugins.iter()) {
            if let PluginRef::Named { name, version } = &r.plugin
                && !installed(name, version.as_deref())
            {
                let message = match version {
                    Some(v) if installed(name, None) => {
                        format!(
                            "plugin '{name}' has no version {v} installed (upload it, or name the plugin without a version for the latest)"
                        )
                    }
                    _ => format!(
                        "unknown plugin '{name}': no plugin of that name is installed (build plugins/ with plugins/build.sh or upload it at /api/v1/plugins)"
                    ),
                };
                out.push(Diagnostic { file: file.to_string(), line: r.line, column: r.column, message });
            }
        }
    }
    out
}

/// Whether a stage can reach the end of the workflow by some outcome. Stages without decision
/// rules always go on; a stage whose every outcome leads back into a loop never finishes.
fn never_finishes(stages: &[Stage], start: usize) -> Option<String> {
    let mut visited = vec![false; stages.len()];
    let mut stack = vec![start];
    while let Some(i) = stack.pop() {
        if i >= stages.len() {
            return None;
        }
        if std::mem::replace(&mut visited[i], true) {
            continue;
        }
        let s = &stages[i];
        if s.decide.is_empty() {
            stack.push(i + 1);
            continue;
        }
        for r in &s.decide {
            match r.outcome {
                Outcome::Next => stack.push(i + 1),
                Outcome::Reject => return None,
                // A revision ends rejected once its rounds are used up.
                Outcome::Revise { .. } => return None,
                Outcome::Goto(j) => stack.push(j),
            }
        }
    }
    Some("every outcome of its decision rules leads back into a loop of stages".into())
}
