//! The bureau's annual report (年度预算绩效管理工作情况): the figures the county reports upward,
//! each computed from the data of one fiscal year. Each figure is defined once, as the rows it
//! counts; its count and amount and its list are read from the same rows, so a figure and the
//! list behind it cannot disagree. Figures about projects count budget projects only; the
//! departments' overall records have figures of their own.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::domain::Fen;

/// One figure: a key, its labels, and the rows it counts as SQL over the fiscal year `$1`, each
/// row giving `code`, `name`, `department`, `amount_fen` and `detail`.
pub struct Figure {
    pub key: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// Whether the rows' amounts add up to a figure of money.
    pub money: bool,
    rows: &'static str,
}

/// A project's columns for a figure's rows.
macro_rules! project_row {
    ($detail:expr) => {
        concat!(
            "SELECT p.code AS code, p.name AS name, d.name AS department, CAST(p.amount_fen AS BIGINT) AS amount_fen, ",
            $detail,
            " AS detail FROM projects p JOIN departments d ON d.id = p.department_id"
        )
    };
}

/// The rows of a per-project table (its alias `t`, with `project_id`, `department_id` and
/// `fiscal_year`) for budget projects, with the amount and detail columns given and more
/// conditions.
macro_rules! table_rows {
    ($table:literal, $amount:literal, $detail:literal, $filter:literal) => {
        concat!(
            "SELECT p.code AS code, p.name AS name, d.name AS department, CAST(",
            $amount,
            " AS BIGINT) AS amount_fen, ",
            $detail,
            " AS detail FROM ",
            $table,
            " t JOIN projects p ON p.id = t.project_id JOIN departments d ON d.id = t.department_id ",
            "WHERE t.fiscal_year = $1 AND p.kind = 'project'",
            $filter
        )
    };
}

/// The records of a kind (`project` or `department`) that declare indicators, with how many.
macro_rules! with_targets {
    ($kind:literal) => {
        concat!(
            project_row!("CAST((SELECT COUNT(*) FROM indicators i WHERE i.project_id = p.id) AS TEXT)"),
            " WHERE p.fiscal_year = $1 AND p.kind = '",
            $kind,
            "' AND EXISTS (SELECT 1 FROM indicators i WHERE i.project_id = p.id)"
        )
    };
}

/// Whether a monitoring run gave project `p` a light of this colour.
macro_rules! lit {
    ($light:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM monitoring_lights l JOIN cases c ON c.id = l.case_id WHERE c.project_id = p.id AND l.light = '",
            $light,
            "')"
        )
    };
}

/// A result action of a kind that has been decided and stands (approved, in progress, done or
/// escalated; not proposed, rejected or superseded).
macro_rules! action_rows {
    ($kind:literal) => {
        concat!(
            "SELECT COALESCE(p.code, '') AS code, COALESCE(p.name, d.name) AS name, d.name AS department, ",
            "CAST(COALESCE(a.amount_fen, 0) AS BIGINT) AS amount_fen, a.status AS detail ",
            "FROM result_actions a JOIN departments d ON d.id = a.department_id LEFT JOIN projects p ON p.id = a.project_id ",
            "WHERE a.fiscal_year = $1 AND a.kind = '",
            $kind,
            "' AND a.status IN ('approved', 'in_progress', 'done', 'escalated')"
        )
    };
}

/// The figures, in the order of the report.
pub const FIGURES: &[Figure] = &[
    Figure {
        key: "projects_with_targets",
        label_zh: "编报绩效目标项目",
        label_en: "projects with performance targets",
        money: true,
        rows: with_targets!("project"),
    },
    Figure {
        key: "departments_with_overall_targets",
        label_zh: "编报整体绩效目标部门",
        label_en: "departments with overall targets",
        money: true,
        rows: with_targets!("department"),
    },
    Figure {
        key: "ex_ante_assessments",
        label_zh: "开展事前绩效评估项目",
        label_en: "projects given an ex-ante assessment",
        money: true,
        rows: concat!(
            project_row!("''"),
            " WHERE p.fiscal_year = $1 AND p.kind = 'project' AND EXISTS (SELECT 1 FROM tasks t JOIN cases c ON c.id = t.case_id ",
            "WHERE c.project_id = p.id AND t.form = 'ex_ante_report' AND t.status = 'completed')"
        ),
    },
    Figure {
        key: "monitoring_issued",
        label_zh: "下达监控任务",
        label_en: "monitoring tasks issued",
        money: false,
        rows: table_rows!("monitoring_reports", "p.amount_fen", "t.status", ""),
    },
    Figure {
        key: "monitoring_filled",
        label_zh: "完成监控填报",
        label_en: "monitoring reports filled in",
        money: false,
        rows: table_rows!("monitoring_reports", "p.amount_fen", "t.status", " AND t.status = 'filled'"),
    },
    Figure {
        key: "monitoring_red",
        label_zh: "红灯预警项目",
        label_en: "projects with a red light",
        money: false,
        rows: concat!(project_row!("'red'"), " WHERE p.fiscal_year = $1 AND p.kind = 'project' AND ", lit!("red")),
    },
    Figure {
        key: "monitoring_yellow",
        label_zh: "黄灯预警项目",
        label_en: "projects with a yellow light (and no red)",
        money: false,
        rows: concat!(
            project_row!("'yellow'"),
            " WHERE p.fiscal_year = $1 AND p.kind = 'project' AND ",
            lit!("yellow"),
            " AND NOT ",
            lit!("red")
        ),
    },
    Figure {
        key: "monitoring_budget_adjusted",
        label_zh: "根据监控结果调整预算项目",
        label_en: "projects re-budgeted after monitoring",
        money: true,
        rows: "SELECT p.code AS code, p.name AS name, d.name AS department, \
               CAST((SELECT SUM(b.amount_fen) FROM budget_entries b WHERE b.project_id = p.id AND b.disposition_id IS NOT NULL) AS BIGINT) AS amount_fen, \
               '' AS detail FROM projects p JOIN departments d ON d.id = p.department_id \
               WHERE p.fiscal_year = $1 AND p.kind = 'project' AND EXISTS (SELECT 1 FROM budget_entries b WHERE b.project_id = p.id AND b.disposition_id IS NOT NULL)",
    },
    Figure {
        key: "self_evaluations",
        label_zh: "完成绩效自评项目",
        label_en: "projects self-evaluated",
        money: true,
        rows: table_rows!("self_evaluations", "t.budget_fen", "COALESCE(t.reviewed_grade, t.self_grade, '')", ""),
    },
    Figure {
        key: "spot_checked",
        label_zh: "抽查复核自评",
        label_en: "self-evaluations spot-checked",
        money: true,
        rows: table_rows!(
            "self_evaluations",
            "t.budget_fen",
            "COALESCE(t.reviewed_score, '')",
            " AND t.spot_check_id IS NOT NULL"
        ),
    },
    Figure {
        key: "spot_check_flagged",
        label_zh: "抽查发现自评偏差",
        label_en: "spot checks that found the self-evaluation off",
        money: true,
        rows: table_rows!(
            "self_evaluations",
            "t.budget_fen",
            "t.flagged",
            " AND t.spot_check_id IS NOT NULL AND t.flagged IS NOT NULL"
        ),
    },
    Figure {
        key: "key_evaluations_project",
        label_zh: "财政重点评价（项目）",
        label_en: "key evaluations of projects",
        money: true,
        rows: table_rows!(
            "key_evaluations",
            "p.amount_fen",
            "COALESCE(t.grade, t.status)",
            " AND t.subject = 'project'"
        ),
    },
    Figure {
        key: "key_evaluations_department",
        label_zh: "财政重点评价（部门整体）",
        label_en: "key evaluations of departments' overall spending",
        money: true,
        rows: "SELECT d.code AS code, d.name AS name, d.name AS department, \
               CAST(COALESCE((SELECT p.amount_fen FROM department_overall o JOIN projects p ON p.id = o.project_id \
               WHERE o.department_id = k.department_id AND o.fiscal_year = k.fiscal_year), 0) AS BIGINT) AS amount_fen, \
               COALESCE(k.grade, k.status) AS detail \
               FROM key_evaluations k JOIN departments d ON d.id = k.department_id \
               WHERE k.fiscal_year = $1 AND k.subject = 'department'",
    },
    Figure {
        key: "actions_cut",
        label_zh: "调减预算",
        label_en: "budget cuts",
        money: true,
        rows: action_rows!("cut"),
    },
    Figure {
        key: "actions_suspend",
        label_zh: "暂缓拨付",
        label_en: "disbursements suspended",
        money: true,
        rows: action_rows!("suspend"),
    },
    Figure {
        key: "actions_recover",
        label_zh: "收回资金",
        label_en: "funds recovered",
        money: true,
        rows: action_rows!("recover"),
    },
    Figure {
        key: "actions_rectify",
        label_zh: "责令整改",
        label_en: "rectification orders",
        money: false,
        rows: action_rows!("rectify"),
    },
    Figure {
        key: "disclosures",
        label_zh: "信息公开（发布版本）",
        label_en: "disclosures published (versions)",
        money: false,
        rows: "SELECT CAST(x.kind AS TEXT) AS code, CAST(x.version AS TEXT) AS name, '' AS department, CAST(0 AS BIGINT) AS amount_fen, \
               x.sha256 AS detail FROM disclosures x WHERE x.fiscal_year = $1",
    },
];

/// A figure's value in one year.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Value {
    pub fiscal_year: i32,
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Fen>,
}

/// One of the rows a figure counts.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub code: String,
    pub name: String,
    pub department: String,
    pub amount: Fen,
    pub detail: String,
}

pub fn figure(key: &str) -> Option<&'static Figure> {
    FIGURES.iter().find(|f| f.key == key)
}

/// The monitoring completion rate in percent (filled ÷ issued), two places.
pub fn rate(filled: i64, issued: i64) -> Option<Decimal> {
    (issued > 0).then(|| (Decimal::from(filled * 100) / Decimal::from(issued)).round_dp(2))
}

impl Store {
    /// A figure's count and amount in a fiscal year.
    pub async fn figure_value(&self, f: &Figure, fiscal_year: i32) -> Result<Value> {
        let row = sqlx::query(super::sql(format!(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(r.amount_fen), 0) AS BIGINT) AS amount FROM ({}) r",
            f.rows
        )))
        .bind(fiscal_year)
        .fetch_one(&self.pool)
        .await?;
        Ok(Value {
            fiscal_year,
            count: row.try_get("n")?,
            amount: if f.money { Some(Fen::from_fen(row.try_get("amount")?)) } else { None },
        })
    }

    /// The rows a figure counts, by code, a page of them, with how many there are.
    pub async fn figure_items(&self, key: &str, fiscal_year: i32, limit: i64, offset: i64) -> Result<(Vec<Item>, i64)> {
        let f = figure(key).ok_or_else(|| {
            let keys: Vec<&str> = FIGURES.iter().map(|f| f.key).collect();
            StoreError::NotFound(format!("no figure '{key}' (expected one of {})", keys.join(", ")))
        })?;
        let rows = sqlx::query(super::sql(format!(
            "SELECT r.code, r.name, r.department, r.amount_fen, r.detail FROM ({}) r ORDER BY r.code, r.name LIMIT $2 OFFSET $3",
            f.rows
        )))
        .bind(fiscal_year)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(Item {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    department: r.try_get("department")?,
                    amount: Fen::from_fen(r.try_get::<Option<i64>, _>("amount_fen")?.unwrap_or(0)),
                    detail: r.try_get::<Option<String>, _>("detail")?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((items, self.figure_value(f, fiscal_year).await?.count))
    }
}
