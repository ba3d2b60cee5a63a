//! Imports from spreadsheets: every record of a file in one transaction, so a file is stored
//! whole or not at all; records are matched by department code, username and project code, so
//! importing the same file again changes nothing.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::people::{Change, audit, upsert_department, upsert_user};
use super::projects::{insert_project, load_by_codes, same_project, update_project};
use super::{Result, Store, StoreError};
use crate::domain::{Fen, ProjectInput};
use crate::exchange::{Column, ColumnKind, Known, Origin, Parsed, Problem, Stop, Table, Value, projects_table};

/// How many records of one kind an import created, updated and left as they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl Counts {
    fn add(&mut self, c: Change) {
        match c {
            Change::Created => self.created += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

/// What an import did, or (for a dry run, or a file with problems) would have done.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    pub file: String,
    pub dry_run: bool,
    /// Whether the file's records are now stored: only when it has no problem at all.
    pub stored: bool,
    pub rows_read: usize,
    pub departments: Counts,
    pub users: Counts,
    pub projects: Counts,
    /// Every problem of the file, in sheet, row and column order.
    pub problems: Vec<Problem>,
}

/// Turns a store error about one record into a problem at its row (field errors at their
/// column), or passes a database failure on.
fn placed(parsed: &Parsed, origin: &Origin, e: StoreError) -> Result<Vec<Problem>> {
    match e {
        StoreError::Invalid { message, details } if details.is_empty() => {
            Ok(vec![parsed.problem_at(origin, "", message)])
        }
        StoreError::Invalid { details, .. } => {
            Ok(details.into_iter().map(|d| parsed.problem_at(origin, &d.path, d.message)).collect())
        }
        StoreError::Conflict(message) | StoreError::NotFound(message) => {
            Ok(vec![parsed.problem_at(origin, "", message)])
        }
        other => Err(other),
    }
}

impl Store {
    /// Reads a spreadsheet (on a blocking thread: a county's file is some 26,000 rows) against
    /// the departments stored now. An unreadable file, or a workbook past the bounds on what it
    /// unpacks to, is refused with the reason. When the caller stops waiting (the request ended
    /// or timed out, and this future is dropped), the reading thread stops too.
    pub async fn parse_spreadsheet(&self, name: &str, bytes: Vec<u8>) -> Result<Parsed> {
        let known = Known { departments: self.departments().await?.into_iter().map(|d| (d.code, d.name)).collect() };
        let file = name.to_string();
        let stop = Stop::never();
        let _stop_when_dropped = stop.guard();
        let parsed =
            tokio::task::spawn_blocking(move || crate::exchange::import_file(&file, &bytes, &known, None, &stop))
                .await
                .map_err(|e| StoreError::Other(anyhow::anyhow!("reading the spreadsheet stopped: {e}")))?;
        parsed.map_err(|e| StoreError::Invalid { message: format!("{name}: {e}"), details: Vec::new() })
    }

    /// A department's code.
    pub async fn department_code(&self, id: i64) -> Result<String> {
        sqlx::query_scalar("SELECT code FROM departments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no department {id}")))
    }

    /// Stores the records of a parsed file in one transaction. Every problem is collected (the
    /// parser's and those only the database can see, such as a project already in a cycle);
    /// with any problem, or for a dry run, the transaction is rolled back and nothing is stored.
    pub async fn import_parsed(
        &self,
        file: &str,
        parsed: &Parsed,
        dry_run: bool,
        now_ms: i64,
        actor: Option<i64>,
    ) -> Result<ImportReport> {
        let mut report = ImportReport {
            file: file.to_string(),
            dry_run,
            stored: false,
            rows_read: parsed.rows_read,
            departments: Counts::default(),
            users: Counts::default(),
            projects: Counts::default(),
            problems: parsed.problems.clone(),
        };
        let mut tx = self.write().await?;
        for d in &parsed.departments {
            let r = &d.record;
            match upsert_department(&mut tx, &r.code, &r.name, &r.sector, &r.head, now_ms).await {
                Ok(c) => report.departments.add(c),
                Err(e) => report.problems.extend(placed(parsed, &d.origin, e)?),
            }
        }
        for u in &parsed.users {
            match upsert_user(&mut tx, &u.record, now_ms).await {
                Ok(c) => report.users.add(c),
                Err(e) => report.problems.extend(placed(parsed, &u.origin, e)?),
            }
        }
        self.import_projects(&mut tx, parsed, now_ms, &mut report).await?;
        report.problems.sort_by(|a, b| (&a.sheet, a.row, &a.column).cmp(&(&b.sheet, b.row, &b.column)));
        if !report.problems.is_empty() || dry_run {
            tx.rollback().await?;
            return Ok(report);
        }
        let summary = serde_json::json!({
            "file": file, "rows": parsed.rows_read, "departments": report.departments,
            "users": report.users, "projects": report.projects,
        });
        audit(&mut tx, "spreadsheet_imported", &summary, actor, now_ms).await?;
        tx.commit().await?;
        report.stored = true;
        Ok(report)
    }

    async fn import_projects(
        &self,
        conn: &mut AnyConnection,
        parsed: &Parsed,
        now_ms: i64,
        report: &mut ImportReport,
    ) -> Result<()> {
        if parsed.projects.is_empty() {
            return Ok(());
        }
        let departments: HashMap<String, i64> =
            sqlx::query_as("SELECT code, id FROM departments").fetch_all(&mut *conn).await?.into_iter().collect();
        let codes: Vec<&str> = parsed.projects.iter().map(|p| p.record.code.as_str()).collect();
        let stored = load_by_codes(conn, self.backend, &codes).await?;
        for p in &parsed.projects {
            let r = &p.record;
            let Some(&department) = departments.get(&r.department_code) else {
                report.problems.push(parsed.problem_at(
                    &p.origin,
                    "department_code",
                    format!("no department has code '{}'", r.department_code),
                ));
                continue;
            };
            let result = match stored.get(&r.code) {
                None => insert_project(conn, r, department, now_ms).await.map(|_| Change::Created),
                Some((old, _)) if old.kind != "project" => Err(StoreError::Invalid {
                    message: "the code is a department's overall declaration".into(),
                    details: vec![crate::domain::FieldError {
                        zh: None,
                        path: "code".into(),
                        message: format!(
                            "'{}' is the code of a department's overall declaration, not of a budget project; it changes through PUT /api/v1/departments/{{code}}/overall/{{year}}, not by import",
                            old.code
                        ),
                    }],
                }),
                Some((old, _)) if same_project(old, r) => Ok(Change::Unchanged),
                Some((old, true)) => Err(StoreError::Invalid {
                    message: "the project is in a cycle".into(),
                    details: vec![crate::domain::FieldError {
                        zh: None,
                        path: "code".into(),
                        message: format!(
                            "the project '{}' is already in a cycle; its budget and targets change through the workflow (declaration, revision, budget ledger), not by import",
                            old.code
                        ),
                    }],
                }),
                Some((old, false)) => {
                    update_project(conn, old.id, r, department, now_ms).await.map(|_| Change::Updated)
                }
            };
            match result {
                Ok(c) => report.projects.add(c),
                Err(e) => report.problems.extend(placed(parsed, &p.origin, e)?),
            }
        }
        Ok(())
    }
}

/// A time in the bureau's zone, as a spreadsheet shows it.
fn local_time(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| Value::DateTime(t.with_timezone(&chrono_tz::Asia::Shanghai).naive_local()))
        .unwrap_or(Value::Empty)
}

fn text(s: Option<String>) -> Value {
    s.filter(|s| !s.is_empty()).map(Value::Text).unwrap_or(Value::Empty)
}

/// A stored decimal text (a score, a rate) as a number cell.
fn number(s: Option<String>) -> Value {
    match s.as_deref().map(str::parse::<rust_decimal::Decimal>) {
        Some(Ok(d)) => Value::Decimal(d),
        _ => text(s),
    }
}

impl Store {
    /// A year's projects with their targets, one row per indicator in the import layout (so the
    /// file can be edited and imported again).
    pub async fn export_projects(&self, fiscal_year: i32, department_id: Option<i64>) -> Result<Table> {
        let mut conn = self.pool.acquire().await?;
        let codes: Vec<String> = sqlx::query_scalar(
            "SELECT code FROM projects WHERE fiscal_year = $1 AND ($2 IS NULL OR department_id = $2) AND kind = 'project' ORDER BY code",
        )
        .bind(fiscal_year)
        .bind(department_id)
        .fetch_all(&mut *conn)
        .await?;
        let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
        let mut stored = load_by_codes(&mut conn, self.backend, &refs).await?;
        let inputs: Vec<ProjectInput> = codes
            .iter()
            .filter_map(|c| stored.remove(c))
            .map(|(p, _)| ProjectInput {
                code: p.code,
                name: p.name,
                department_code: p.department_code,
                sector: p.sector,
                amount: p.amount,
                fiscal_year: p.fiscal_year,
                is_new: p.is_new,
                funding_source: p.funding_source,
                indicators: p.indicators,
            })
            .collect();
        let departments: Vec<(String, String)> =
            self.departments().await?.into_iter().map(|d| (d.code, d.name)).collect();
        let mut table = projects_table(&inputs, &departments);
        table.sheet = format!("{fiscal_year}年项目绩效目标");
        Ok(table)
    }

    /// A monitoring run: every report with its lights.
    pub async fn export_monitoring(&self, run_id: i64) -> Result<Table> {
        let run = self.monitoring_run(run_id).await?;
        let columns = vec![
            Column::text("项目编码"),
            Column::text("项目名称"),
            Column::text("预算单位"),
            Column::text("行业"),
            Column::text("填报状态"),
            Column::text("预警灯"),
            Column::text("执行进度灯"),
            Column::new("预算执行率", ColumnKind::Percent),
            Column::new("预算金额（元）", ColumnKind::Money),
            Column::new("蓝灯指标数", ColumnKind::Integer),
            Column::text("偏差原因"),
            Column::text("原因说明"),
            Column::text("完成可能性"),
        ];
        let mut rows = Vec::new();
        self.for_each_report(run_id, |r| {
            let t = |c: &str| -> Result<Value> { Ok(text(r.try_get::<Option<String>, _>(c)?)) };
            rows.push(vec![
                t("code")?,
                t("name")?,
                t("department")?,
                t("sector")?,
                t("status")?,
                t("light")?,
                t("execution_light")?,
                number(r.try_get::<Option<String>, _>("execution_pct")?),
                r.try_get::<Option<i64>, _>("budget_fen")?.map_or(Value::Empty, |f| Value::Money(Fen::from_fen(f))),
                r.try_get::<Option<i64>, _>("blue")?.map_or(Value::Empty, Value::Int),
                t("cause")?,
                t("cause_text")?,
                t("likelihood")?,
            ]);
            Ok(())
        })
        .await?;
        Ok(Table { sheet: format!("运行监控{}", run.id), columns, rows })
    }

    /// A monitoring run's summary: per department, the reports issued, filled and not
    /// reported, the completion rate and the lights, with the whole run's line first.
    pub async fn export_monitoring_summary(&self, run_id: i64) -> Result<Table> {
        let summary = self.monitoring_summary(run_id).await?;
        let columns = vec![
            Column::text("预算单位"),
            Column::new("下达任务", ColumnKind::Integer),
            Column::new("已填报", ColumnKind::Integer),
            Column::new("未填报", ColumnKind::Integer),
            Column::new("填报完成率", ColumnKind::Percent),
            Column::new("红灯", ColumnKind::Integer),
            Column::new("黄灯", ColumnKind::Integer),
            Column::new("绿灯", ColumnKind::Integer),
        ];
        let int = |v: &serde_json::Value| v.as_i64().map_or(Value::Empty, Value::Int);
        let rate = |filled: i64, issued: i64| {
            if issued > 0 {
                Value::Decimal(
                    (rust_decimal::Decimal::from(filled * 100) / rust_decimal::Decimal::from(issued)).round_dp(1),
                )
            } else {
                Value::Empty
            }
        };
        let lights = &summary["lights"];
        let mut rows = vec![vec![
            Value::Text("合计".into()),
            int(&summary["tasks_issued"]),
            int(&summary["filled"]),
            int(&summary["not_reported"]),
            rate(summary["filled"].as_i64().unwrap_or(0), summary["tasks_issued"].as_i64().unwrap_or(0)),
            int(&lights["red"]),
            int(&lights["yellow"]),
            int(&lights["green"]),
        ]];
        for d in summary["by_department"].as_array().into_iter().flatten() {
            rows.push(vec![
                Value::Text(d["key"].as_str().unwrap_or_default().to_string()),
                int(&d["issued"]),
                int(&d["filled"]),
                int(&d["not_reported"]),
                rate(d["filled"].as_i64().unwrap_or(0), d["issued"].as_i64().unwrap_or(0)),
                int(&d["red"]),
                int(&d["yellow"]),
                int(&d["green"]),
            ]);
        }
        Ok(Table { sheet: format!("运行监控{run_id}汇总"), columns, rows })
    }

    /// A year's self-evaluations: the self score, the spot check's re-score where there was one,
    /// and the score that counts.
    pub async fn export_self_evaluations(&self, fiscal_year: i32, department_id: Option<i64>) -> Result<Table> {
        type SelfRow = (
            String,
            String,
            String,
            i64,
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
        );
        let found: Vec<SelfRow> = sqlx::query_as(
            "SELECT p.code, p.name, d.name, s.budget_fen, s.executed_fen, s.self_score, s.self_grade, s.reviewed_score, \
             s.reviewed_grade, s.flagged, s.submitted_ms FROM self_evaluations s JOIN projects p ON p.id = s.project_id \
             JOIN departments d ON d.id = s.department_id WHERE s.fiscal_year = $1 AND ($2 IS NULL OR s.department_id = $2) \
             ORDER BY p.code",
        )
        .bind(fiscal_year)
        .bind(department_id)
        .fetch_all(&self.pool)
        .await?;
        let columns = vec![
            Column::text("项目编码"),
            Column::text("项目名称"),
            Column::text("预算单位"),
            Column::new("预算金额（元）", ColumnKind::Money),
            Column::new("执行金额（元）", ColumnKind::Money),
            Column::new("自评得分", ColumnKind::Decimal),
            Column::text("自评等级"),
            Column::new("抽查复核得分", ColumnKind::Decimal),
            Column::text("复核等级"),
            Column::new("最终得分", ColumnKind::Decimal),
            Column::text("最终等级"),
            Column::text("复核差异"),
            Column::new("提交时间", ColumnKind::DateTime),
        ];
        let rows = found
            .into_iter()
            .map(|(code, name, dept, budget, executed, score, grade, r_score, r_grade, flagged, at)| {
                let (final_score, final_grade) =
                    if r_score.is_some() { (r_score.clone(), r_grade.clone()) } else { (score.clone(), grade.clone()) };
                vec![
                    Value::Text(code),
                    Value::Text(name),
                    Value::Text(dept),
                    Value::Money(Fen::from_fen(budget)),
                    Value::Money(Fen::from_fen(executed)),
                    number(score),
                    text(grade),
                    number(r_score),
                    text(r_grade),
                    number(final_score),
                    text(final_grade),
                    text(flagged),
                    local_time(Some(at)),
                ]
            })
            .collect();
        Ok(Table { sheet: format!("{fiscal_year}年绩效自评"), columns, rows })
    }

    /// A year's result actions (cuts, suspensions, recoveries, rectifications …) and where each
    /// stands.
    pub async fn export_actions(&self, fiscal_year: i32, department_id: Option<i64>) -> Result<Table> {
        type ActionRow = (
            i64,
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            String,
            Option<i64>,
            i64,
            Option<i64>,
            Option<i64>,
            String,
        );
        let found: Vec<ActionRow> = sqlx::query_as(
            "SELECT a.id, p.code, p.name, d.name, a.kind, a.source, a.percent, a.amount_fen, a.grade, a.status, a.deadline_ms, \
             a.proposed_ms, a.approved_ms, a.completed_ms, a.note FROM result_actions a JOIN departments d ON d.id = a.department_id \
             LEFT JOIN projects p ON p.id = a.project_id WHERE a.fiscal_year = $1 AND ($2 IS NULL OR a.department_id = $2) ORDER BY a.id",
        )
        .bind(i64::from(fiscal_year))
        .bind(department_id)
        .fetch_all(&self.pool)
        .await?;
        let columns = vec![
            Column::new("编号", ColumnKind::Integer),
            Column::text("项目编码"),
            Column::text("项目名称"),
            Column::text("预算单位"),
            Column::text("措施"),
            Column::text("来源"),
            Column::new("比例（%）", ColumnKind::Integer),
            Column::new("金额（元）", ColumnKind::Money),
            Column::text("等级"),
            Column::text("状态"),
            Column::new("整改期限", ColumnKind::DateTime),
            Column::new("提出时间", ColumnKind::DateTime),
            Column::new("批准时间", ColumnKind::DateTime),
            Column::new("完成时间", ColumnKind::DateTime),
            Column::text("说明"),
        ];
        let rows = found
            .into_iter()
            .map(
                |(
                    id,
                    code,
                    name,
                    dept,
                    kind,
                    source,
                    percent,
                    amount,
                    grade,
                    status,
                    deadline,
                    proposed,
                    approved,
                    done,
                    note,
                )| {
                    vec![
                        Value::Int(id),
                        text(code),
                        text(name),
                        Value::Text(dept),
                        Value::Text(action_label(&kind).to_string()),
                        Value::Text(source),
                        percent.map_or(Value::Empty, Value::Int),
                        amount.map_or(Value::Empty, |f| Value::Money(Fen::from_fen(f))),
                        text(grade),
                        Value::Text(status),
                        local_time(deadline),
                        local_time(Some(proposed)),
                        local_time(approved),
                        local_time(done),
                        text(Some(note)),
                    ]
                },
            )
            .collect();
        Ok(Table { sheet: format!("{fiscal_year}年结果应用"), columns, rows })
    }

    /// A published disclosure as a table, its numbers as numbers.
    pub async fn export_disclosure(&self, fiscal_year: i64, kind: &str, version: Option<i64>) -> Result<Table> {
        let (doc, _) = self.disclosure(fiscal_year, kind, version).await?;
        let (header, cells, numeric) = crate::domain::disclosure::table(&doc.body);
        let columns = header
            .iter()
            .zip(&numeric)
            .map(|(h, n)| Column::new(*h, if *n { ColumnKind::Decimal } else { ColumnKind::Text }))
            .collect();
        let rows = cells
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&numeric)
                    .map(|(c, n)| match (n, c.parse::<rust_decimal::Decimal>()) {
                        (true, Ok(d)) => Value::Decimal(d),
                        _ if c.is_empty() => Value::Empty,
                        _ => Value::Text(c.to_string()),
                    })
                    .collect()
            })
            .collect();
        Ok(Table { sheet: format!("{}（第{}版）", doc.title, doc.version), columns, rows })
    }
}

/// What an action kind is called in the bureau's reports.
/// The Chinese name of a result action's kind.
pub fn action_label(kind: &str) -> &str {
    match kind {
        "commend" => "通报表扬",
        "keep" => "保持支持",
        "rectify" => "限期整改",
        "cut" => "核减预算",
        "suspend" => "暂缓拨付",
        "recover" => "收回资金",
        "cancel" => "取消项目",
        other => other,
    }
}
