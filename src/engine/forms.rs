//! The forms people fill: what each task's body must contain, checked field by field. Each
//! problem is a `FieldError` with the field's path, so the caller can show every mistake at once.
//! Pure: the store hands in the project and stores what comes out.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::scoring::{self, Actual, Evaluation, Scheme};
use crate::domain::{Fen, FieldError, Indicator};
use crate::store::projects::Project;
use crate::workflow::ReviewForm;

/// What a valid form means for the case.
#[derive(Debug, Clone)]
pub enum FormOutcome {
    /// New indicators for the project (a target declaration).
    Targets {
        indicators: Vec<Indicator>,
        result: Value,
    },
    /// A submission; self-evaluations carry their score and grade.
    Submission {
        score: Option<Decimal>,
        grade: Option<String>,
        result: Value,
    },
    Review {
        score: Decimal,
        result: Value,
    },
    Approval {
        result: Value,
    },
}

fn err(path: &str, message: impl Into<String>, zh: impl Into<String>) -> FieldError {
    FieldError::bilingual(path, message, zh)
}

/// Deserialises `body` into `T`, turning serde's message into a field error.
fn typed<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(body.clone()).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let zh = format!("内容格式不正确：{message}");
        vec![err(if path == "." { "" } else { &path }, message, zh)]
    })
}

fn text_len(path: &str, s: &str, min: usize, max: usize, errs: &mut Vec<FieldError>) {
    let n = s.trim().chars().count();
    if n < min || s.chars().count() > max {
        errs.push(err(
            path,
            format!("expected {min}–{max} characters, got {n}"),
            format!("应为 {min}–{max} 个字，现为 {n} 个字"),
        ));
    }
}

/// Checks a task's form. `form` is the task's form name; `scheme` is the stage's scoring scheme
/// for self-evaluations.
pub fn check(
    form: &str,
    project: &Project,
    scheme: Option<&str>,
    body: &Value,
) -> Result<FormOutcome, Vec<FieldError>> {
    if !body.is_object() {
        return Err(vec![err("", "expected a JSON object", "提交的内容应为一个对象")]);
    }
    match form {
        "ex_ante_report" => ex_ante_report(body),
        "targets" => targets(body),
        "monitoring" => monitoring(project, body),
        "self_evaluation" => self_evaluation(project, scheme.unwrap_or("mof_2020_10"), body),
        "ex_ante_assessment" => review(ReviewForm::ExAnteAssessment, body),
        "target_review" => review(ReviewForm::TargetReview, body),
        "result_application" => approval_actions(body),
        "disclosure" => approval_publish(body),
        other => Err(vec![err(
            "",
            format!("the task's form '{other}' is not known to this server"),
            format!("本系统不认识表单“{other}”"),
        )]),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExAnteReportForm")]
struct ExAnteReport {
    summary: String,
    #[serde(default)]
    conclusion: String,
    #[serde(default)]
    document_name: Option<String>,
}

fn ex_ante_report(body: &Value) -> Result<FormOutcome, Vec<FieldError>> {
    let f: ExAnteReport = typed(body)?;
    let mut errs = Vec::new();
    text_len("summary", &f.summary, 10, 20_000, &mut errs);
    if f.conclusion.chars().count() > 2000 {
        errs.push(err("conclusion", "at most 2000 characters", "结论最多 2000 个字"));
    }
    if let Some(n) = &f.document_name {
        text_len("document_name", n, 1, 200, &mut errs);
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(FormOutcome::Submission {
        score: None,
        grade: None,
        result: json!({"summary": f.summary, "conclusion": f.conclusion, "document_name": f.document_name}),
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TargetsForm")]
struct Targets {
    indicators: Vec<Indicator>,
}

fn targets(body: &Value) -> Result<FormOutcome, Vec<FieldError>> {
    let f: Targets = typed(body)?;
    let mut errs = Vec::new();
    if f.indicators.is_empty() {
        errs.push(err("indicators", "declare at least one indicator", "请至少申报一个绩效指标"));
    }
    if f.indicators.len() > 200 {
        errs.push(err("indicators", "at most 200 indicators", "最多 200 个指标"));
    }
    for (i, ind) in f.indicators.iter().enumerate() {
        errs.extend(ind.validate(&format!("indicators[{i}]")));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let count = f.indicators.len();
    Ok(FormOutcome::Targets { indicators: f.indicators, result: json!({"indicators": count}) })
}

/// A decimal written as a JSON string or number.
fn decimal(path: &str, v: &Value, errs: &mut Vec<FieldError>) -> Option<Decimal> {
    let parsed = match v {
        Value::String(s) => s.trim().trim_end_matches('%').parse::<Decimal>().ok(),
        Value::Number(n) => {
            n.to_string().parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(&n.to_string()).ok())
        }
        _ => None,
    };
    if parsed.is_none() {
        errs.push(err(path, format!("expected a number, got {v}"), format!("应填写数字，现为 {v}")));
    }
    parsed
}

use crate::domain::monitoring::QUALITATIVE_LEVELS;

const DEVIATION_CAUSES: [&str; 5] = ["经费保障", "制度保障", "人员保障", "硬件条件保障", "其他"];
const LIKELIHOODS: [&str; 3] = ["确定能", "有可能", "完全不可能"];

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MonitoringForm")]
struct Monitoring {
    executed: Fen,
    progress: Vec<Progress>,
    #[serde(default)]
    deviation_cause: Option<String>,
    #[serde(default)]
    deviation_text: String,
    likelihood: String,
    #[serde(default)]
    explanation: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MonitoringProgress")]
struct Progress {
    index: usize,
    #[serde(default)]
    cumulative: Value,
    #[serde(default)]
    expected_full_year: Value,
    /// 达成 / 部分达成 / 未达成, for a qualitative indicator.
    #[serde(default)]
    level: Option<String>,
}

fn monitoring(project: &Project, body: &Value) -> Result<FormOutcome, Vec<FieldError>> {
    let f: Monitoring = typed(body)?;
    let mut errs = Vec::new();
    if f.executed < Fen::ZERO {
        errs.push(err("executed", "the executed amount cannot be negative", "执行金额不能为负数"));
    }
    if f.executed > project.budget && f.explanation.trim().is_empty() {
        errs.push(err(
            "executed",
            format!(
                "{} yuan exceeds the current budget of {} yuan; explain why in 'explanation'",
                f.executed, project.budget
            ),
            format!("执行金额 {} 元超过当前预算 {} 元，请在“情况说明”中说明原因", f.executed, project.budget),
        ));
    }
    let mut seen = vec![false; project.indicators.len()];
    let mut rows = Vec::new();
    for (i, p) in f.progress.iter().enumerate() {
        let path = format!("progress[{i}]");
        match seen.get_mut(p.index) {
            None => errs.push(err(
                &format!("{path}.index"),
                format!(
                    "the project has {} indicators (0–{})",
                    project.indicators.len(),
                    project.indicators.len().saturating_sub(1)
                ),
                format!("项目只有 {} 个指标", project.indicators.len()),
            )),
            Some(true) => errs.push(err(
                &format!("{path}.index"),
                format!("indicator {} is reported twice", p.index),
                format!("第 {} 个指标重复填报", p.index + 1),
            )),
            Some(s) => *s = true,
        }
        let qualitative = project.indicators.get(p.index).is_some_and(|i| !i.operator.is_quantitative());
        if qualitative {
            match p.level.as_deref() {
                Some(l) if QUALITATIVE_LEVELS.contains(&l) => {}
                Some(l) => errs.push(err(
                    &format!("{path}.level"),
                    format!("'{l}' is not a level (expected one of {})", QUALITATIVE_LEVELS.join(", ")),
                    format!("“{l}”不是可选的完成程度（应为：{}）", QUALITATIVE_LEVELS.join("、")),
                )),
                None => errs.push(err(
                    &format!("{path}.level"),
                    format!("a qualitative indicator is reported as a level ({})", QUALITATIVE_LEVELS.join(", ")),
                    format!("定性指标请选择完成程度（{}）", QUALITATIVE_LEVELS.join("、")),
                )),
            }
            rows.push(json!({"index": p.index, "level": p.level}));
            continue;
        }
        if p.level.is_some() && project.indicators.get(p.index).is_some() {
            errs.push(err(
                &format!("{path}.level"),
                "only a qualitative indicator is reported as a level",
                "只有定性指标填写完成程度",
            ));
        }
        let c = decimal(&format!("{path}.cumulative"), &p.cumulative, &mut errs);
        let e = decimal(&format!("{path}.expected_full_year"), &p.expected_full_year, &mut errs);
        for (name, v) in [("cumulative", c), ("expected_full_year", e)] {
            if v.is_some_and(|v| v < Decimal::ZERO) {
                errs.push(err(&format!("{path}.{name}"), "cannot be negative", "不能为负数"));
            }
        }
        if let (Some(c), Some(e)) = (c, e)
            && e < c
        {
            errs.push(err(
                &format!("{path}.expected_full_year"),
                format!("the expected full-year value {e} is below the cumulative value {c} already reached"),
                format!("全年预计值 {e} 不能低于已累计完成值 {c}"),
            ));
        }
        rows.push(json!({"index": p.index, "cumulative": c.map(|d| d.to_string()), "expected_full_year": e.map(|d| d.to_string())}));
    }
    for (i, ind) in project.indicators.iter().enumerate() {
        if !seen.get(i).copied().unwrap_or(true) {
            errs.push(err(
                "progress",
                format!("indicator {i} ({}) has no progress", ind.name),
                format!("指标“{}”未填写完成情况", ind.name),
            ));
        }
    }
    match &f.deviation_cause {
        Some(c) if !DEVIATION_CAUSES.contains(&c.as_str()) => errs.push(err(
            "deviation_cause",
            format!("'{c}' is not a cause (expected one of {})", DEVIATION_CAUSES.join(", ")),
            format!("“{c}”不是可选的偏差原因（应为：{}）", DEVIATION_CAUSES.join("、")),
        )),
        Some(c) if c == "其他" && f.deviation_text.trim().is_empty() => {
            errs.push(err("deviation_text", "describe the cause when it is 其他", "偏差原因为“其他”时请说明具体原因"))
        }
        _ => {}
    }
    if !LIKELIHOODS.contains(&f.likelihood.as_str()) {
        errs.push(err(
            "likelihood",
            format!("'{}' is not a likelihood (expected one of {})", f.likelihood, LIKELIHOODS.join(", ")),
            format!("请选择全年目标完成可能性（{}）", LIKELIHOODS.join("、")),
        ));
    }
    if f.explanation.chars().count() > 5000 || f.deviation_text.chars().count() > 5000 {
        errs.push(err("explanation", "at most 5000 characters", "说明最多 5000 个字"));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(FormOutcome::Submission {
        score: None,
        grade: None,
        result: json!({"executed": f.executed, "progress": rows, "deviation_cause": f.deviation_cause, "deviation_text": f.deviation_text, "likelihood": f.likelihood, "explanation": f.explanation}),
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SelfEvaluationForm")]
struct SelfEvaluation {
    executed: Fen,
    items: Vec<Actual>,
    #[serde(default)]
    explanation: String,
    /// References to the supporting documents (file names, archive numbers).
    #[serde(default)]
    evidence: Vec<String>,
}

fn self_evaluation(project: &Project, scheme_id: &str, body: &Value) -> Result<FormOutcome, Vec<FieldError>> {
    let f: SelfEvaluation = typed(body)?;
    let mut errs = Vec::new();
    if f.explanation.chars().count() > 5000 {
        errs.push(err("explanation", "at most 5000 characters", "说明最多 5000 个字"));
    }
    if f.evidence.len() > 50 {
        errs.push(err(
            "evidence",
            format!("{} documents; at most 50", f.evidence.len()),
            format!("佐证材料 {} 份，最多 50 份", f.evidence.len()),
        ));
    }
    for (i, e) in f.evidence.iter().enumerate().take(50) {
        text_len(&format!("evidence[{i}]"), e, 1, 500, &mut errs);
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let scheme = Scheme::builtin(scheme_id).ok_or_else(|| {
        vec![err("", format!("unknown scoring scheme '{scheme_id}'"), format!("未知的评分办法“{scheme_id}”"))]
    })?;
    // Scored against the budget as it stands now, with every adjustment (调剂, 追加, cuts).
    let eval = Evaluation { budget: project.budget, executed: f.executed, items: f.items };
    let card = scoring::score(&scheme, &project.indicators, &eval)
        .map_err(|e| vec![err("items", e.to_string(), format!("实际完成值有误：{e}"))])?;
    let grade = card.grade.label().to_string();
    Ok(FormOutcome::Submission {
        score: Some(card.total),
        grade: Some(grade),
        result: json!({"executed": f.executed, "items": eval.items, "explanation": f.explanation, "evidence": f.evidence, "scheme": scheme_id, "score_card": card}),
    })
}

/// A criterion's points from its sub-items' ratings: the maximum times the mean share, rounded
/// to two places.
fn rated(
    path: &str,
    max: u32,
    subs: &[&str],
    ratings: &serde_json::Map<String, Value>,
    errs: &mut Vec<FieldError>,
) -> Option<Decimal> {
    use crate::workflow::RATING_SHARES;
    let before = errs.len();
    let mut shares = Decimal::ZERO;
    for sub in subs {
        let p = format!("{path}.{sub}");
        match ratings.get(*sub).and_then(|v| v.as_str()) {
            Some(r) => match RATING_SHARES.iter().find(|(name, _)| *name == r) {
                Some((_, share)) => shares += Decimal::from(*share),
                None => errs.push(err(
                    &p,
                    format!("'{r}' is not a rating (expected 优, 良, 中 or 差)"),
                    format!("“{r}”不是评价等级（应为优、良、中、差）"),
                )),
            },
            None => errs.push(err(&p, "rate this sub-item 优, 良, 中 or 差", "请为该项评定等级：优、良、中或差")),
        }
    }
    for k in ratings.keys().filter(|k| !subs.contains(&k.as_str())) {
        errs.push(err(
            &format!("{path}.{k}"),
            format!("not a sub-item here (expected {})", subs.join(", ")),
            format!("不是本项的评价要点（应为：{}）", subs.join("、")),
        ));
    }
    if errs.len() > before {
        return None;
    }
    let mean = shares / Decimal::from(subs.len() as u64 * 100);
    Some((Decimal::from(max) * mean).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ReviewForm")]
struct Review {
    scores: serde_json::Map<String, Value>,
    #[serde(default)]
    comment: String,
}

fn review(form: ReviewForm, body: &Value) -> Result<FormOutcome, Vec<FieldError>> {
    let f: Review = typed(body)?;
    let mut errs = Vec::new();
    let mut total = Decimal::ZERO;
    for (name, max) in form.criteria() {
        let path = format!("scores.{name}");
        let subs = form.sub_items(name);
        match f.scores.get(*name) {
            None => errs.push(err(&path, format!("score {name} (0–{max})"), format!("请为“{name}”打分（0–{max}）"))),
            Some(Value::Object(ratings)) if !subs.is_empty() => {
                if let Some(d) = rated(&path, *max, subs, ratings, &mut errs) {
                    total += d;
                }
            }
            Some(Value::Object(_)) => {
                errs.push(err(&path, format!("a number of points (0–{max})"), format!("请填写分数（0–{max}）")))
            }
            Some(v) => {
                if let Some(d) = decimal(&path, v, &mut errs) {
                    if d < Decimal::ZERO || d > Decimal::from(*max) {
                        errs.push(err(
                            &path,
                            format!("{d} is outside 0–{max}"),
                            format!("{d} 分超出 0–{max} 分的范围"),
                        ));
                    } else if d.scale() > 2 {
                        errs.push(err(&path, "at most two decimals", "分数最多保留两位小数"));
                    } else {
                        total += d;
                    }
                }
            }
        }
    }
    for k in f.scores.keys() {
        if !form.criteria().iter().any(|(n, _)| n == k) {
            let names: Vec<&str> = form.criteria().iter().map(|(n, _)| *n).collect();
            errs.push(err(
                &format!("scores.{k}"),
                format!("not a criterion of this form (expected {})", names.join(", ")),
                format!("不是本表的评审内容（应为：{}）", names.join("、")),
            ));
        }
    }
    text_len("comment", &f.comment, 0, 5000, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(FormOutcome::Review {
        score: total,
        result: json!({"scores": f.scores, "total": total.to_string(), "comment": f.comment}),
    })
}

/// A rectification report (the `rectification` form): what was fixed, with references to the
/// evidence. Read by `store::evaluation::check_rectification`; this type only describes it.
#[derive(schemars::JsonSchema)]
#[schemars(rename = "RectificationForm")]
#[allow(dead_code)]
struct Rectification {
    /// 1–20000 characters.
    report: String,
    /// At most 50 references of 1–500 characters.
    #[serde(default)]
    evidence: Option<Vec<String>>,
}

/// The body of a task completion: the form of the task's kind, one of the forms above.
pub fn task_form_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let forms = [
        g.subschema_for::<ExAnteReport>(),
        g.subschema_for::<Targets>(),
        g.subschema_for::<Monitoring>(),
        g.subschema_for::<SelfEvaluation>(),
        g.subschema_for::<Rectification>(),
        g.subschema_for::<Review>(),
        g.subschema_for::<ActionsApproval>(),
        g.subschema_for::<Publish>(),
    ];
    schemars::json_schema!({
        "description": "The form of the task's kind: ex_ante_report, targets, monitoring, self_evaluation, rectification, ex_ante_assessment and target_review (a review), result_application, disclosure",
        "oneOf": forms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ex_ante_criteria_may_be_rated_by_sub_item() {
        let body = json!({"scores": {
            "立项必要性": {"政策相符性": "优", "需求迫切性": "优", "职能相关性": "良", "与其他项目不重复": "优"},
            "投入经济性": 15,
            "绩效目标合理性": {"目标明确性": "中", "指标细化量化": "差", "目标与投入匹配": "良"},
            "实施方案可行性": 18.5,
            "筹资合规性": 20
        }, "comment": "方案可行"});
        let Ok(FormOutcome::Review { score, .. }) = review(ReviewForm::ExAnteAssessment, &body) else {
            panic!("valid form")
        };
        // 20 × (100+100+80+100)/400 = 19; 20 × (60+40+80)/300 = 12; 19 + 15 + 12 + 18.5 + 20.
        assert_eq!(score, Decimal::new(845, 1));
        let bad = json!({"scores": {
            "立项必要性": {"政策相符性": "好", "需求迫切性": "优", "职能相关性": "良", "其他": "优"},
            "投入经济性": 15, "绩效目标合理性": 12, "实施方案可行性": 18, "筹资合规性": 20
        }});
        let errs = review(ReviewForm::ExAnteAssessment, &bad).err().unwrap();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"scores.立项必要性.政策相符性"), "{paths:?}");
        assert!(paths.contains(&"scores.立项必要性.与其他项目不重复"), "{paths:?}");
        assert!(paths.contains(&"scores.立项必要性.其他"), "{paths:?}");
        // Target review criteria have no sub-items: a number is due.
        let tr = json!({"scores": {"完整性": {"x": "优"}, "相关性": 20, "适当性": 20, "可行性": 20}});
        let errs = review(ReviewForm::TargetReview, &tr).err().unwrap();
        assert_eq!(errs[0].path, "scores.完整性");
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ResultApplicationForm")]
struct ActionsApproval {
    decision: String,
    #[serde(default)]
    amended_actions: Vec<AmendedAction>,
    #[serde(default)]
    comment: String,
}

#[derive(Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AmendedAction {
    kind: crate::workflow::ActionKind,
    #[serde(default)]
    percent: Option<u32>,
    #[serde(default)]
    amount: Option<Fen>,
}

fn approval_actions(body: &Value) -> Result<FormOutcome, Vec<FieldError>> {
    let f: ActionsApproval = typed(body)?;
    let mut errs = Vec::new();
    match f.decision.as_str() {
        "approve" if !f.amended_actions.is_empty() => errs.push(err(
            "amended_actions",
            "only an 'amend' decision lists amended actions",
            "只有“调整”决定才列出调整后的措施",
        )),
        "approve" => {}
        "amend" if f.amended_actions.is_empty() => errs.push(err(
            "amended_actions",
            "an 'amend' decision lists the actions as amended",
            "“调整”决定须列出调整后的措施",
        )),
        "amend" => {}
        other => errs.push(err(
            "decision",
            format!("'{other}' is not a decision (expected approve or amend)"),
            format!("“{other}”不是可选的决定（应为同意或调整）"),
        )),
    }
    for (i, a) in f.amended_actions.iter().enumerate() {
        if a.kind == crate::workflow::ActionKind::Cut && !a.percent.is_some_and(|p| (1..=100).contains(&p)) {
            errs.push(err(
                &format!("amended_actions[{i}].percent"),
                "a cut needs a percent between 1 and 100",
                "压减比例应在 1% 到 100% 之间",
            ));
        }
        if a.kind == crate::workflow::ActionKind::Recover && a.amount.is_none_or(|m| m <= Fen::ZERO) {
            errs.push(err(
                &format!("amended_actions[{i}].amount"),
                "recovering funds needs a positive amount",
                "收回资金须填写大于零的金额",
            ));
        }
    }
    text_len("comment", &f.comment, 0, 5000, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(FormOutcome::Approval {
        result: json!({"decision": f.decision, "amended_actions": f.amended_actions, "comment": f.comment}),
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DisclosureForm")]
struct Publish {
    publish: bool,
    #[serde(default)]
    comment: String,
}

fn approval_publish(body: &Value) -> Result<FormOutcome, Vec<FieldError>> {
    let f: Publish = typed(body)?;
    let mut errs = Vec::new();
    if !f.publish {
        errs.push(err(
            "publish",
            "set publish to true to publish the targets and results",
            "请确认公开绩效目标和评价结果",
        ));
    }
    text_len("comment", &f.comment, 0, 5000, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(FormOutcome::Approval { result: json!({"publish": true, "comment": f.comment}) })
}
