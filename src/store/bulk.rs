//! Loading a whole county at once (the demo and the benchmarks): departments, their users,
//! finance staff, the expert pool with employment history, and projects with indicators, in one
//! transaction.

use std::collections::HashMap;

use super::people::{ExpertProfile, NewUser, insert_department, insert_token, insert_user};
use super::projects::insert_project;
use super::workflows::Registry;
use super::{Result, Store};
use crate::domain::ProjectInput;
use crate::workflow::Role;

/// A department of the county to load.
#[derive(Debug, Clone)]
pub struct CountyDepartment {
    pub code: String,
    pub name: String,
    pub sector: String,
    pub head: String,
}

/// An expert of the pool to load.
#[derive(Debug, Clone)]
pub struct CountyExpert {
    pub name: String,
    pub sectors: Vec<String>,
    pub title: String,
    pub organisation: String,
    pub email: String,
    /// (department code, from year, to year)
    pub past_units: Vec<(String, i32, i32)>,
}

/// A loaded user with an API token, so a newcomer can try each role at once.
#[derive(Debug, Clone)]
pub struct SampleUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub token: String,
}

/// The loaded users given tokens.
#[derive(Debug, Clone, Default)]
pub struct SampleTokens {
    pub finance: Option<SampleUser>,
    pub departments: Vec<SampleUser>,
    pub experts: Vec<SampleUser>,
}

async fn sample(conn: &mut sqlx::AnyConnection, user: &super::people::User, now_ms: i64) -> Result<SampleUser> {
    Ok(SampleUser {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        token: insert_token(conn, user.id, "demo", now_ms).await?,
    })
}

impl Store {
    /// Loads a county into an empty instance. Each department gets a user `dNNN` (its code in
    /// lower case), the bureau `finance_staff` finance users, each expert a user `expertNNN`.
    /// Tokens are issued for the first finance user, the departments listed in
    /// `token_departments` and every expert of a sector in `token_expert_sectors`.
    pub async fn load_county(
        &self,
        departments: &[CountyDepartment],
        experts: &[CountyExpert],
        projects: &[ProjectInput],
        finance_staff: usize,
        token_departments: &[String],
        token_expert_sectors: &[String],
        now_ms: i64,
    ) -> Result<SampleTokens> {
        let mut tx = self.write().await?;
        let mut tokens = SampleTokens::default();
        let mut dept_ids = HashMap::new();
        for d in departments {
            let id = insert_department(&mut tx, &d.code, &d.name, &d.sector, &d.head, now_ms).await?;
            dept_ids.insert(d.code.clone(), id);
            let user = insert_user(
                &mut tx,
                &NewUser {
                    username: d.code.to_ascii_lowercase(),
                    display_name: format!("{}绩效管理员", d.name),
                    role: Role::Department,
                    department_code: Some(d.code.clone()),
                    email: format!("{}@units.example.cn", d.code.to_ascii_lowercase()),
                    language: "zh".into(),
                    expert: None,
                    digest: false,
                    department_head: false,
                },
                now_ms,
            )
            .await?;
            if token_departments.contains(&d.code) {
                tokens.departments.push(sample(&mut tx, &user, now_ms).await?);
            }
        }
        for i in 0..finance_staff {
            let user = insert_user(
                &mut tx,
                &NewUser {
                    username: format!("finance{}", i + 1),
                    display_name: format!("财政局绩效股{}", i + 1),
                    role: Role::Finance,
                    department_code: None,
                    email: format!("finance{}@czj.example.cn", i + 1),
                    language: "zh".into(),
                    expert: None,
                    digest: false,
                    department_head: false,
                },
                now_ms,
            )
            .await?;
            if i == 0 {
                tokens.finance = Some(sample(&mut tx, &user, now_ms).await?);
            }
        }
        // A whole cycle's target reviews are open at once: each expert's cap leaves room for
        // half as much again as an even share of all their sectors' reviews (3 experts a panel).
        let mut per_sector: std::collections::HashMap<&str, (usize, usize)> = std::collections::HashMap::new();
        for e in experts {
            for s in &e.sectors {
                per_sector.entry(s.as_str()).or_default().0 += 1;
            }
        }
        for p in projects {
            per_sector.entry(p.sector.as_str()).or_default().1 += 1;
        }
        let cap_for = |e: &CountyExpert| -> u32 {
            let share = e
                .sectors
                .iter()
                .filter_map(|s| per_sector.get(s.as_str()))
                .map(|(n, cases)| (3 * cases).div_ceil((*n).max(1)))
                .sum::<usize>();
            (share * 3 / 2 + 10).clamp(80, 400) as u32
        };
        for (i, e) in experts.iter().enumerate() {
            let user = insert_user(
                &mut tx,
                &NewUser {
                    username: format!("expert{:03}", i + 1),
                    display_name: e.name.clone(),
                    role: Role::Expert,
                    department_code: None,
                    email: e.email.clone(),
                    language: "zh".into(),
                    expert: Some(ExpertProfile {
                        sectors: e.sectors.clone(),
                        specialities: Vec::new(),
                        title: e.title.clone(),
                        organisation: e.organisation.clone(),
                        // Employment is written below from the demo's department codes.
                        employment: Vec::new(),
                        conflicts: Vec::new(),
                        availability: Vec::new(),
                        max_concurrent_reviews: cap_for(e),
                    }),
                    digest: false,
                    department_head: false,
                },
                now_ms,
            )
            .await?;
            for (code, from, to) in &e.past_units {
                if let Some(dept) = dept_ids.get(code) {
                    sqlx::query("INSERT INTO expert_employment (expert_user_id, department_id, from_year, to_year) VALUES ($1, $2, $3, $4)")
                        .bind(user.id)
                        .bind(dept)
                        .bind(from)
                        .bind(to)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if e.sectors.iter().any(|s| token_expert_sectors.contains(s)) {
                tokens.experts.push(sample(&mut tx, &user, now_ms).await?);
            }
        }
        for p in projects {
            let dept = dept_ids
                .get(&p.department_code)
                .copied()
                .ok_or_else(|| super::StoreError::NotFound(format!("no department {}", p.department_code)))?;
            insert_project(&mut tx, p, dept, now_ms).await?;
        }
        tx.commit().await?;
        Ok(tokens)
    }
}

/// A value for a generated row.
enum Val {
    I(i64),
    T(String),
    Null,
}

/// Inserts rows with multi-row statements (as many rows per statement as the databases' bound
/// parameter limits allow).
async fn insert_many(
    conn: &mut sqlx::AnyConnection,
    backend: super::Backend,
    head: &str,
    ncols: usize,
    rows: &[Vec<Val>],
) -> Result<()> {
    for chunk in rows.chunks((8_000 / ncols).max(1)) {
        let sql = format!("{head} VALUES {}", super::value_groups(backend, chunk.len(), ncols));
        let mut q = sqlx::query(super::sql(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    Val::I(i) => q.bind(*i),
                    Val::T(s) => q.bind(s.clone()),
                    Val::Null => q.bind(None::<i64>),
                };
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// What `load_monitoring_run` made.
#[derive(Debug, Clone)]
pub struct GeneratedRun {
    pub run_id: i64,
    pub projects: i64,
    pub indicators: i64,
}

impl Store {
    /// Generates, in an empty instance, `projects` projects of 8 indicators each in 74
    /// departments, all on the shipped workflow in the monitoring stage, and one monitoring run
    /// (1 August 2023) in which every department has filled its report. Deterministic: a
    /// mix of on-time, late and far-behind projects, some budgets adjusted, every light. For
    /// the monitoring benchmark.
    pub async fn load_monitoring_run(&self, reg: &Registry, projects: usize, now_ms: i64) -> Result<GeneratedRun> {
        let wf = self
            .publish_workflow(
                reg,
                "county-annual-cycle.yaml",
                include_str!("../../workflows/county-annual-cycle.yaml"),
                "bench",
                None,
                now_ms,
                &|_, _| true,
            )
            .await
            .map_err(|e| match e {
                super::workflows::PublishError::Store(e) => e,
                e => super::StoreError::Other(anyhow::anyhow!("the shipped workflow: {e}")),
            })?;
        let (wf_id, version) = (wf.workflow_id.clone(), i64::from(wf.version));
        let fire_ms = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2023, 8, 1, 1, 0, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or(now_ms);
        let sectors = ["health", "education", "agriculture", "transport", "social_security", "general"];
        let mut tx = self.write().await?;
        let depts: Vec<Vec<Val>> = (1..=74)
            .map(|d| {
                vec![
                    Val::I(d),
                    Val::T(format!("D{d:03}")),
                    Val::T(format!("县第{d}预算单位")),
                    Val::T(sectors[(d as usize) % sectors.len()].into()),
                    Val::T(String::new()),
                    Val::I(now_ms),
                ]
            })
            .collect();
        insert_many(
            &mut tx,
            self.backend,
            "INSERT INTO departments (id, code, name, sector, head, created_ms)",
            6,
            &depts,
        )
        .await?;
        let cycle_id: i64 = sqlx::query_scalar(
            "INSERT INTO cycles (fiscal_year, workflow_id, workflow_version, started_ms) VALUES (2023, $1, $2, $3) RETURNING id",
        )
        .bind(&wf_id)
        .bind(version)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let run_id: i64 = sqlx::query_scalar(
            "INSERT INTO monitoring_runs (workflow_id, workflow_version, stage, fire_ms, status, issued, created_ms) VALUES ($1, $2, 'monitoring', $3, 'open', $4, $5) RETURNING id",
        )
        .bind(&wf_id)
        .bind(version)
        .bind(fire_ms)
        .bind(projects as i64)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let state = serde_json::to_string(&crate::engine::CaseState::default())?;
        // (name, operator, target, unit, level1, level2)
        let indicators: [(&str, &str, &str, &str, &str, &str); 8] = [
            ("服务人次", "≥", "12000", "人次", "产出", "数量指标"),
            ("设施建设数量", "≥", "40", "个", "产出", "数量指标"),
            ("项目验收合格率", "≥", "95", "%", "产出", "质量指标"),
            ("资金拨付及时率", "≥", "90", "%", "产出", "时效指标"),
            ("单位服务成本", "≤", "300", "元", "产出", "成本指标"),
            ("受益群众覆盖率", "=", "100", "%", "效益", "社会效益指标"),
            ("长效管理机制", "定性", "健全", "", "效益", "可持续影响指标"),
            ("服务对象满意度", "≥", "90", "%", "满意度", "服务对象满意度指标"),
        ];
        let levels = ["达成", "部分达成", "未达成"];
        let causes = ["经费保障", "制度保障", "人员保障", "硬件条件保障", "其他"];
        const BLOCK: usize = 10_000;
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut start = 0usize;
        while start < projects {
            let end = (start + BLOCK).min(projects);
            let (mut ps, mut is, mut cs, mut ts, mut rs, mut bs) = (vec![], vec![], vec![], vec![], vec![], vec![]);
            for n in start..end {
                let id = n as i64 + 1;
                let dept = (n % 74) as i64 + 1;
                let sector = sectors[(dept as usize) % sectors.len()];
                // 100,000 to 5,100,000 yuan, in fen.
                let amount = 10_000_000 + (next() % 500_000_000) as i64;
                // A project's pace against time progress, in percent: mostly on time, a tail
                // far behind and some ahead.
                let pace = match next() % 20 {
                    0 => 10 + (next() % 40) as i64,
                    1..=3 => 50 + (next() % 30) as i64,
                    _ => 80 + (next() % 50) as i64,
                };
                ps.push(vec![
                    Val::I(id),
                    Val::T(format!("B2023-{id:07}")),
                    Val::T(format!("{sector}项目{id}")),
                    Val::I(dept),
                    Val::T(sector.into()),
                    Val::I(amount),
                    Val::I(2023),
                    Val::I(0),
                    Val::T("general_budget".into()),
                    Val::I(now_ms),
                    Val::I(now_ms),
                ]);
                let mut progress = Vec::with_capacity(8);
                let targets: Vec<serde_json::Value> = indicators
                    .iter()
                    .map(|(_, op, t, ..)| serde_json::json!([op, if *op == "定性" { None } else { Some(t) }]))
                    .collect();
                for (pos, (name, op, target, unit, l1, l2)) in indicators.iter().enumerate() {
                    let numeric = *op != "定性";
                    is.push(vec![
                        Val::I(id),
                        Val::I(pos as i64),
                        Val::T((*l1).into()),
                        Val::T((*l2).into()),
                        Val::T((*name).into()),
                        Val::T((*op).into()),
                        Val::T((*target).into()),
                        Val::T(if numeric { "number" } else { "text" }.into()),
                        Val::T((*unit).into()),
                        Val::T("10".into()),
                        Val::T("行业标准".into()),
                        Val::T(String::new()),
                        Val::I(0),
                        Val::T(sector.into()),
                        Val::I(2023),
                    ]);
                    if numeric {
                        let t: i64 = target.parse().unwrap_or(1);
                        let share = (pace + (next() % 20) as i64 - 10).max(0);
                        // In hundredths: the share of the pro-rata target reached by July.
                        let (done, year) = if *op == "≤" {
                            // A cost: mostly within its bound, one in ten above.
                            let year = t * (85 + (next() % 17) as i64);
                            (year * 7 / 12, year)
                        } else {
                            let done = t * share * 7 / 12;
                            (done, (t * share).max(done))
                        };
                        let dec = |h: i64| format!("{}.{:02}", h / 100, h % 100);
                        progress.push(
                            serde_json::json!({"index": pos, "cumulative": dec(done), "expected_full_year": dec(year)}),
                        );
                    } else {
                        let level = match next() % 20 {
                            0 => levels[2],
                            1..=3 => levels[1],
                            _ => levels[0],
                        };
                        progress.push(serde_json::json!({"index": pos, "level": level}));
                    }
                }
                // One project in ten had money moved by 调剂.
                let mut budget = amount;
                if n % 10 == 3 {
                    let out = amount / 4;
                    budget -= out;
                    bs.push(vec![
                        Val::I(id),
                        Val::T("adjust_out".into()),
                        Val::I(out),
                        Val::T("调剂".into()),
                        Val::Null,
                        Val::Null,
                        Val::I(now_ms),
                    ]);
                }
                let executed = budget * pace * 7 / 1200;
                let behind = pace < 60;
                let result = serde_json::json!({
                    "executed": crate::domain::Fen::from_fen(executed),
                    "progress": progress,
                    "deviation_cause": if behind { serde_json::json!(causes[(next() % 5) as usize]) } else { serde_json::Value::Null },
                    "deviation_text": if behind { "资金下达滞后，项目推进缓慢" } else { "" },
                    "likelihood": if behind { "有可能" } else { "确定能" },
                    "explanation": "",
                });
                cs.push(vec![
                    Val::I(id),
                    Val::I(cycle_id),
                    Val::I(id),
                    Val::I(dept),
                    Val::T(wf_id.clone()),
                    Val::I(version),
                    Val::T("monitoring".into()),
                    Val::T("awaiting_submission".into()),
                    Val::T("active".into()),
                    Val::T(state.clone()),
                    Val::I(0),
                    Val::I(now_ms),
                    Val::I(now_ms),
                ]);
                ts.push(vec![
                    Val::I(id),
                    Val::I(id),
                    Val::T("monitoring".into()),
                    Val::I(0),
                    Val::T("submission".into()),
                    Val::T("monitoring".into()),
                    Val::T("department".into()),
                    Val::I(dept),
                    Val::T("completed".into()),
                    Val::I(fire_ms + 14 * 86_400_000),
                    Val::I(fire_ms),
                    Val::I(fire_ms + 86_400_000),
                    Val::T(result.to_string()),
                ]);
                rs.push(vec![
                    Val::I(run_id),
                    Val::I(id),
                    Val::I(id),
                    Val::I(dept),
                    Val::T(sector.into()),
                    Val::I(2023),
                    Val::T("filled".into()),
                    Val::I(id),
                    Val::I(budget),
                    Val::I(fire_ms + 86_400_000),
                    Val::T(serde_json::Value::Array(targets).to_string()),
                ]);
            }
            let mut tx = self.write().await?;
            insert_many(&mut tx, self.backend, "INSERT INTO projects (id, code, name, department_id, sector, amount_fen, fiscal_year, is_new, funding_source, created_ms, updated_ms)", 11, &ps).await?;
            insert_many(&mut tx, self.backend, "INSERT INTO indicators (project_id, position, level1, level2, name, operator, value, value_kind, unit, weight, basis, explanation, core, sector, fiscal_year)", 15, &is).await?;
            insert_many(
                &mut tx,
                self.backend,
                "INSERT INTO budget_entries (project_id, kind, amount_fen, reason, disposition_id, recorded_by, at_ms)",
                7,
                &bs,
            )
            .await?;
            insert_many(&mut tx, self.backend, "INSERT INTO cases (id, cycle_id, project_id, department_id, workflow_id, workflow_version, stage, phase, status, state, version, created_ms, updated_ms)", 13, &cs).await?;
            insert_many(&mut tx, self.backend, "INSERT INTO tasks (id, case_id, stage, round, kind, form, role, department_id, status, due_ms, created_ms, completed_ms, result)", 13, &ts).await?;
            insert_many(&mut tx, self.backend, "INSERT INTO monitoring_reports (run_id, case_id, project_id, department_id, sector, fiscal_year, status, task_id, budget_fen, filled_ms, targets)", 11, &rs).await?;
            tx.commit().await?;
            start = end;
        }
        // Fresh statistics after a bulk load, as a database in service has them (without them
        // PostgreSQL may plan a chunk's join as a scan of every task).
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(GeneratedRun { run_id, projects: projects as i64, indicators: projects as i64 * 8 })
    }
}

impl Store {
    /// Generates `projects` projects of fiscal year 2023 with 8 indicators each (as
    /// [`Store::load_monitoring_run`] does) and a submitted, not yet scored self-evaluation for
    /// each: varied actuals, some qualitative levels, some overspending. For `bench scoring`.
    pub async fn load_self_evaluations(&self, reg: &Registry, projects: usize, now_ms: i64) -> Result<i64> {
        self.load_monitoring_run(reg, projects, now_ms).await?;
        let indicators = serde_json::to_string(&self.project(1).await?.indicators)?;
        let targets: Vec<(String, i64)> = sqlx::query_as(
            "SELECT operator, CASE WHEN operator = '定性' THEN 0 ELSE CAST(value AS BIGINT) END FROM indicators WHERE project_id = 1 ORDER BY position",
        )
        .fetch_all(&self.pool)
        .await?;
        let levels = ["达成", "部分达成", "未达成"];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const BLOCK: usize = 10_000;
        let mut start = 0usize;
        while start < projects {
            let end = (start + BLOCK).min(projects);
            let ids: Vec<(i64, i64, i64)> = sqlx::query_as(concat!(
                "SELECT p.id, p.department_id, ",
                super::projects::budget_sql!(),
                " FROM projects p WHERE p.id > $1 AND p.id <= $2 ORDER BY p.id"
            ))
            .bind(start as i64)
            .bind(end as i64)
            .fetch_all(&self.pool)
            .await?;
            let mut rows = Vec::with_capacity(ids.len());
            for (id, dept, budget) in ids {
                // Mostly spent, a tail underspent, one in fifty overspent.
                let executed = match next() % 50 {
                    0 => budget + budget / 20,
                    1..=7 => budget * (40 + (next() % 40) as i64) / 100,
                    _ => budget * (85 + (next() % 16) as i64) / 100,
                };
                let items: Vec<serde_json::Value> = targets
                    .iter()
                    .enumerate()
                    .map(|(i, (op, t))| {
                        if op == "定性" {
                            let (level, lo) = match next() % 10 {
                                0 => (levels[2], 20),
                                1 | 2 => (levels[1], 60),
                                _ => (levels[0], 80),
                            };
                            let share = lo + (next() % 21) as i64;
                            serde_json::json!({"index": i, "value": {"level": level, "share": format!("{share}%")}})
                        } else {
                            // 60% to 130% of the target, in hundredths.
                            let a = t * (60 + (next() % 71) as i64);
                            serde_json::json!({"index": i, "value": format!("{}.{:02}", a / 100, a % 100)})
                        }
                    })
                    .collect();
                let form = serde_json::json!({"executed": crate::domain::Fen::from_fen(executed), "items": items, "explanation": "", "evidence": []});
                rows.push(vec![
                    Val::I(id),
                    Val::I(id),
                    Val::I(dept),
                    Val::I(2023),
                    Val::T("self_evaluation".into()),
                    Val::T("mof_2020_10".into()),
                    Val::I(budget),
                    Val::I(executed),
                    Val::T(form.to_string()),
                    Val::T(indicators.clone()),
                    Val::I(now_ms),
                ]);
            }
            let mut tx = self.write().await?;
            insert_many(
                &mut tx,
                self.backend,
                "INSERT INTO self_evaluations (case_id, project_id, department_id, fiscal_year, stage, scheme, budget_fen, executed_fen, form, indicators, submitted_ms)",
                11,
                &rows,
            )
            .await?;
            tx.commit().await?;
            start = end;
        }
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(projects as i64)
    }
}
