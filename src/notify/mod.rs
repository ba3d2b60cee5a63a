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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::app::Runtime;
use crate::store::outbox::OutboxRow;

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
];

/// What a template is rendered with at start-up, to prove it renders.
fn sample_context() -> Value {
    json!({
        "recipient": "张三", "project_code": "XY2023-D001-0001", "project_name": "基本公共卫生服务项目",
        "stage_title": "绩效目标申报与审核", "task_label": "申报绩效目标", "due": "2023-03-14 18:00",
        "timezone": "Asia/Shanghai", "link": "http://127.0.0.1:8080/tasks/1", "outcome_label": "通过",
        "score": "85.50", "grade": "良", "action_label": "整改", "amount": "—", "deadline": "2024-03-29 23:59",
        "count": 1, "projects": [{"code": "XY2023-D001-0001", "name": "基本公共卫生服务项目", "cause": "经费保障"}],
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
    pub fn from_settings(smtp_url: Option<&str>, mail_dir: PathBuf) -> anyhow::Result<Transport> {
        match smtp_url {
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            )),
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
                tokio::fs::write(&tmp, msg.formatted()).await.map_err(|e| SendError::Temporary(e.to_string()))?;
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
        (Some(t), _) if t > 0 => format!("{}/api/v1/tasks/{t}", rt.settings.public_url),
        (_, Some(c)) if c > 0 => format!("{}/api/v1/cases/{c}", rt.settings.public_url),
        _ => format!("{}/api/v1/cases", rt.settings.public_url),
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

/// Delivers the due rows once. Returns how many were handled.
pub async fn deliver_due(rt: &Runtime, worker: &str) -> anyhow::Result<usize> {
    let now = rt.clock.now_ms();
    let rows = rt.store.claim_outbox(worker, now, 20).await?;
    for row in &rows {
        if rt.store.outbox_drop_if_done(row.id, worker, now).await? {
            continue;
        }
        let from: Mailbox = rt.settings.mail_from.parse()?;
        let id = message_id(row, &rt.settings.mail_from);
        let ctx: Value = serde_json::from_str(&row.context).unwrap_or(Value::Null);
        let ctx = render_context(rt, &ctx, &row.language).await;
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
                rt.store.outbox_failed(row.id, worker, &e, now).await?;
                continue;
            }
        };
        match rt.mail.send(msg, &format!("{:08}.eml", row.id)).await {
            Ok(()) => rt.store.outbox_sent(row.id, worker, &id, &subject, rt.clock.now_ms()).await?,
            Err(SendError::Permanent(e)) => rt.store.outbox_failed(row.id, worker, &e, now).await?,
            Err(SendError::Temporary(e)) if row.attempts + 1 >= MAX_ATTEMPTS => {
                rt.store
                    .outbox_failed(row.id, worker, &format!("gave up after {MAX_ATTEMPTS} attempts: {e}"), now)
                    .await?
            }
            Err(SendError::Temporary(e)) => {
                rt.store.outbox_retry(row.id, worker, &e, now + backoff_ms(row.attempts), now).await?
            }
        }
    }
    Ok(rows.len())
}

/// Delivers the outbox until `shutdown` turns true: at once when there is more, else every
/// second (or when the clock moves).
pub async fn run_mailer(rt: Arc<Runtime>, mut shutdown: watch::Receiver<bool>) {
    let worker = format!("{}-{}", std::process::id(), &crate::store::people::new_token()[3..15]);
    loop {
        if *shutdown.borrow() {
            return;
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
    fn backoff_doubles_up_to_four_hours() {
        assert_eq!(backoff_ms(0), 60_000);
        assert_eq!(backoff_ms(3), 480_000);
        assert_eq!(backoff_ms(20), 4 * 3_600_000);
    }
}
