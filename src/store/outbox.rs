//! The mail outbox: rows written in the transaction of the change that causes them, claimed by
//! one mailer at a time and marked sent, retried or failed (`notify` delivers them).

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::people::User;
use super::{Result, Store};

/// A claimed row, as the mailer renders and sends it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub to_addr: String,
    pub language: String,
    pub context: String,
    pub attempts: i64,
    pub created_ms: i64,
}

/// A row as the API lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboxEntry {
    pub id: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub to_addr: String,
    pub language: String,
    pub subject: Option<String>,
    pub case_id: Option<i64>,
    pub task_id: Option<i64>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
    pub created_ms: i64,
    pub sent_ms: Option<i64>,
}

/// What the mailer does with a claimed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Send,
    /// A notice whose task was finished: cancelled.
    Dropped,
    /// Kept for the recipient's daily digest.
    Folded,
}

/// An open task as a digest lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DigestTask {
    pub id: i64,
    pub case_id: i64,
    pub stage: String,
    pub form: String,
    pub due_ms: i64,
    pub project_code: String,
    pub project_name: String,
    pub workflow_id: String,
    pub workflow_version: i64,
}

/// A claim older than this is taken to belong to a mailer that stopped mid-send.
const STALE_CLAIM_MS: i64 = 10 * 60_000;

/// A task as its mail describes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskMail<'a> {
    pub task_id: i64,
    pub case_id: i64,
    pub stage: &'a str,
    /// A submission task after the first round asks for a revision.
    pub round: u32,
    pub kind: &'a str,
    pub form: &'a str,
    pub role: &'a str,
    pub department_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub due_ms: i64,
}

/// A mail a task sends later if it is still open then: a reminder, the overdue notice, or an
/// escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub kind: &'static str,
    pub at_ms: i64,
    pub to: Audience,
}

/// Who a task's notice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Whoever must act on the task.
    Task,
    /// The head of the task's department: the first escalation step.
    Head,
    /// The bureau (finance users): the last escalation step. When there is no head to tell
    /// (not a department's task, or a department without a head's account), the bureau is
    /// told at the head's time instead.
    Bureau,
}

/// Who a mail goes to.
#[derive(Debug, Clone, Copy)]
enum To<'a> {
    /// Whoever must act on a task: its assignee, or every user of its department (department
    /// tasks) or of its role (bureau tasks).
    Task(&'a TaskMail<'a>),
    /// Every user of a department.
    Department(i64),
    /// The heads of a department.
    Head(i64),
    /// The bureau: the finance users.
    Bureau,
}

/// A recipient: (user id, name, address, language).
type Person = (i64, String, String, String);

/// The active users with an address a mail goes to.
async fn recipients(conn: &mut AnyConnection, to: To<'_>) -> Result<Vec<Person>> {
    const COLS: &str = "SELECT id, display_name, email, language FROM users WHERE active = 1 AND email <> ''";
    let department = |d: i64| {
        sqlx::query_as(super::sql(format!("{COLS} AND department_id = $1 AND role = 'department' ORDER BY id"))).bind(d)
    };
    let q = match to {
        To::Bureau => sqlx::query_as(super::sql(format!("{COLS} AND role = 'finance' ORDER BY id"))),
        To::Department(d) => department(d),
        To::Head(d) => sqlx::query_as(super::sql(format!(
            "{COLS} AND department_id = $1 AND role = 'department' AND department_head = 1 ORDER BY id"
        )))
        .bind(d),
        To::Task(t) => match (t.assignee_id, t.department_id, t.role) {
            (Some(u), ..) => sqlx::query_as(super::sql(format!("{COLS} AND id = $1"))).bind(u),
            (None, Some(d), "department") => department(d),
            (None, _, r) => sqlx::query_as(super::sql(format!("{COLS} AND role = $1 ORDER BY id"))).bind(r.to_string()),
        },
    };
    Ok(q.fetch_all(&mut *conn).await?)
}

/// What every mail about a case shows: the project and the workflow version it is in.
async fn case_context(conn: &mut AnyConnection, case_id: i64, stage: &str) -> Result<Value> {
    let (code, name, workflow_id, version): (String, String, String, i64) = sqlx::query_as(
        "SELECT p.code, p.name, c.workflow_id, c.workflow_version FROM cases c JOIN projects p ON p.id = c.project_id WHERE c.id = $1",
    )
    .bind(case_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(json!({
        "project_code": code, "project_name": name, "stage": stage, "case_id": case_id,
        "workflow_id": workflow_id, "workflow_version": version,
    }))
}

/// Queues `kind` to each recipient, due at `at_ms`, with `context` and the recipient's name.
async fn insert_mail(
    conn: &mut AnyConnection,
    kind: &str,
    people: &[Person],
    context: &Value,
    case_id: Option<i64>,
    task_id: Option<i64>,
    at_ms: i64,
    now_ms: i64,
) -> Result<()> {
    for (user_id, display_name, email, language) in people {
        let user_id = *user_id;
        let mut ctx = context.clone();
        ctx["recipient"] = display_name.clone().into();
        sqlx::query(
            "INSERT INTO outbox (kind, user_id, to_addr, language, context, case_id, task_id, status, next_attempt_ms, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9)",
        )
        .bind(kind)
        .bind(user_id)
        .bind(format!("{display_name} <{email}>"))
        .bind(language)
        .bind(ctx.to_string())
        .bind(case_id)
        .bind(task_id)
        .bind(at_ms)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Queues the mail of a task just opened: "task assigned" now to whoever must act, and its
/// later notices (sent only if the task is still open when they are due). Users without an
/// address get none. Each audience is looked up once.
pub(crate) async fn task_opened(
    conn: &mut AnyConnection,
    t: &TaskMail<'_>,
    now_ms: i64,
    notices: &[Notice],
) -> Result<()> {
    let first = if t.kind == "submission" && t.round > 0 { "revision_requested" } else { "task_assigned" };
    let actors = recipients(conn, To::Task(t)).await?;
    let heads = match (t.department_id, notices.iter().any(|n| n.to == Audience::Head)) {
        (Some(d), true) if t.role == "department" => recipients(conn, To::Head(d)).await?,
        _ => Vec::new(),
    };
    let bureau =
        if notices.iter().any(|n| n.to == Audience::Bureau) { recipients(conn, To::Bureau).await? } else { Vec::new() };
    // With nobody to tell at the head's step, the bureau is told then.
    let head_at = notices.iter().find(|n| n.to == Audience::Head).map(|n| n.at_ms);
    let mut context: Option<Value> = None;
    let now = Notice { kind: first, at_ms: now_ms, to: Audience::Task };
    for n in std::iter::once(&now).chain(notices) {
        let (people, at_ms) = match n.to {
            Audience::Task => (&actors, n.at_ms),
            Audience::Head => (&heads, n.at_ms),
            Audience::Bureau if heads.is_empty() => (&bureau, head_at.unwrap_or(n.at_ms)),
            Audience::Bureau => (&bureau, n.at_ms),
        };
        if people.is_empty() {
            continue;
        }
        if context.is_none() {
            let mut c = case_context(conn, t.case_id, t.stage).await?;
            c["form"] = t.form.into();
            c["task_id"] = t.task_id.into();
            c["due_ms"] = t.due_ms.into();
            context = Some(c);
        }
        if let Some(c) = &context {
            let mut c = c.clone();
            c["escalated_to"] = if n.to == Audience::Head { "head" } else { "bureau" }.into();
            insert_mail(conn, n.kind, people, &c, Some(t.case_id), Some(t.task_id), at_ms, now_ms).await?;
        }
    }
    Ok(())
}

/// Queues a mail about a case to its department's users (a decision, an approved action):
/// `extra` adds what the template shows.
pub(crate) async fn case_mail(
    conn: &mut AnyConnection,
    case_id: i64,
    department_id: i64,
    stage: &str,
    kind: &str,
    extra: Value,
    now_ms: i64,
) -> Result<()> {
    let people = recipients(conn, To::Department(department_id)).await?;
    if people.is_empty() {
        return Ok(());
    }
    let mut context = case_context(conn, case_id, stage).await?;
    if let (Some(c), Some(e)) = (context.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    insert_mail(conn, kind, &people, &context, Some(case_id), None, now_ms, now_ms).await
}

/// Queues a mail to every user of a department with an address (a run's red lights).
pub(crate) async fn department_mail(
    conn: &mut AnyConnection,
    department_id: i64,
    kind: &str,
    context: Value,
    now_ms: i64,
) -> Result<()> {
    let people = recipients(conn, To::Department(department_id)).await?;
    insert_mail(conn, kind, &people, &context, None, None, now_ms, now_ms).await
}

impl Store {
    /// Claims up to `limit` rows that are due (or whose claim went stale) for `worker`.
    pub async fn claim_outbox(&self, worker: &str, now_ms: i64, limit: i64) -> Result<Vec<OutboxRow>> {
        let mut tx = self.write().await?;
        // The condition is repeated outside the subquery so that PostgreSQL, having waited for
        // a row another mailer claimed, checks it again and skips it.
        sqlx::query(
            "UPDATE outbox SET status = 'sending', claimed_by = $1, claimed_ms = $2 WHERE id IN \
             (SELECT id FROM outbox WHERE (status = 'queued' AND next_attempt_ms <= $2) OR (status = 'sending' AND claimed_ms < $3) ORDER BY id LIMIT $4) \
             AND ((status = 'queued' AND next_attempt_ms <= $2) OR (status = 'sending' AND claimed_ms < $3))",
        )
        .bind(worker)
        .bind(now_ms)
        .bind(now_ms - STALE_CLAIM_MS)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT id, kind, user_id, to_addr, language, context, attempts, created_ms FROM outbox \
             WHERE status = 'sending' AND claimed_by = $1 AND claimed_ms = $2 ORDER BY id",
        )
        .bind(worker)
        .bind(now_ms)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Decides what becomes of a claimed row before it is sent. A notice whose task is no
    /// longer open (done, declined or closed) is dropped: reminders go only to people who still
    /// have something to do. A mail to a user who takes the daily digest is folded into it.
    pub async fn outbox_screen(&self, id: i64, worker: &str, now_ms: i64) -> Result<Screen> {
        let dropped = sqlx::query(
            "UPDATE outbox SET status = 'cancelled', sent_ms = $1, last_error = 'the task was no longer open' \
             WHERE id = $2 AND status = 'sending' AND claimed_by = $3 AND kind IN ('reminder', 'overdue', 'escalation') \
             AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = outbox.task_id AND t.status = 'open')",
        )
        .bind(now_ms)
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if dropped > 0 {
            return Ok(Screen::Dropped);
        }
        let folded = sqlx::query(
            "UPDATE outbox SET status = 'digested', sent_ms = $1 \
             WHERE id = $2 AND status = 'sending' AND claimed_by = $3 AND kind <> 'digest' \
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = outbox.user_id AND u.digest = 1)",
        )
        .bind(now_ms)
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(if folded > 0 { Screen::Folded } else { Screen::Send })
    }

    /// Queues the digest of `day` (the bureau's date, YYYY-MM-DD) for every active user who
    /// takes it and has an address, due at `at_ms`. A user gets at most one digest row per day,
    /// however many mailers queue it. Returns how many were queued now.
    pub async fn queue_digests(&self, day: &str, at_ms: i64, now_ms: i64) -> Result<u64> {
        let context = json!({ "day": day }).to_string();
        Ok(sqlx::query(
            "INSERT INTO outbox (kind, user_id, to_addr, language, context, status, next_attempt_ms, created_ms, digest_day) \
             SELECT 'digest', id, display_name || ' <' || email || '>', language, $1, 'queued', $2, $3, $4 \
             FROM users WHERE active = 1 AND digest = 1 AND email <> '' ON CONFLICT DO NOTHING",
        )
        .bind(context)
        .bind(at_ms)
        .bind(now_ms)
        .bind(day)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The open tasks `user` must act on, soonest deadline first (at most `limit`), with the
    /// number of them and of those past their deadline.
    pub async fn digest_tasks(&self, user: &User, now_ms: i64, limit: i64) -> Result<(Vec<DigestTask>, i64, i64)> {
        const MINE: &str = "t.status = 'open' AND (t.assignee_id = $1 \
             OR (t.assignee_id IS NULL AND t.role = 'department' AND t.department_id = $2) \
             OR (t.assignee_id IS NULL AND t.role <> 'department' AND t.role = $3))";
        let role = user.role.as_str();
        let department = user.department_id.unwrap_or(-1);
        let tasks: Vec<DigestTask> = sqlx::query_as(super::sql(format!(
            "SELECT t.id, t.case_id, t.stage, t.form, t.due_ms, p.code AS project_code, p.name AS project_name, \
             c.workflow_id, c.workflow_version FROM tasks t JOIN cases c ON c.id = t.case_id JOIN projects p ON p.id = c.project_id \
             WHERE {MINE} ORDER BY t.due_ms, t.id LIMIT $4"
        )))
        .bind(user.id)
        .bind(department)
        .bind(role)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let (total, overdue): (i64, Option<i64>) = sqlx::query_as(super::sql(format!(
            "SELECT COUNT(*), SUM(CASE WHEN t.due_ms < $4 THEN 1 ELSE 0 END) FROM tasks t WHERE {MINE}"
        )))
        .bind(user.id)
        .bind(department)
        .bind(role)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok((tasks, total, overdue.unwrap_or(0)))
    }

    /// The mail folded for `user_id` and not yet reported by a digest that a digest lists as
    /// news (oldest first, at most `limit`), and how many there are. Reminders and overdue
    /// notices are left out (the digest lists the open tasks with their deadlines), and so is
    /// an escalation whose task has been finished since.
    pub async fn digest_news(&self, user_id: i64, limit: i64) -> Result<(Vec<OutboxRow>, i64)> {
        const NEWS: &str = "user_id = $1 AND status = 'digested' AND digest_of IS NULL \
             AND kind IN ('revision_requested', 'decision', 'action_approved', 'red_light', 'escalation') \
             AND (kind <> 'escalation' OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = outbox.task_id AND t.status = 'open'))";
        let rows = sqlx::query_as(super::sql(format!(
            "SELECT id, kind, user_id, to_addr, language, context, attempts, created_ms FROM outbox WHERE {NEWS} ORDER BY id LIMIT $2"
        )))
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(super::sql(format!("SELECT COUNT(*) FROM outbox WHERE {NEWS}")))
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// Records that digest `digest_id` reported every row folded for `user_id` before it was
    /// rendered (ids up to `up_to`), so the next digest does not list them again.
    pub async fn digest_reported(&self, user_id: i64, digest_id: i64, up_to: i64) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET digest_of = $1 WHERE user_id = $2 AND status = 'digested' AND digest_of IS NULL AND id <= $3",
        )
        .bind(digest_id)
        .bind(user_id)
        .bind(up_to)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives up a claimed digest with nothing to report.
    pub async fn outbox_cancel(&self, id: i64, worker: &str, reason: &str, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'cancelled', sent_ms = $1, last_error = $2 WHERE id = $3 AND status = 'sending' AND claimed_by = $4",
        )
        .bind(now_ms)
        .bind(reason)
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest row folded for `user_id` (a digest reports the folded rows up to it).
    pub async fn outbox_last_id(&self, user_id: i64) -> Result<i64> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM outbox WHERE user_id = $1 AND status = 'digested'")
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(id.unwrap_or(0))
    }

    /// Marks a claimed row sent; a row is never sent twice by this mailer's hand.
    pub async fn outbox_sent(&self, id: i64, worker: &str, message_id: &str, subject: &str, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_ms = $1, message_id = $2, subject = $3, attempts = attempts + 1, last_error = NULL \
             WHERE id = $4 AND status = 'sending' AND claimed_by = $5",
        )
        .bind(now_ms)
        .bind(message_id)
        .bind(subject)
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Puts a claimed row back for another attempt at `next_ms`.
    pub async fn outbox_retry(&self, id: i64, worker: &str, error: &str, next_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'queued', attempts = attempts + 1, next_attempt_ms = $1, last_error = $2, claimed_by = NULL \
             WHERE id = $3 AND status = 'sending' AND claimed_by = $4",
        )
        .bind(next_ms)
        .bind(truncate(error))
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives a claimed row up with the reason.
    pub async fn outbox_failed(&self, id: i64, worker: &str, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $1 WHERE id = $2 AND status = 'sending' AND claimed_by = $3",
        )
        .bind(truncate(error))
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest rows, optionally of one status.
    pub async fn outbox(&self, status: Option<&str>, limit: i64) -> Result<Vec<OutboxEntry>> {
        Ok(sqlx::query_as(
            "SELECT id, kind, user_id, to_addr, language, subject, case_id, task_id, status, attempts, next_attempt_ms, last_error, message_id, created_ms, sent_ms \
             FROM outbox WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(status)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Counts per status, for the API and metrics.
    pub async fn outbox_counts(&self) -> Result<Value> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetch_all(&self.pool).await?;
        Ok(Value::Object(rows.into_iter().map(|(s, n)| (s, n.into())).collect()))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(1000).collect()
}
