//! Mail. Every notification is an `outbox` row written with the change that causes it
//! (`store::outbox`); this module renders and delivers them.
//!
//! * [`Templates`]: the mail texts in Chinese (the default) and English, as minijinja templates
//!   compiled and test-rendered at start-up, so a broken template stops start-up rather than a
//!   send at 2 a.m.
//! * [`Transport`]: SMTP from one URL in lettre's form (plain, STARTTLS or TLS, optional auth),
//!   or `.eml` files in a folder when no server is configured (the embedded default).
//! * [`run_mailer`]: claims due rows (so several processes never send one row twice), sends
//!   each with a Message-ID derived from its row, retries temporary failures with exponential
//!   backoff and records permanent ones with the reason.
//!
//! Only this module imports lettre.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::app::Runtime;
use crate::store::outbox::{OutboxRow, Screen};

/// Whether `text` is a mailbox (`name <address>` or `address`).
pub fn is_mailbox(text: &str) -> bool {
    text.parse::<Mailbox>().is_ok()
}

/// The kinds of mail and their templates: (name, subject, body) per language.
const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "task_assigned.zh",
        "【预算绩效管理】待办：{{ project_code }} {{ stage_title }}（截止 {{ due }}）",
        "{{ recipient }}，您好：\n\n\
         您有一项新的待办事项。\n\n\
         项目：{{ project_code }} {{ project_name }}\n\
         环节：{{ stage_title }}\n\
         事项：{{ task_label }}\n\
         截止时间：{{ due }}（{{ timezone }}）\n\n\
         请登录系统办理：{{ link }}\n\n\
         本邮件由系统自动发送，请勿直接回复。\n",
    ),
    (
        "task_assigned.en",
        "[jixiao] To do: {{ project_code }} {{ stage_title }} (due {{ due }})",
        "Dear {{ recipient }},\n\n\
         A new task is waiting for you.\n\n\
         Project: {{ project_code }} {{ project_name }}\n\
         Stage: {{ stage_title }}\n\
         Task: {{ task_label }}\n\
         Due: {{ due }} ({{ timezone }})\n\n\
         Open it here: {{ link }}\n\n\
         This mail was sent automatically; please do not reply to it.\n",
    ),
    (
        "reminder.zh",
        "【预算绩效管理】提醒：{{ project_code }} {{ stage_title }} 将于 {{ due }} 截止",
        "{{ recipient }}，您好：\n\n\
         以下事项尚未办理，将于 {{ due }}（{{ timezone }}）截止，请及时办理。\n\n\
         项目：{{ project_code }} {{ project_name }}\n\
         环节：{{ stage_title }}\n\
         事项：{{ task_label }}\n\n\
         办理地址：{{ link }}\n\n\
         本邮件由系统自动发送，请勿直接回复。\n",
    ),
    (
        "reminder.en",
        "[jixiao] Reminder: {{ project_code }} {{ stage_title }} is due {{ due }}",
        "Dear {{ recipient }},\n\n\
         This task is still open and is due {{ due }} ({{ timezone }}).\n\n\
         Project: {{ project_code }} {{ project_name }}\n\
         Stage: {{ stage_title }}\n\
         Task: {{ task_label }}\n\n\
         Open it here: {{ link }}\n",
    ),
    (
        "overdue.zh",
        "【预算绩效管理】已逾期：{{ project_code }} {{ stage_title }}",
        "{{ recipient }}，您好：\n\n\
         以下事项已于 {{ due }}（{{ timezone }}）逾期，请尽快办理；逾期未办的将报送财政部门。\n\n\
         项目：{{ project_code }} {{ project_name }}\n\
         环节：{{ stage_title }}\n\
         事项：{{ task_label }}\n\n\
         办理地址：{{ link }}\n",
    ),
    (
        "overdue.en",
        "[jixiao] Overdue: {{ project_code }} {{ stage_title }}",
        "Dear {{ recipient }},\n\n\
         This task was due {{ due }} ({{ timezone }}) and is still open. If it stays open, the \
         finance bureau will be told.\n\n\
         Project: {{ project_code }} {{ project_name }}\n\
         Stage: {{ stage_title }}\n\
         Task: {{ task_label }}\n\n\
         Open it here: {{ link }}\n",
    ),
    (
        "escalation.zh",
        "【预算绩效管理】逾期报告：{{ project_code }} {{ stage_title }}",
        "{{ recipient }}，您好：\n\n\
         以下事项已于 {{ due }}（{{ timezone }}）截止，至今仍未办理，请督促。\n\n\
         项目：{{ project_code }} {{ project_name }}\n\
         环节：{{ stage_title }}\n\
         事项：{{ task_label }}\n\n\
         查看：{{ link }}\n",
    ),
    (
        "escalation.en",
        "[jixiao] Escalation: {{ project_code }} {{ stage_title }} is overdue",
        "Dear {{ recipient }},\n\n\
         This task was due {{ due }} ({{ timezone }}) and is still open; please follow it up.\n\n\
         Project: {{ project_code }} {{ project_name }}\n\
         Stage: {{ stage_title }}\n\
         Task: {{ task_label }}\n\n\
         View it here: {{ link }}\n",
    ),
    (
        "revision_requested.zh",
        "【预算绩效管理】请修改后重新提交：{{ project_code }} {{ stage_title }}（截止 {{ due }}）",
        "{{ recipient }}，您好：\n\n\
         评审意见要求修改以下材料，请修改后重新提交。\n\n\
         项目：{{ project_code }} {{ project_name }}\n\
         环节：{{ stage_title }}\n\
         截止时间：{{ due }}（{{ timezone }}）\n\n\
         评审意见与办理地址：{{ link }}\n",
    ),
    (
        "revision_requested.en",
        "[jixiao] Revision requested: {{ project_code }} {{ stage_title }} (due {{ due }})",
        "Dear {{ recipient }},\n\n\
         The review asks for a revision; please revise and submit again.\n\n\
         Project: {{ project_code }} {{ project_name }}\n\
         Stage: {{ stage_title }}\n\
         Due: {{ due }} ({{ timezone }})\n\n\
         The review's opinions and the task: {{ link }}\n",
    ),
    (
        "decision.zh",
        "【预算绩效管理】评审结果：{{ project_code }} {{ stage_title }} {{ outcome_label }}",
        "{{ recipient }}，您好：\n\n\
         项目：{{ project_code }} {{ project_name }}\n\
         环节：{{ stage_title }}\n\
         结果：{{ outcome_label }}（得分 {{ score }}，等级 {{ grade }}）\n\n\
         详情：{{ link }}\n",
    ),
    (
        "decision.en",
        "[jixiao] Decision: {{ project_code }} {{ stage_title }}: {{ outcome_label }}",
        "Dear {{ recipient }},\n\n\
         Project: {{ project_code }} {{ project_name }}\n\
         Stage: {{ stage_title }}\n\
         Decision: {{ outcome_label }} (score {{ score }}, grade {{ grade }})\n\n\
         Details: {{ link }}\n",
    ),
    (
        "action_approved.zh",
        "【预算绩效管理】评价结果应用：{{ project_code }} {{ action_label }}",
        "{{ recipient }}，您好：\n\n\
         财政部门已批准以下结果应用措施。\n\n\
         项目：{{ project_code }} {{ project_name }}\n\
         措施：{{ action_label }}\n\
         金额（元）：{{ amount }}\n\
         整改截止：{{ deadline }}\n\n\
         详情：{{ link }}\n",
    ),
    (
        "action_approved.en",
        "[jixiao] Result action approved: {{ project_code }} {{ action_label }}",
        "Dear {{ recipient }},\n\n\
         The finance bureau approved this action on the evaluation result.\n\n\
         Project: {{ project_code }} {{ project_name }}\n\
         Action: {{ action_label }}\n\
         Amount (yuan): {{ amount }}\n\
         Rectify by: {{ deadline }}\n\n\
         Details: {{ link }}\n",
    ),
    (
        "red_light.zh",
        "【预算绩效管理】运行监控红灯预警：{{ count }} 个项目",
        "{{ recipient }}，您好：\n\n\
         本次{{ stage_title }}中，贵单位以下 {{ count }} 个项目亮红灯，请分析原因并及时纠偏。\n\n\
         {% for p in projects %}- {{ p.code }} {{ p.name }}{% if p.cause %}：{{ p.cause }}{% endif %}\n{% endfor %}\n\
         查看：{{ link }}\n",
    ),
    (
        "red_light.en",
        "[jixiao] Monitoring: {{ count }} project(s) on red",
        "Dear {{ recipient }},\n\n\
         In this run of {{ stage_title }}, {{ count }} of your projects are on red; please look \
         into the causes and correct course.\n\n\
         {% for p in projects %}- {{ p.code }} {{ p.name }}{% if p.cause %}: {{ p.cause }}{% endif %}\n{% endfor %}\n\
         View them here: {{ link }}\n",
    ),
    (
        "digest.zh",
        "【预算绩效管理】每日汇总（{{ day }}）：待办 {{ total }} 项{% if overdue %}，逾期 {{ overdue }} 项{% endif %}",
        "{{ recipient }}，您好：\n\n\
         截至 {{ day }}，您有 {{ total }} 项待办事项{% if overdue %}，其中 {{ overdue }} 项已逾期{% endif %}。\n\n\
         {% for t in tasks %}- {% if t.overdue %}【已逾期】{% endif %}{{ t.project_code }} {{ t.project_name }}｜{{ t.stage_title }}｜{{ t.task_label }}｜截止 {{ t.due }}\n  {{ t.link }}\n{% endfor %}\
         {% if more_tasks %}另有 {{ more_tasks }} 项，请登录系统查看。\n{% endif %}\
         {% if news %}\n近期消息：\n{% for n in news %}- {{ n.subject }}\n{% endfor %}{% if more_news %}另有 {{ more_news }} 条。\n{% endif %}{% endif %}\n\
         时间均为 {{ timezone }}。您选择了每日汇总邮件，如需逐项通知，可在个人设置中更改。\n",
    ),
    (
        "digest.en",
        "[jixiao] Daily digest ({{ day }}): {{ total }} open task(s){% if overdue %}, {{ overdue }} overdue{% endif %}",
        "Dear {{ recipient }},\n\n\
         As of {{ day }} you have {{ total }} open task(s){% if overdue %}, {{ overdue }} of them overdue{% endif %}.\n\n\
         {% for t in tasks %}- {% if t.overdue %}[OVERDUE] {% endif %}{{ t.project_code }} {{ t.project_name }} | {{ t.stage_title }} | {{ t.task_label }} | due {{ t.due }}\n  {{ t.link }}\n{% endfor %}\
         {% if more_tasks %}And {{ more_tasks }} more; open jixiao to see them all.\n{% endif %}\
         {% if news %}\nNews:\n{% for n in news %}- {{ n.subject }}\n{% endfor %}{% if more_news %}And {{ more_news }} more.\n{% endif %}{% endif %}\n\
         Times are in {{ timezone }}. You chose one digest a day; you can ask for one mail per event in your settings.\n",
    ),
];

/// What a template is rendered with at start-up, to prove it renders.
fn sample_context() -> Value {
    json!({
        "recipient": "张三", "project_code": "XY2023-D001-0001", "project_name": "基本公共卫生服务项目",
        "stage_title": "绩效目标申报与审核", "task_label": "申报绩效目标", "due": "2023-03-14 18:00",
        "timezone": "Asia/Shanghai", "link": "http://127.0.0.1:8080/tasks/1", "outcome_label": "通过",
        "score": "85.50", "grade": "良", "action_label": "整改", "amount": "—", "deadline": "2024-03-29 23:59",
        "count": 1, "projects": [{"code": "XY2023-D001-0001", "name": "基本公共卫生服务项目", "cause": "经费保障"}],
        "day": "2023-03-13", "total": 2, "overdue": 1, "more_tasks": 0, "more_news": 1,
        "tasks": [{"project_code": "XY2023-D001-0001", "project_name": "基本公共卫生服务项目", "stage_title": "绩效目标申报与审核",
                   "task_label": "申报绩效目标", "due": "2023-03-14 18:00", "overdue": true, "link": "http://127.0.0.1:8080/tasks/1"}],
        "news": [{"subject": "【预算绩效管理】评审结果：XY2023-D001-0001 绩效目标审核 通过"}],
    })
}

/// The compiled mail templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles every template and renders it with a sample; any failure names the template.
    pub fn load() -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        // A misspelt variable is an error, not an empty string in a sent mail.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        for (name, subject, body) in TEMPLATES {
            env.add_template(Box::leak(format!("{name}.subject").into_boxed_str()), subject)
                .map_err(|e| anyhow::anyhow!("mail template {name}.subject: {e}"))?;
            env.add_template(Box::leak(format!("{name}.body").into_boxed_str()), body)
                .map_err(|e| anyhow::anyhow!("mail template {name}.body: {e}"))?;
        }
        let t = Templates { env };
        for (name, ..) in TEMPLATES {
            let (kind, lang) = name.split_once('.').unwrap_or((name, "zh"));
            t.render(kind, lang, &sample_context()).map_err(|e| anyhow::anyhow!("mail template {name}: {e}"))?;
        }
        Ok(t)
    }

    /// Renders a mail's subject and body in `language` (Chinese when the language has no
    /// template).
    pub fn render(&self, kind: &str, language: &str, ctx: &Value) -> anyhow::Result<(String, String)> {
        let lang = if TEMPLATES.iter().any(|(n, ..)| *n == format!("{kind}.{language}")) { language } else { "zh" };
        let subject = self.env.get_template(&format!("{kind}.{lang}.subject"))?.render(ctx)?;
        let body = self.env.get_template(&format!("{kind}.{lang}.body"))?.render(ctx)?;
        Ok((subject.trim().to_string(), body))
    }
}

/// The TLS mode `url` asks for (TLS from the start with `smtps://`, STARTTLS with
/// `?tls=required` or `?tls=opportunistic`), with the server's certificate checked against the
/// CA in `ca_file` as well as the public roots.
fn private_ca_tls(url: &str, ca_file: &Path) -> anyhow::Result<Tls> {
    let pem = std::fs::read(ca_file).map_err(|e| anyhow::anyhow!("smtp_ca_file {}: {e}", ca_file.display()))?;
    let has_cert = pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----");
    let cert = Certificate::from_pem(&pem).ok().filter(|_| has_cert).ok_or_else(|| {
        anyhow::anyhow!(
            "smtp_ca_file {}: not a PEM certificate (expected -----BEGIN CERTIFICATE----- …)",
            ca_file.display()
        )
    })?;
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let params = TlsParameters::builder(host.to_string())
        .add_root_certificate(cert)
        .build_rustls()
        .map_err(|e| anyhow::anyhow!("smtp_ca_file {}: {e}", ca_file.display()))?;
    let query = rest.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let tls = query.split('&').find_map(|kv| kv.strip_prefix("tls="));
    match (scheme, tls) {
        ("smtps", _) => Ok(Tls::Wrapper(params)),
        (_, Some("required")) => Ok(Tls::Required(params)),
        (_, Some("opportunistic")) => Ok(Tls::Opportunistic(params)),
        _ => anyhow::bail!(
            "smtp_ca_file is set but smtp_url asks for no TLS (expected smtps://… or smtp://…?tls=required)"
        ),
    }
}

/// Where mail goes.
#[derive(Debug)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder.
    Files(PathBuf),
}

/// Why a mail was not delivered.
#[derive(Debug)]
pub enum SendError {
    /// Worth trying again later (a 4xx reply, a connection that failed).
    Temporary(String),
    /// Trying again will not help (a 5xx reply, a malformed address).
    Permanent(String),
}

impl Transport {
    /// The transport `smtp_url` names (with `ca_file` trusted besides the public roots), or
    /// `.eml` files in `mail_dir` without one.
    pub fn from_settings(
        smtp_url: Option<&str>,
        ca_file: Option<&Path>,
        mail_dir: PathBuf,
    ) -> anyhow::Result<Transport> {
        match smtp_url {
            Some(url) => {
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?
                    .timeout(Some(Duration::from_secs(30)));
                if let Some(ca) = ca_file {
                    builder = builder.tls(private_ca_tls(url, ca)?);
                }
                Ok(Transport::Smtp(builder.build()))
            }
            None => {
                std::fs::create_dir_all(&mail_dir)
                    .map_err(|e| anyhow::anyhow!("mail_dir {}: {e}", mail_dir.display()))?;
                Ok(Transport::Files(mail_dir))
            }
        }
    }

    async fn send(&self, msg: Message, file_name: &str) -> Result<(), SendError> {
        match self {
            Transport::Smtp(t) => match t.send(msg).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Temporary(e.to_string())),
            },
            Transport::Files(dir) => {
                // Written whole, then renamed, so a reader never sees half a message.
                let tmp = dir.join(format!(".{file_name}.tmp"));
                let path = dir.join(file_name);
                // Mail holds names and tasks: readable by the server's user only (0600).
                let (file, body) = (tmp.clone(), msg.formatted());
                tokio::task::spawn_blocking(move || {
                    use std::io::Write;
                    let mut options = std::fs::OpenOptions::new();
                    options.write(true).create(true).truncate(true);
                    #[cfg(unix)]
                    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                    options.open(&file)?.write_all(&body)
                })
                .await
                .map_err(|e| SendError::Temporary(e.to_string()))?
                .map_err(|e| SendError::Temporary(e.to_string()))?;
                tokio::fs::rename(&tmp, &path).await.map_err(|e| SendError::Temporary(e.to_string()))
            }
        }
    }
}

/// The Message-ID of an outbox row: the same on every attempt, so a receiver can drop a
/// duplicate delivered after a crash between the server's acceptance and our record of it.
pub fn message_id(row: &OutboxRow, from: &str) -> String {
    let domain = from.rsplit_once('@').map(|(_, d)| d.trim_end_matches('>')).unwrap_or("jixiao.local");
    format!("<outbox.{}.{}@{domain}>", row.id, row.created_ms)
}

/// What a task asks for, in the mail's language.
fn task_label(form: &str, language: &str) -> &'static str {
    let (zh, en) = match form {
        "ex_ante_report" => ("提交事前绩效评估材料", "submit the ex-ante assessment report"),
        "targets" => ("申报绩效目标", "declare the performance targets"),
        "monitoring" => ("填报绩效运行监控", "report the monitoring figures"),
        "self_evaluation" => ("填报或复核绩效自评", "fill in or re-score the self-evaluation"),
        "ex_ante_assessment" => ("评审事前绩效评估", "review the ex-ante assessment"),
        "target_review" => ("审核绩效目标", "review the performance targets"),
        "result_application" => ("审批评价结果应用", "approve the result actions"),
        "disclosure" => ("审批信息公开", "approve the disclosure"),
        "rectification" => ("报送整改情况", "report the rectification"),
        _ => ("办理待办事项", "complete the task"),
    };
    if language == "en" { en } else { zh }
}

/// The stored context with what the templates show: the stage's title, the deadline in the
/// workflow's time zone, what to do and the link.
async fn render_context(rt: &Runtime, ctx: &Value, language: &str) -> Value {
    let mut out = ctx.clone();
    let stage = ctx["stage"].as_str().unwrap_or_default().to_string();
    let wf = match (ctx["workflow_id"].as_str(), ctx["workflow_version"].as_i64()) {
        (Some(w), Some(v)) => rt.store.workflow(&rt.registry, w, v as u32).await.ok(),
        _ => None,
    };
    let tz = wf.as_ref().map(|w| w.timezone).unwrap_or(chrono_tz::Asia::Shanghai);
    let title = wf.as_ref().and_then(|w| w.stages.iter().find(|s| s.id == stage)).map(|s| s.title.clone());
    out["stage_title"] = title.unwrap_or(stage).into();
    out["timezone"] = tz.name().into();
    out["due"] = ctx["due_ms"]
        .as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
        .into();
    out["task_label"] = task_label(ctx["form"].as_str().unwrap_or_default(), language).into();
    out["link"] = match (ctx["task_id"].as_i64(), ctx["case_id"].as_i64()) {
        // Links open pages (a person's browser gets a page, where the API would answer 401).
        (Some(t), _) if t > 0 => format!("{}/tasks/{t}", rt.settings.public_url),
        (_, Some(c)) if c > 0 => format!("{}/cases/{c}", rt.settings.public_url),
        _ => format!("{}/", rt.settings.public_url),
    }
    .into();
    let en = language == "en";
    let outcome = match (ctx["outcome"].as_str().unwrap_or_default(), en) {
        ("next", false) => "通过",
        ("next", true) => "passed",
        ("revise", false) => "修改后重新提交",
        ("revise", true) => "revise and submit again",
        ("reject", false) => "不予通过",
        ("reject", true) => "not passed",
        (_, false) => "已决定",
        (_, true) => "decided",
    };
    out["outcome_label"] = outcome.into();
    let action = match (ctx["action"].as_str().unwrap_or_default(), en) {
        ("commend", false) => "通报表扬",
        ("keep", false) => "保持支持",
        ("rectify", false) => "限期整改",
        ("cut", false) => "核减预算",
        ("suspend", false) => "暂缓拨付",
        ("recover", false) => "收回资金",
        ("cancel", false) => "取消项目",
        ("commend", true) => "commendation",
        ("keep", true) => "funding kept",
        ("rectify", true) => "rectification by a deadline",
        ("cut", true) => "budget cut",
        ("suspend", true) => "disbursement suspended",
        ("recover", true) => "idle funds recovered",
        ("cancel", true) => "project cancelled",
        (_, false) => "结果应用",
        (_, true) => "result action",
    };
    out["action_label"] = action.into();
    let dash = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| "—".into());
    out["score"] = dash(&ctx["score"]).into();
    out["grade"] = dash(&ctx["grade"]).into();
    out["amount"] = dash(&ctx["amount"]).into();
    out["deadline"] = ctx["deadline_ms"]
        .as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "—".into())
        .into();
    out
}

/// Attempts before a temporary failure is given up.
const MAX_ATTEMPTS: i64 = 8;

/// The wait before attempt `attempts + 1`: 1, 2, 4, … minutes, at most 4 hours.
fn backoff_ms(attempts: i64) -> i64 {
    (60_000i64 << attempts.clamp(0, 8)).min(4 * 3_600_000)
}

/// The most tasks and news items one digest lists; the rest are counted.
const DIGEST_ITEMS: i64 = 50;

/// How a task is shown to a person (in a digest, on the inbox page): its stage's title, its
/// deadline in the workflow's time zone, what to do and the link, as `render_context` gives them.
pub async fn describe_task(rt: &Runtime, t: &crate::store::outbox::DigestTask, language: &str) -> Value {
    let ctx = json!({
        "stage": t.stage, "form": t.form, "due_ms": t.due_ms, "task_id": t.id, "case_id": t.case_id,
        "workflow_id": t.workflow_id, "workflow_version": t.workflow_version,
    });
    render_context(rt, &ctx, language).await
}

/// The context of a digest: the recipient's open tasks, soonest first, and the mail folded
/// for them since the last digest. `None` when there is nothing to report. The second value
/// is the last folded row the digest accounts for.
async fn digest_context(rt: &Runtime, row: &OutboxRow) -> anyhow::Result<Option<(Value, i64)>> {
    let Some(user_id) = row.user_id else { return Ok(None) };
    let user = rt.store.user(user_id).await?;
    let now = rt.clock.now_ms();
    let up_to = rt.store.outbox_last_id(user_id).await?;
    let (tasks, total, overdue) = rt.store.digest_tasks(&user, now, DIGEST_ITEMS).await?;
    let (news, news_total) = rt.store.digest_news(user_id, DIGEST_ITEMS).await?;
    if total == 0 && news_total == 0 {
        return Ok(None);
    }
    let mut items = Vec::with_capacity(tasks.len());
    for t in &tasks {
        let shown = describe_task(rt, t, &row.language).await;
        items.push(json!({
            "project_code": t.project_code, "project_name": t.project_name, "stage_title": shown["stage_title"],
            "task_label": shown["task_label"], "due": shown["due"], "overdue": t.due_ms < now, "link": shown["link"],
        }));
    }
    let mut subjects = Vec::with_capacity(news.len());
    for n in &news {
        let ctx: Value = serde_json::from_str(&n.context).unwrap_or(Value::Null);
        let shown = render_context(rt, &ctx, &row.language).await;
        if let Ok((subject, _)) = rt.templates.render(&n.kind, &row.language, &shown) {
            subjects.push(json!({ "subject": subject }));
        }
    }
    let stored: Value = serde_json::from_str(&row.context).unwrap_or(Value::Null);
    let context = json!({
        "recipient": user.display_name, "day": stored["day"], "timezone": BUREAU_TZ.name(),
        "total": total, "overdue": overdue, "tasks": items, "more_tasks": total - tasks.len() as i64,
        "news": subjects, "more_news": news_total - news.len() as i64,
    });
    Ok(Some((context, up_to)))
}

/// The bureau's time zone, for the digest's day and time.
const BUREAU_TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// Queues today's digests once the digest time has passed (once per process per day; the
/// database keeps it to one per user and day across processes). Returns the day handled.
async fn queue_digests(rt: &Runtime, done: Option<chrono::NaiveDate>) -> anyhow::Result<Option<chrono::NaiveDate>> {
    let now = rt.clock.now_ms();
    let Some(local) = chrono::DateTime::from_timestamp_millis(now).map(|t| t.with_timezone(&BUREAU_TZ)) else {
        return Ok(done);
    };
    let day = local.date_naive();
    if done == Some(day) || local.time() < rt.settings.digest_time {
        return Ok(done);
    }
    let n = rt.store.queue_digests(&day.format("%Y-%m-%d").to_string(), now, now).await?;
    if n > 0 {
        tracing::info!(digests = n, %day, "queued the daily digests");
    }
    Ok(Some(day))
}

/// Delivers the due rows once. Returns how many were handled.
pub async fn deliver_due(rt: &Runtime, worker: &str) -> anyhow::Result<usize> {
    let now = rt.clock.now_ms();
    let rows = rt.store.claim_outbox(worker, now, 20).await?;
    for row in &rows {
        if rt.store.outbox_screen(row.id, worker, now).await? != Screen::Send {
            continue;
        }
        let (ctx, reported) = if row.kind == "digest" {
            match digest_context(rt, row).await? {
                Some((ctx, up_to)) => (ctx, Some(up_to)),
                None => {
                    rt.store.outbox_cancel(row.id, worker, "nothing to report", now).await?;
                    continue;
                }
            }
        } else {
            let ctx: Value = serde_json::from_str(&row.context).unwrap_or(Value::Null);
            (render_context(rt, &ctx, &row.language).await, None)
        };
        let from: Mailbox = rt.settings.mail_from.parse()?;
        let id = message_id(row, &rt.settings.mail_from);
        let rendered = rt.templates.render(&row.kind, &row.language, &ctx);
        let built = rendered.map_err(|e| e.to_string()).and_then(|(subject, body)| {
            let to: Mailbox = row.to_addr.parse().map_err(|e| format!("recipient '{}': {e}", row.to_addr))?;
            Message::builder()
                .from(from.clone())
                .to(to)
                .subject(subject.clone())
                .message_id(Some(id.clone()))
                .header(ContentType::TEXT_PLAIN)
                .body(body)
                .map(|m| (m, subject))
                .map_err(|e| e.to_string())
        });
        let (msg, subject) = match built {
            Ok(x) => x,
            Err(e) => {
                rt.store.outbox_failed(row.id, worker, &e).await?;
                continue;
            }
        };
        match rt.mail.send(msg, &format!("{:08}.eml", row.id)).await {
            Ok(()) => {
                rt.store.outbox_sent(row.id, worker, &id, &subject, rt.clock.now_ms()).await?;
                if let (Some(up_to), Some(user_id)) = (reported, row.user_id) {
                    rt.store.digest_reported(user_id, row.id, up_to).await?;
                }
            }
            Err(SendError::Permanent(e)) => rt.store.outbox_failed(row.id, worker, &e).await?,
            Err(SendError::Temporary(e)) if row.attempts + 1 >= MAX_ATTEMPTS => {
                rt.store.outbox_failed(row.id, worker, &format!("gave up after {MAX_ATTEMPTS} attempts: {e}")).await?
            }
            Err(SendError::Temporary(e)) => {
                rt.store.outbox_retry(row.id, worker, &e, now + backoff_ms(row.attempts)).await?
            }
        }
    }
    Ok(rows.len())
}

/// Delivers the outbox until `shutdown` turns true: at once when there is more, else every
/// second (or when the clock moves). Queues the daily digests when their time comes.
pub async fn run_mailer(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let worker = format!("{}-{}", std::process::id(), &crate::store::people::new_token()[3..15]);
    let mut digest_day = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match queue_digests(&rt, digest_day).await {
            Ok(day) => digest_day = day,
            Err(e) => tracing::warn!(error = %e, "queueing the daily digests failed; retrying"),
        }
        let more = match deliver_due(&rt, &worker).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!(error = %e, "delivering mail failed; retrying");
                false
            }
        };
        if more {
            continue;
        }
        crate::queue::tick(&rt, &mut shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_and_a_broken_one_is_refused() {
        let t = Templates::load().expect("the shipped templates");
        let (subject, body) = t.render("task_assigned", "zh", &sample_context()).unwrap();
        assert!(subject.contains("XY2023-D001-0001") && subject.contains("2023-03-14 18:00"), "{subject}");
        assert!(body.contains("http://127.0.0.1:8080/tasks/1"), "{body}");
        let (subject, _) = t.render("task_assigned", "en", &sample_context()).unwrap();
        assert!(subject.starts_with("[jixiao] To do"), "{subject}");
        // A language without templates falls back to Chinese.
        let (subject, _) = t.render("task_assigned", "fr", &sample_context()).unwrap();
        assert!(subject.starts_with("【预算绩效管理】"), "{subject}");
        // A missing variable is an error, not a blank in a sent mail.
        let mut ctx = sample_context();
        ctx.as_object_mut().unwrap().remove("due");
        assert!(t.render("task_assigned", "zh", &ctx).is_err());
    }

    #[test]
    fn a_private_ca_keeps_the_tls_mode_of_the_url() {
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail-ca.pem");
        assert!(matches!(private_ca_tls("smtps://u:p%40ss@127.0.0.1:465", &ca), Ok(Tls::Wrapper(_))));
        assert!(matches!(private_ca_tls("smtp://mail.example.org:587?tls=required", &ca), Ok(Tls::Required(_))));
        assert!(matches!(private_ca_tls("smtp://[::1]:25?tls=opportunistic", &ca), Ok(Tls::Opportunistic(_))));
        let plain = private_ca_tls("smtp://mail.example.org:25", &ca).err().map(|e| e.to_string());
        assert!(plain.is_some_and(|e| e.contains("asks for no TLS")));
        let not_pem = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let e = private_ca_tls("smtps://mail.example.org", &not_pem).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("not a PEM certificate")), "a file that is no certificate is refused");
    }

    #[test]
    fn backoff_doubles_up_to_four_hours() {
        assert_eq!(backoff_ms(0), 60_000);
        assert_eq!(backoff_ms(3), 480_000);
        assert_eq!(backoff_ms(20), 4 * 3_600_000);
    }
}
