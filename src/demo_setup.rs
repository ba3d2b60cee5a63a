//! Filling an empty instance with the demo county (`jixiao demo`, `serve --demo`): 74
//! departments with their users, finance staff, the expert pool and 3,244 projects, then the
//! county's cycle on the shipped workflow.

use std::sync::Arc;

use crate::app::Runtime;
use crate::demo;
use crate::store::bulk::{CountyDepartment, CountyExpert, SampleTokens};

/// The workflow the demo cycle runs on.
pub const DEMO_WORKFLOW: &str = "county-annual-cycle";
pub const DEMO_YEAR: i32 = 2023;
pub const DEMO_SEED: u64 = 2023;

/// Loads `projects` projects of the demo county into the store; returns sample tokens.
pub async fn load(rt: &Runtime, projects: usize) -> anyhow::Result<SampleTokens> {
    let county = demo::generate(DEMO_SEED, projects, DEMO_YEAR);
    let departments: Vec<CountyDepartment> = county
        .departments
        .iter()
        .map(|d| CountyDepartment {
            code: d.code.clone(),
            name: d.name.clone(),
            sector: d.sector.clone(),
            head: d.head.clone(),
        })
        .collect();
    let experts: Vec<CountyExpert> = county
        .experts
        .iter()
        .map(|e| CountyExpert {
            name: e.name.clone(),
            sectors: e.sectors.clone(),
            title: e.title.clone(),
            organisation: e.organisation.clone(),
            email: e.email.clone(),
            past_units: e.past_units.clone(),
        })
        .collect();
    // Tokens for the department of the first project that needs an ex-ante assessment (so the
    // README's tour can follow it) and for one ordinary department; every expert of that
    // project's sector gets one too, so whoever the panel draws for the tour's review can sign in.
    let tour = county.projects.iter().find(|p| p.is_new && p.amount.whole_yuan() >= 5_000_000);
    let mut token_departments: Vec<String> = tour.iter().map(|p| p.department_code.clone()).collect();
    if let Some(d) = county.departments.first()
        && !token_departments.contains(&d.code)
    {
        token_departments.push(d.code.clone());
    }
    let token_sectors: Vec<String> = tour.iter().map(|p| p.sector.clone()).collect();
    Ok(rt
        .store
        .load_county(&departments, &experts, &county.projects, 6, &token_departments, &token_sectors, rt.clock.now_ms())
        .await?)
}

/// The file the demo writes its credentials to, in the data folder.
pub const CREDENTIALS_FILE: &str = "demo-tokens.txt";

/// One line of the credentials file.
struct Credential {
    id: i64,
    role: &'static str,
    username: String,
    password: String,
    token: String,
    name: String,
}

impl Credential {
    /// A loaded user's line; the password is set later.
    fn of(role: &'static str, u: &crate::store::bulk::SampleUser) -> Credential {
        Credential {
            id: u.id,
            role,
            username: u.username.clone(),
            password: String::new(),
            token: u.token.clone(),
            name: u.display_name.clone(),
        }
    }
}

/// Fills an empty instance and starts the demo cycle. Does nothing (and says so) when the
/// instance already has projects. `admin_token` is the admin's token if this start created it;
/// otherwise the demo issues the admin one of its own. Every demo credential (the admin's
/// included) is written to `demo-tokens.txt` in the data folder, readable by this user only.
pub async fn fill(rt: &Arc<Runtime>, projects: usize, print: bool, admin_token: Option<&str>) -> anyhow::Result<()> {
    let (_, existing) = rt.store.projects(&Default::default(), 1, 0).await?;
    if existing > 0 {
        if print {
            let path = rt.settings.data_dir.join(CREDENTIALS_FILE);
            let note =
                if path.exists() { format!("; its sign-in details are in {}", path.display()) } else { String::new() };
            println!("demo: the instance already has {existing} projects; nothing loaded{note}");
        }
        return Ok(());
    }
    let tokens = load(rt, projects).await?;
    let overall = declare_overall(rt).await?;
    let version = rt
        .store
        .latest_workflow_version(DEMO_WORKFLOW)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the workflow {DEMO_WORKFLOW} is not published (is workflows/ missing?)"))?;
    let cycle = rt.store.start_cycle(DEMO_WORKFLOW, version, DEMO_YEAR, None, None, rt.clock.now_ms()).await?;
    rt.wake.notify_one();
    let mut lines = vec![format!(
        "demo county loaded: 74 departments, {projects} projects; cycle {} started with {} cases",
        cycle.id, cycle.cases_created
    )];
    if let Some(v) = rt.store.latest_workflow_version(OVERALL_WORKFLOW).await? {
        let c = rt.store.start_cycle(OVERALL_WORKFLOW, v, DEMO_YEAR, None, None, rt.clock.now_ms()).await?;
        rt.wake.notify_one();
        lines.push(format!(
            "{overall} departments declared their overall duties and budget; cycle {} ({OVERALL_WORKFLOW}) started with {} cases",
            c.id, c.cases_created
        ));
    }
    let credentials = credentials(rt, &tokens, admin_token).await?;
    let path = rt.settings.data_dir.join(CREDENTIALS_FILE);
    write_private(&path, &credentials_text(rt, &credentials))
        .map_err(|e| anyhow::anyhow!("cannot write the demo's sign-in details to {}: {e}", path.display()))?;
    lines.push(format!(
        "sign in at {}/login as one of these users (their passwords and API tokens are in {}):",
        rt.settings.public_url,
        path.display()
    ));
    let experts = credentials.iter().filter(|c| c.role == "expert").count();
    for c in credentials.iter().filter(|c| c.role != "expert") {
        lines.push(format!("  {:<11} {:<10} {}  {}", c.role, c.username, c.password, c.name));
    }
    if let Some(c) = credentials.iter().find(|c| c.role == "expert") {
        lines.push(format!(
            "  {:<11} {:<10} {}  {} (and {} more experts of the same sector, listed in the file)",
            c.role,
            c.username,
            c.password,
            c.name,
            experts.saturating_sub(1)
        ));
    }
    if print {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(())
}

/// Gives every demo user with a token a web password, registers the demo's third-party
/// institution with one user and commissions it a key evaluation of the tour department's
/// largest project, and returns the credentials in the order the file lists them.
async fn credentials(
    rt: &Runtime,
    tokens: &crate::store::bulk::SampleTokens,
    admin_token: Option<&str>,
) -> anyhow::Result<Vec<Credential>> {
    use crate::store::people::NewUser;
    use crate::workflow::Role;
    let now = rt.clock.now_ms();
    let admin = rt
        .store
        .users(10, 0)
        .await?
        .into_iter()
        .find(|u| u.role == Role::Admin)
        .ok_or_else(|| anyhow::anyhow!("the instance has no admin"))?;
    let admin_token = match admin_token {
        Some(t) => t.to_string(),
        None => match &rt.settings.admin_token {
            Some(t) => t.expose().to_string(),
            None => rt.store.issue_token(admin.id, "demo", now, Some(admin.id)).await?,
        },
    };
    let mut out = vec![Credential {
        id: admin.id,
        role: "admin",
        username: admin.username.clone(),
        password: String::new(),
        token: admin_token,
        name: admin.display_name.clone(),
    }];
    out.extend(tokens.finance.iter().map(|f| Credential::of("finance", f)));
    out.extend(tokens.departments.iter().map(|d| Credential::of("department", d)));
    // The third party: an institution independent of the bureau and of the department it
    // evaluates, with one user, and a key evaluation of the tour department's largest project.
    let firm_user = rt
        .store
        .create_user(
            &NewUser {
                username: "tp001".into(),
                display_name: "县明诚绩效评价咨询有限公司".into(),
                role: Role::ThirdParty,
                department_code: None,
                email: "tp001@thirdparty.example.cn".into(),
                language: "zh".into(),
                expert: None,
                digest: false,
                department_head: false,
            },
            now,
            Some(admin.id),
        )
        .await?;
    let firm = rt
        .store
        .create_third_party(
            &crate::store::key_eval::NewThirdParty {
                code: "TP001".into(),
                name: firm_user.display_name.clone(),
                affiliations: Vec::new(),
                bureau_affiliated: false,
                members: vec![firm_user.id],
            },
            admin.id,
            now,
        )
        .await?;
    if let (Some(firm_id), Some(dept)) = (firm["id"].as_i64(), tokens.departments.first()) {
        let dept_user = rt.store.user(dept.id).await?;
        let filter = crate::store::projects::ProjectFilter {
            department_id: dept_user.department_id,
            fiscal_year: Some(DEMO_YEAR),
            sector: None,
        };
        let (projects, _) = rt.store.projects(&filter, 500, 0).await?;
        if let Some(largest) = projects.iter().max_by_key(|p| p.amount) {
            rt.store
                .create_key_evaluation(
                    &crate::store::key_eval::NewKeyEvaluation {
                        project_id: Some(largest.id),
                        department_id: None,
                        fiscal_year: DEMO_YEAR,
                        third_party_id: firm_id,
                        weights: None,
                    },
                    admin.id,
                    now,
                )
                .await?;
        }
    }
    let firm_token = rt.store.issue_token(firm_user.id, "demo", now, Some(admin.id)).await?;
    out.push(Credential::of(
        "third_party",
        &crate::store::bulk::SampleUser {
            id: firm_user.id,
            username: firm_user.username.clone(),
            display_name: firm_user.display_name.clone(),
            token: firm_token,
        },
    ));
    out.extend(tokens.experts.iter().map(|e| Credential::of("expert", e)));
    // Each a password of its own (argon2id hashing is deliberately slow: one at a time).
    // An admin who already chose a password keeps it.
    for c in &mut out {
        if c.role == "admin" && rt.store.has_password(c.id).await? {
            c.password = "(unchanged)".into();
            continue;
        }
        c.password = demo_password();
        rt.store.set_password(c.id, &c.password, now, Some(admin.id)).await?;
    }
    Ok(out)
}

/// A password for a demo user: 12 characters that cannot be misread (no 0/O, 1/l/I).
fn demo_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY23456789";
    let mut rng = rand::rng();
    (0..12).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// The credentials file: a header saying how to use it, then one user a line.
fn credentials_text(rt: &Runtime, credentials: &[Credential]) -> String {
    let mut text = format!(
        "# jixiao demo: who can sign in. Web pages: {url}/login with the username and password.\n\
         # API: the header `Authorization: Bearer <token>` on {url}/api/v1/...\n\
         # The experts are every expert of the sector of the tour's project (the panel draws three of them).\n\
         # role       username   password      token                                           name\n",
        url = rt.settings.public_url
    );
    for c in credentials {
        text.push_str(&format!("{:<11} {:<10} {:<13} {} {}\n", c.role, c.username, c.password, c.token, c.name));
    }
    text
}

/// Writes a file readable and writable by this user only (mode 0600), replacing it.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// The workflow of departments' overall performance, started with the demo.
pub const OVERALL_WORKFLOW: &str = "department-overall";

/// Every demo department declares its overall duties and budget for the year (部门整体): the
/// budget is the sum of its projects, its key work its three largest projects, and its overall
/// indicators the usual four. Returns how many declared.
async fn declare_overall(rt: &Runtime) -> anyhow::Result<usize> {
    use crate::domain::project::{FundingSource, KeyWork, OverallInput};
    use crate::domain::{Basis, Indicator, Level1, Operator, TargetValue};
    let ind = |level1, level2: &str, name: &str, operator, value: &str, unit: &str, weight: i64| Indicator {
        level1,
        level2: level2.into(),
        name: name.into(),
        operator,
        value: TargetValue::parse(value),
        unit: unit.into(),
        weight: weight.into(),
        basis: Basis::Plan,
        explanation: String::new(),
        core: false,
    };
    let now = rt.clock.now_ms();
    let mut declared = 0;
    for dept in rt.store.departments().await? {
        let filter = crate::store::projects::ProjectFilter {
            department_id: Some(dept.id),
            fiscal_year: Some(DEMO_YEAR),
            sector: None,
        };
        let (mut projects, _) = rt.store.projects(&filter, 500, 0).await?;
        if projects.is_empty() {
            continue;
        }
        let amount = projects.iter().fold(crate::domain::Fen::ZERO, |a, p| a.checked_add(p.amount).unwrap_or(a));
        projects.sort_by_key(|p| std::cmp::Reverse(p.amount));
        let key_work: Vec<KeyWork> = projects
            .iter()
            .take(3)
            .map(|p| KeyWork { name: p.name.clone(), description: String::new(), amount: p.amount })
            .collect();
        let input = OverallInput {
            duties: format!(
                "{}依据“三定”方案履行本部门职能职责，组织实施年度重点工作，管好用好部门预算资金。",
                dept.name
            ),
            indicators: vec![
                ind(
                    Level1::Output,
                    "数量指标",
                    "年度重点工作任务完成数",
                    Operator::Ge,
                    &key_work.len().to_string(),
                    "项",
                    30,
                ),
                ind(Level1::Output, "时效指标", "预算资金支付进度", Operator::Ge, "90", "%", 30),
                ind(Level1::Benefit, "社会效益指标", "部门履职目标实现程度", Operator::Qualitative, "有效实现", "", 30),
                ind(Level1::Satisfaction, "服务对象满意度指标", "服务对象满意度", Operator::Ge, "90", "%", 10),
            ],
            key_work,
            amount,
            funding_source: FundingSource::GeneralBudget,
        };
        rt.store.put_department_overall(&dept, DEMO_YEAR, &input, None, now).await?;
        declared += 1;
    }
    Ok(declared)
}

/// A valid form for a task, filled as a diligent user would: the declared indicators for a
/// target declaration, targets met for monitoring and self-evaluation, good review scores,
/// approval. Used by the benchmarks and to advance the demo.
pub async fn sample_form(
    store: &crate::store::Store,
    task: &crate::store::tasks::Task,
) -> anyhow::Result<serde_json::Value> {
    use serde_json::json;
    let case = store.case_summary(task.case_id).await?;
    let project = store.project(case.project_id).await?;
    Ok(match task.form.as_str() {
        "ex_ante_report" => {
            json!({"summary": format!("{}事前绩效评估报告：立项必要、投入经济、目标合理、方案可行、筹资合规。", project.name), "conclusion": "予以支持"})
        }
        "targets" => json!({"indicators": project.indicators}),
        "monitoring" => {
            let progress: Vec<_> = project
                .indicators
                .iter()
                .enumerate()
                .map(|(i, ind)| match (ind.operator.is_quantitative(), ind.value.as_number()) {
                    (true, Some(v)) => {
                        json!({"index": i, "cumulative": (v * rust_decimal::Decimal::new(7, 0) / rust_decimal::Decimal::new(12, 0)).round_dp(2).to_string(), "expected_full_year": v.to_string()})
                    }
                    (true, None) => json!({"index": i, "cumulative": "1", "expected_full_year": "1"}),
                    (false, _) => json!({"index": i, "level": "达成"}),
                })
                .collect();
            let executed = crate::domain::Fen::from_fen(project.budget.fen() * 7 / 12);
            json!({"executed": executed, "progress": progress, "likelihood": "确定能"})
        }
        "self_evaluation" => {
            let items: Vec<_> = project
                .indicators
                .iter()
                .enumerate()
                .map(|(i, ind)| match (ind.operator.is_quantitative(), ind.value.as_number()) {
                    (true, Some(v)) => json!({"index": i, "value": v.to_string()}),
                    _ => json!({"index": i, "value": {"level": "达成", "share": "0.9"}}),
                })
                .collect();
            json!({"executed": crate::domain::Fen::from_fen(project.amount.fen() * 97 / 100), "items": items})
        }
        "ex_ante_assessment" => {
            json!({"scores": {"立项必要性": 18, "投入经济性": 17, "绩效目标合理性": 17, "实施方案可行性": 18, "筹资合规性": 18}, "comment": "论证充分"})
        }
        "target_review" => {
            json!({"scores": {"完整性": 23, "相关性": 23, "适当性": 22, "可行性": 23}, "comment": "指标细化量化"})
        }
        "result_application" => json!({"decision": "approve"}),
        "disclosure" => json!({"publish": true}),
        other => anyhow::bail!("no sample for form {other}"),
    })
}
