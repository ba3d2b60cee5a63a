//! Loading a whole county at once (the demo and the benchmarks): departments, their users,
//! finance staff, the expert pool with employment history, and projects with indicators, in one
//! transaction.

use std::collections::HashMap;

use super::people::{ExpertProfile, NewUser, insert_department, insert_token, insert_user};
use super::projects::insert_project;
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

/// Tokens of a few loaded users, so a newcomer can try each role at once.
#[derive(Debug, Clone, Default)]
pub struct SampleTokens {
    pub finance: Option<(String, String)>,
    pub departments: Vec<(String, String)>,
    pub experts: Vec<(String, String)>,
}

impl Store {
    /// Loads a county into an empty instance. Each department gets a user `dNNN` (its code in
    /// lower case), the bureau `finance_staff` finance users, each expert a user `expertNNN`.
    /// Tokens are issued for the finance user, the departments listed in `token_departments`
    /// and the first `token_experts` experts.
    pub async fn load_county(
        &self,
        departments: &[CountyDepartment],
        experts: &[CountyExpert],
        projects: &[ProjectInput],
        finance_staff: usize,
        token_departments: &[String],
        token_experts: usize,
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
                },
                now_ms,
            )
            .await?;
            if token_departments.contains(&d.code) {
                tokens.departments.push((user.username.clone(), insert_token(&mut tx, user.id, "demo", now_ms).await?));
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
                },
                now_ms,
            )
            .await?;
            if i == 0 {
                tokens.finance = Some((user.username.clone(), insert_token(&mut tx, user.id, "demo", now_ms).await?));
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
            if i < token_experts {
                tokens.experts.push((user.username.clone(), insert_token(&mut tx, user.id, "demo", now_ms).await?));
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
