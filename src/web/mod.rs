//! The web pages, served by the API's own server: HTML rendered on the server from templates
//! embedded in the binary (compiled and test-rendered at start-up, HTML-escaped), one
//! stylesheet and no external asset. Chinese by default, English on request.
//!
//! Log-in is by username and password (argon2id hashes, `store::sessions`); the session lives in
//! an HttpOnly, SameSite=Lax cookie (Secure when `public_url` is https). Every form carries a
//! CSRF token: the session's, or before log-in a random one doubled in a cookie. Failed log-ins
//! are counted per username and lock it for a while. API tokens keep working for machines.

mod libraries;
mod library;
mod overview;
mod report;
mod tasks;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
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
    ("projects.html", include_str!("projects.html")),
    ("dashboard.html", include_str!("dashboard.html")),
    ("cases.html", include_str!("cases.html")),
    ("case.html", include_str!("case.html")),
    ("workflows.html", include_str!("workflows.html")),
    ("workflow.html", include_str!("workflow.html")),
    ("panels.html", include_str!("panels.html")),
    ("actions.html", include_str!("actions.html")),
    ("disclosures.html", include_str!("disclosures.html")),
    ("libraries.html", include_str!("libraries.html")),
    ("report.html", include_str!("report.html")),
    ("report_list.html", include_str!("report_list.html")),
    ("library.html", include_str!("library.html")),
    ("task.html", include_str!("task.html")),
    ("error.html", include_str!("error.html")),
    ("paging.html", include_str!("paging.html")),
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
    ("points", "得分", "Points"),
    ("points_or_ratings", "填写得分，或按要点逐项评定等级", "Enter points, or rate each sub-item"),
    ("rating_shares", "等级折算：", "Ratings count as:"),
    ("comment", "评审意见", "Comments"),
    ("execution", "预算执行", "Budget execution"),
    ("executed_yuan", "已执行金额（元）", "Executed (yuan)"),
    ("current_budget", "当前预算（元）", "Current budget (yuan)"),
    ("level", "完成程度", "Level reached"),
    ("cumulative", "累计完成值", "Reached so far"),
    ("expected_full_year", "全年预计完成值", "Expected for the year"),
    ("deviation", "偏差分析", "Deviation"),
    ("deviation_cause", "偏差原因", "Cause of deviation"),
    ("deviation_text", "原因说明", "Cause explained"),
    ("likelihood", "全年目标完成可能性", "Will the year's target be met?"),
    ("explanation", "情况说明", "Explanation"),
    ("share", "完成比例", "Share achieved"),
    ("actual", "实际完成值", "Actual value"),
    ("evidence", "佐证材料", "Supporting documents"),
    ("one_per_line", "每行一份（文件名或档案号）", "One per line (file name or archive number)"),
    ("ex_ante_report", "事前绩效评估报告", "Ex-ante assessment report"),
    ("summary", "报告摘要", "Summary"),
    ("conclusion", "评估结论", "Conclusion"),
    ("indicator_name", "指标名称", "Indicator"),
    ("level1", "一级指标", "Level 1"),
    ("level2", "二级指标", "Level 2"),
    ("operator", "比较方式", "Operator"),
    ("target_value", "指标值", "Target value"),
    ("unit", "度量单位", "Unit"),
    ("weight", "权重", "Weight"),
    ("basis", "指标值依据", "Basis"),
    ("rectification", "整改情况", "Rectification"),
    ("rectification_report", "整改报告", "Rectification report"),
    ("decision", "审核决定", "Decision"),
    ("disclosure", "信息公开", "Disclosure"),
    ("publish_confirm", "同意公开绩效目标和评价结果", "Publish the targets and results"),
    ("opt_approve", "同意", "Approve"),
    ("round", "第几轮", "Round"),
    ("fix_these", "请修改以下内容后再提交：", "Please correct the following and submit again:"),
    ("form_has_errors", "表单有误，请按提示修改。", "The form has mistakes; see the messages."),
    ("case_documents", "项目材料", "Case documents"),
    ("department", "单位", "Department"),
    ("sector", "行业", "Sector"),
    ("amount", "项目金额", "Amount"),
    ("yuan", "元", "yuan"),
    ("fiscal_year", "年度", "Fiscal year"),
    ("indicators", "绩效指标", "Indicators"),
    ("files", "附件", "Files"),
    ("opinions", "评审意见", "Panel opinions"),
    ("findings", "指标检查结果", "Indicator check findings"),
    ("form_ex_ante_report", "事前绩效评估报告", "Ex-ante assessment report"),
    ("form_targets", "绩效目标申报", "Target declaration"),
    ("form_monitoring", "绩效监控表", "Monitoring report"),
    ("form_self_evaluation", "绩效自评表", "Self-evaluation"),
    ("form_rectification", "整改报告", "Rectification report"),
    ("remove", "删除此指标", "Remove this indicator"),
    ("library", "行业指标库", "Sector indicator library"),
    ("core", "核心指标", "core"),
    ("declared", "已申报", "declared"),
    ("add_picked", "添加勾选的指标", "Add the ticked indicators"),
    ("submit", "提交", "Submit"),
    ("upload_report", "上传评估报告", "Upload the report"),
    ("upload_hint", "PDF、OFD、Word 或 Excel，不超过 20 MB", "PDF, OFD, Word or Excel, at most 20 MB"),
    ("upload", "上传", "Upload"),
    ("uploaded", "文件已上传。", "The file was uploaded."),
    ("decline", "回避或无法评审", "Decline this review"),
    ("decline_reason", "理由（如存在利益关系）", "Reason (e.g. a conflict of interest)"),
    ("decline_confirm", "确认回避", "Decline"),
    ("task_closed", "该事项已办结。", "This task is closed."),
    ("submitted", "已提交，谢谢。", "Submitted. Thank you."),
    (
        "prefilled",
        "已按 {year} 年申报的指标预填，请逐项核实目标值后提交。",
        "Filled in from the indicators declared for {year}; check each target before submitting.",
    ),
    (
        "flags_confirm",
        "有指标的目标值远离本项目历史或行业取值范围（见各指标旁的提示）。请核实；确认无误后勾选“已核实”再提交。",
        "Some targets are far from the project's history or the sector's range (see the notes beside them). Check them; to submit them as they are, tick “checked” and submit again.",
    ),
    ("duties", "部门职能职责", "The department's duties"),
    ("libraries", "指标库", "Indicator libraries"),
    ("annual_report", "年度预算绩效管理工作情况", "annual performance management report"),
    ("figure", "指标", "Figure"),
    ("show", "查看", "Show"),
    ("download_xlsx", "下载 Excel", "Download XLSX"),
    ("total", "共计", "Total"),
    ("code", "编码", "Code"),
    ("name", "名称", "Name"),
    (
        "libraries_note",
        "行业共性指标库来自指标核查插件的规则数据，随插件更新；部门（单位）指标库由财政局维护，或由部门提出、财政局审核后启用。",
        "The sector common libraries are the indicator-check plugins' own data and change with them; a department's library is written by the bureau, or proposed by the department and used once the bureau approves it.",
    ),
    ("library_name", "指标库", "Library"),
    ("library_code", "代码", "Code"),
    ("version_in_use", "在用版本", "Version in use"),
    ("proposed_versions", "待审核版本", "Proposed versions"),
    ("versions", "历次版本", "Versions"),
    ("applies_to", "适用范围", "Applies to"),
    ("library_published", "已启用", "published"),
    ("library_proposed", "待审核", "proposed"),
    ("library_rejected", "已退回", "rejected"),
    ("mark_new", "新增", "new"),
    ("mark_changed", "修改", "changed"),
    ("mark_same", "未变", "unchanged"),
    ("decision_note", "审核意见", "Decision note"),
    ("approve_version", "审核通过并启用", "Approve and publish"),
    ("reject_version", "退回", "Reject"),
    ("lib_write_propose", "提出新版本", "Propose a new version"),
    ("lib_write_publish", "发布新版本", "Publish a new version"),
    (
        "lib_rows_help",
        "每行一个指标，各栏以制表符分隔（从 Excel 复制的行即是），依次为：一级指标、二级指标、三级指标、指标性质、指标值、度量单位、分值、取值依据、依据来源、指标解释、核心指标、适用行业、适用单位、适用项目类别；前五栏必填。下面是在用版本，可复制到 Excel 修改后整体粘贴回来。",
        "One indicator a line, its fields separated by tabs (rows copied from Excel are): level 1, level 2, level 3, operator, value, unit, weight, basis, source of the value, explanation, core, sectors, departments, project types; the first five are required. The version in use is below: copy it to Excel, edit it and paste all of it back.",
    ),
    ("lib_rows", "指标（每行一个）", "Indicators (one a line)"),
    ("lib_version_note", "版本说明", "Note on this version"),
    ("lib_propose", "提交财政局审核", "Submit to the bureau for approval"),
    ("lib_publish", "发布并启用", "Publish and use"),
    ("lib_start", "建立本单位指标库", "Start your unit's library"),
    ("key_work", "年度重点工作", "Key work of the year"),
    ("confirm_flags", "已核实上述提示的取值，按此提交", "I have checked the flagged values; submit them as they are"),
    ("declined", "已回避，系统将另行抽取评审人员。", "Declined; another reviewer will be drawn."),
    ("csrf_refused", "表单已失效，请刷新页面后重试。", "The form is no longer valid; reload the page and try again."),
    ("refused", "无法打开", "Cannot open this"),
    ("status_403", "没有权限", "Not allowed"),
    ("status_404", "未找到", "Not found"),
    ("status_409", "状态已变化", "Changed meanwhile"),
    ("projects", "我的项目", "Projects"),
    ("dashboard", "总览", "Dashboard"),
    ("cases", "案卷", "Cases"),
    ("workflows", "流程", "Workflows"),
    ("panels", "评审专家", "Panels"),
    ("actions", "结果应用", "Result actions"),
    ("disclosures", "信息公开", "Disclosure"),
    ("light", "预警", "Light"),
    ("light_red", "红灯", "Red"),
    ("light_yellow", "黄灯", "Yellow"),
    ("light_green", "绿灯", "Green"),
    ("light_blue", "蓝灯（目标偏低）", "Blue (target too low)"),
    ("not_reported", "未填报", "Not reported"),
    ("status", "状态", "Status"),
    ("open_tasks", "待办", "Open tasks"),
    ("all", "全部", "All"),
    ("filter", "筛选", "Filter"),
    ("page_of", "页", "page"),
    ("previous", "上一页", "Previous"),
    ("next", "下一页", "Next"),
    ("cases_per_stage", "各环节案卷", "Cases per stage"),
    ("overdue_tasks", "逾期事项", "Overdue tasks"),
    ("monitoring_lights", "监控预警", "Monitoring lights"),
    ("run", "监控批次", "Monitoring run"),
    ("completion_rate", "填报率", "Completion rate"),
    ("issued", "下发", "Issued"),
    ("filled", "已填报", "Filled"),
    ("red_projects", "红灯项目", "Red projects"),
    ("grades", "自评等级分布", "Self-evaluation grades"),
    ("graded", "已评", "Graded"),
    ("no_run", "尚无监控批次。", "No monitoring run yet."),
    ("assignee", "办理人", "Assignee"),
    ("audit_trail", "办理记录", "Audit trail"),
    ("when", "时间", "When"),
    ("who", "操作人", "Who"),
    ("what", "事项", "What"),
    ("details", "详情", "Details"),
    ("system", "系统", "System"),
    ("version", "版本", "Version"),
    ("published", "发布时间", "Published"),
    ("origin", "来源", "Origin"),
    ("definition", "流程定义", "Definition"),
    ("stage_diagram", "环节图", "Stages"),
    ("only_when", "条件：", "Only when"),
    ("schedule", "定时：", "Scheduled"),
    ("submit_by", "填报：", "Submitted by"),
    ("panel_of", "评审组（部门+财政+专家）：", "Panel (department+finance+experts):"),
    ("approve_by", "审批：", "Approved by"),
    ("revise_loop", "退回修改", "revise"),
    ("reject_exit", "不予支持", "reject"),
    ("member", "人员", "Member"),
    ("role", "角色", "Role"),
    ("completed", "已完成", "Completed"),
    ("declined_count", "已回避", "Declined"),
    ("kind", "类型", "Kind"),
    ("percent", "比例", "Percent"),
    ("source", "依据", "Source"),
    ("deadline", "期限", "Deadline"),
    ("approve", "同意", "Approve"),
    ("reject", "不同意", "Reject"),
    ("decided", "已处理。", "Decided."),
    ("publish", "发布", "Publish"),
    ("publish_new", "发布公开信息", "Publish"),
    ("kind_targets", "绩效目标", "Targets"),
    ("kind_results", "评价结果", "Results"),
    ("correction_note", "更正说明（再次发布时必填）", "Correction note (required for a new version)"),
    ("rows", "条数", "Rows"),
    ("public_link", "公开地址", "Public address"),
    ("published_ok", "已发布。", "Published."),
    ("none_yet", "暂无。", "None yet."),
    ("action_proposed", "待审批", "Proposed"),
    ("action_approved", "已批准", "Approved"),
    ("action_in_progress", "执行中", "In progress"),
    ("action_escalated", "已督办", "Escalated"),
    ("action_done", "已完成", "Done"),
    ("action_rejected", "未通过", "Rejected"),
    ("stage_pre_assessment", "事前绩效评估", "Ex-ante assessment"),
    ("stage_target_review", "绩效目标审核", "Target review"),
    ("stage_monitoring", "绩效运行监控", "Monitoring"),
    ("stage_self_evaluation", "单位绩效自评", "Self-evaluation"),
    ("stage_result_application", "评价结果应用", "Result application"),
    ("stage_disclosure", "信息公开", "Disclosure"),
    ("stage_-", "已结束", "Ended"),
    ("ev_case_created", "建档", "Case created"),
    ("ev_task_opened", "下发事项", "Task opened"),
    ("ev_task_completed", "提交", "Submitted"),
    ("ev_panel_drawn", "抽取评审组", "Panel drawn"),
    ("ev_review_declined", "评审回避", "Review declined"),
    ("ev_member_replaced", "补抽评审人员", "Reviewer replaced"),
    ("ev_checks_requested", "指标检查", "Indicator checks requested"),
    ("ev_checks_finished", "指标检查完成", "Indicator checks finished"),
    ("ev_file_uploaded", "上传附件", "File uploaded"),
    ("ev_case_finished", "办结", "Case finished"),
    ("ev_action_proposed", "提出结果应用措施", "Action proposed"),
    ("ev_action_approved", "批准措施", "Action approved"),
    ("ev_action_rejected", "否决措施", "Action rejected"),
    ("ev_budget_changed", "预算调整", "Budget changed"),
    ("ev_stage_entered", "进入环节", "Stage entered"),
    ("ev_decided", "评审决定", "Decision"),
];

/// The shipped stage kinds, in order (for filters and labels).
const STAGES: [&str; 6] =
    ["pre_assessment", "target_review", "monitoring", "self_evaluation", "result_application", "disclosure"];

fn label_of(lang: &str, prefix: &str, key: &str) -> String {
    let full = format!("{prefix}{key}");
    WORDS
        .iter()
        .find(|(k, ..)| *k == full)
        .map(|(_, zh, en)| if lang == "en" { *en } else { *zh })
        .unwrap_or(key)
        .to_string()
}

/// The stages the published workflows name, by id: each one's title and kind, from the newest
/// version of its workflow (where workflows share a stage id, the first by id names it).
#[derive(Debug, Default)]
struct StageNames(BTreeMap<String, (String, &'static str)>);

impl StageNames {
    /// The stages of every workflow's newest version (for pages that list cases of several).
    async fn load(rt: &Runtime) -> StageNames {
        let versions = rt.store.workflow_versions().await.unwrap_or_default();
        let mut newest: BTreeMap<&str, u32> = BTreeMap::new();
        for v in &versions {
            let n = newest.entry(v.workflow_id.as_str()).or_default();
            *n = (*n).max(v.version);
        }
        let mut names = StageNames::default();
        for (id, version) in newest {
            names.add(rt, id, version).await;
        }
        names
    }

    /// The stages of one workflow version (for a page about one case).
    async fn of(rt: &Runtime, workflow_id: &str, version: u32) -> StageNames {
        let mut names = StageNames::default();
        names.add(rt, workflow_id, version).await;
        names
    }

    async fn add(&mut self, rt: &Runtime, workflow_id: &str, version: u32) {
        if let Ok(wf) = rt.store.workflow(&rt.registry, workflow_id, version).await {
            for s in &wf.stages {
                self.0.entry(s.id.clone()).or_insert((s.title.clone(), s.kind.as_str()));
            }
        }
    }

    /// A stage's name: the pages' word for a shipped stage id; otherwise the workflow's title
    /// for it (in English, the word for its kind); the id itself when no workflow names it.
    fn label(&self, lang: &str, stage: &str) -> String {
        let full = format!("stage_{stage}");
        if WORDS.iter().any(|(k, ..)| *k == full) {
            return label_of(lang, "stage_", stage);
        }
        match self.0.get(stage) {
            Some((_, kind)) if lang == "en" => label_of(lang, "stage_", kind),
            Some((title, _)) => title.clone(),
            None => stage.to_string(),
        }
    }

    /// The stages to filter by: the shipped ones, then the others the workflows name.
    fn options(&self, lang: &str) -> Vec<Value> {
        let others = self.0.keys().filter(|id| !STAGES.contains(&id.as_str())).map(String::as_str);
        STAGES.iter().copied().chain(others).map(|id| json!({"id": id, "label": self.label(lang, id)})).collect()
    }
}

/// What an event of a case's history records.
fn event_label(lang: &str, kind: &str) -> String {
    label_of(lang, "ev_", kind)
}

/// A result action's name.
fn action_label(lang: &str, kind: &str) -> String {
    if lang == "en" { kind.replace('_', " ") } else { crate::store::exchange::action_label(kind).to_string() }
}

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
        // Semi-strict: a missing optional value is false in a test, but printing one is an error.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
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
    serde_json::from_str(include_str!("sample.json")).unwrap_or_default()
}

pub fn routes(rt: Arc<Runtime>) -> Router<Arc<Runtime>> {
    Router::new()
        .route("/", get(inbox))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/assets/app.css", get(stylesheet))
        .route("/tasks/{id}", get(tasks::task_page).post(tasks::submit))
        .route("/tasks/{id}/decline", post(tasks::decline))
        .route(
            "/tasks/{id}/files",
            post(tasks::upload)
                .layer(axum::extract::DefaultBodyLimit::max(crate::store::files::MAX_FILE_BYTES + 65_536)),
        )
        .route("/files/{id}", get(tasks::download))
        .route("/projects", get(overview::projects))
        .route("/dashboard", get(overview::dashboard))
        .route("/cases", get(overview::cases))
        .route("/cases/{id}", get(overview::case))
        .route("/workflows", get(overview::workflows))
        .route("/workflows/{id}/{version}", get(overview::workflow))
        .route("/panels", get(overview::panels))
        .route("/actions", get(overview::actions))
        .route("/actions/{id}", post(overview::decide_action))
        .route("/disclosures", get(overview::disclosures).post(overview::publish))
        .route("/report", get(report::report))
        .route("/report/{year}/report.xlsx", get(report::workbook))
        .route("/report/{year}/{key}", get(report::figure))
        .route("/libraries", get(libraries::libraries))
        .route("/libraries/{code}", get(libraries::library).post(libraries::write))
        .route("/libraries/{code}/versions/{version}", post(libraries::decide))
        .layer(axum::middleware::from_fn_with_state(rt, remember_language))
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
    // nosniff, X-Frame-Options and the referrer policy come from the router's
    // `security_headers`, as for every answer.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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

/// The signed-in visitor with their language, or the redirect to log in and come back to `next`.
fn signed_in(session: Option<Session>, lang: Lang, next: &str) -> Result<(Session, Lang), Redirect> {
    match session {
        Some(s) => {
            let lang = lang.for_user(&s.user);
            Ok((s, lang))
        }
        None => Err(Redirect::to(&format!("/login?next={next}"))),
    }
}

/// Whether the visitor is of the bureau (admin or finance).
fn is_bureau(session: &Session) -> bool {
    matches!(session.user.role, crate::workflow::Role::Admin | crate::workflow::Role::Finance)
}

/// A bureau page's visitor (admin or finance) with the page's language; anyone else is
/// answered instead: the signed-out with the login page (then back to `next`), other roles
/// with a refusal saying they may not `what`.
fn bureau_visitor(
    rt: &Runtime,
    session: Option<Session>,
    lang: Lang,
    next: &str,
    what: &str,
) -> Result<(Session, Lang), Box<Response>> {
    let (session, lang) = signed_in(session, lang, next).map_err(|login| Box::new(login.into_response()))?;
    if !is_bureau(&session) {
        let e = crate::api::error::ApiError::forbidden(what);
        return Err(Box::new(tasks::refused(rt, &lang.0, &session, e)));
    }
    Ok((session, lang))
}

/// Renders a page for a signed-in user.
fn show(rt: &Runtime, lang: &Lang, session: &Session, name: &str, ctx: serde_json::Value) -> Response {
    match rt.pages.render(name, &lang.0, Some(&session.user), &session.csrf, ctx) {
        Ok(html) => page(html, Vec::new()),
        Err(e) => failure(e),
    }
}

/// A form's poster with the page's language: signed in (else the login page, then back to
/// `next`) and sending the session's CSRF token (else refused).
fn form_poster(
    session: Option<Session>,
    lang: Lang,
    next: &str,
    token: Option<&str>,
) -> Result<(Session, Lang), Box<Response>> {
    let (session, lang) = signed_in(session, lang, next).map_err(|login| Box::new(login.into_response()))?;
    match csrf_refusal(&session, &lang, token) {
        Some(refusal) => Err(Box::new(refusal)),
        None => Ok((session, lang)),
    }
}

/// The refusal of a form whose CSRF token is not the session's; `None` when it is.
fn csrf_refusal(session: &Session, lang: &Lang, token: Option<&str>) -> Option<Response> {
    (token != Some(session.csrf.as_str()))
        .then(|| (StatusCode::FORBIDDEN, word(&lang.0, "csrf_refused")).into_response())
}

/// Remembers a language chosen with `?lang=` on any page, in a cookie for a year.
async fn remember_language(
    State(rt): State<Arc<Runtime>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let asked = Query::<LangQuery>::try_from_uri(req.uri()).ok().and_then(|q| q.0.lang);
    let mut resp = next.run(req).await;
    if let Some(lang) = asked.filter(|l| l == "zh" || l == "en") {
        resp.headers_mut().append(header::SET_COOKIE, set_cookie(&rt, LANG_COOKIE, &lang, 365 * 86_400));
    }
    resp
}

#[derive(Deserialize)]
struct PageQuery {
    next: Option<String>,
}

/// Where to go after log-in: a path on this server only.
/// Where a log-in may send the browser on: a path of this site only. Browsers drop tabs and
/// line breaks from addresses and read `\\` as `/`, so `/<tab>/evil.example` would become
/// `//evil.example` (another site): only visible ASCII without a backslash is accepted, which
/// also keeps every accepted value a valid `Location` header.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && p.len() <= 500
                && p.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\') =>
        {
            p.to_string()
        }
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
    render_login(&rt, &lang, "", "", &local_path(q.next.as_deref()), StatusCode::OK).await
}

/// The log-in page with a fresh form token, signed by the server (see
/// `Store::login_form_token`) and doubled in a cookie.
async fn render_login(
    rt: &Runtime,
    lang: &Lang,
    error: &str,
    username: &str,
    next: &str,
    status: StatusCode,
) -> Response {
    let csrf = match rt.store.login_form_token(rt.clock.now_ms()).await {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    let ctx = json!({"error": error, "username": username, "next": next});
    match rt.pages.render("login.html", &lang.0, None, &csrf, ctx) {
        Ok(html) => {
            let headers = vec![(header::SET_COOKIE, set_cookie(rt, LOGIN_CSRF_COOKIE, &csrf, 3600))];
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

/// The address a request came from, as the log-in limits count it: the connection's peer or,
/// when the peer is one of the `trusted_proxies`, the last address in `X-Forwarded-For` that is
/// not itself a trusted proxy. An IPv6 address counts by its /64 network, which one household
/// or one attacker's machine usually holds whole.
pub fn client_address(trusted: &[IpAddr], peer: Option<IpAddr>, headers: &HeaderMap) -> String {
    let mut addr = peer;
    if peer.is_some_and(|p| trusted.contains(&p)) {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .rfind(|a| !trusted.contains(a));
        if forwarded.is_some() {
            addr = forwarded;
        }
    }
    match addr {
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        Some(a) => a.to_string(),
        None => "unknown".into(),
    }
}

async fn login(
    State(rt): State<Arc<Runtime>>,
    lang: Lang,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<LoginForm>,
) -> Response {
    let word = |k: &'static str| word(&lang.0, k);
    let next = local_path(Some(&f.next));
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE);
    let now = rt.clock.now_ms();
    // The form's token must be the cookie's and one this server signed, within the hour: a
    // token a client made up (and set as its own cookie) does not pass.
    let signed = match rt.store.login_form_token_valid(&f.csrf, now).await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    if expected.is_none_or(|c| c != f.csrf || c.is_empty()) || !signed {
        return render_login(&rt, &lang, word("expired"), &f.username, &next, StatusCode::FORBIDDEN).await;
    }
    let client = client_address(&rt.settings.trusted_proxies, peer.map(|p| p.0.0.ip()), &headers);
    match rt.store.log_in(&f.username, &f.password, &client, now).await {
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
            render_login(&rt, &lang, word("wrong"), &f.username, &next, StatusCode::UNAUTHORIZED).await
        }
        Ok(Err(LoginRefused::Locked { until_ms })) => {
            let until = chrono::DateTime::from_timestamp_millis(until_ms)
                .map(|t| t.with_timezone(&chrono_tz::Asia::Shanghai).format("%H:%M").to_string())
                .unwrap_or_default();
            let message = word("locked").replace("{}", &until);
            render_login(&rt, &lang, &message, &f.username, &next, StatusCode::TOO_MANY_REQUESTS).await
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
    id: i64,
    project_code: String,
    project_name: String,
    stage_title: Value,
    task_label: Value,
    due: Value,
    state: &'static str,
}

async fn inbox(State(rt): State<Arc<Runtime>>, lang: Lang, Visitor(session): Visitor) -> Response {
    let (session, lang) = match signed_in(session, lang, "/") {
        Ok(x) => x,
        Err(login) => return login.into_response(),
    };
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
            id: t.id,
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
        Ok(html) => page(html, Vec::new()),
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
    fn a_log_in_sends_on_only_to_this_site() {
        for ok in ["/", "/cases?stage=monitoring&page=2", "/tasks/12", "/%E4%BB%BB%E5%8A%A1"] {
            assert_eq!(local_path(Some(ok)), ok);
        }
        for bad in [
            "//evil.example/",
            "/\tevil.example/",
            "/\t/evil.example/",
            "/\n/evil.example",
            "/\\evil.example",
            "/\u{b}",
            "https://evil.example/",
            "evil.example",
            "/任务",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(Some(&format!("/{}", "a".repeat(600)))), "/");
        assert_eq!(local_path(None), "/");
    }

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
