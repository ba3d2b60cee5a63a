//! Drawing review panels: who may sit on a project's panel, and a seeded, reproducible random
//! draw of the members each role needs. The same seed and pool always give the same panel.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The seat a member takes on a panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seat {
    Department,
    Finance,
    Expert,
}

/// A person who could be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub user_id: i64,
    pub seat: Seat,
    /// Experts' sectors.
    pub sectors: Vec<String>,
    /// Department members' own department.
    pub department_id: Option<i64>,
    /// Experts' employment: (department id, from year, to year).
    pub employment: Vec<(i64, i32, i32)>,
}

/// What a panel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub department: u32,
    pub finance: u32,
    pub expert: u32,
    pub sector: String,
    pub project_department_id: i64,
    pub fiscal_year: i32,
}

/// A drawn member; the first expert leads the panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: i64,
    pub seat: Seat,
    pub leader: bool,
}

/// A candidate left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub user_id: i64,
    pub rule: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draw {
    pub seed: u64,
    pub members: Vec<Member>,
    pub exclusions: Vec<Exclusion>,
}

/// Years an expert must be away from a unit before reviewing it (DOMAIN.md §3).
pub const RECUSAL_YEARS: i32 = 3;

/// Why a candidate may not sit on this panel, if any.
pub fn recusal(c: &Candidate, need: &Need) -> Option<Exclusion> {
    match c.seat {
        Seat::Department if c.department_id == Some(need.project_department_id) => Some(Exclusion {
            user_id: c.user_id,
            rule: "own_department".into(),
            reason: "belongs to the department whose project is reviewed".into(),
        }),
        Seat::Expert => c
            .employment
            .iter()
            .find(|(dept, _, to)| *dept == need.project_department_id && *to >= need.fiscal_year - RECUSAL_YEARS)
            .map(|(_, from, to)| Exclusion {
                user_id: c.user_id,
                rule: "worked_for_unit".into(),
                reason: format!(
                    "worked for the unit {from}–{to}, within {RECUSAL_YEARS} years of {}",
                    need.fiscal_year
                ),
            }),
        _ => None,
    }
}

/// Draws a panel. Experts must cover the project's sector. Fails with the reason when a seat
/// cannot be filled, e.g. "sector health needs 3 experts; 2 remain after recusal".
pub fn draw(seed: u64, candidates: &[Candidate], need: &Need) -> Result<Draw, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut exclusions = Vec::new();
    let mut members = Vec::new();
    for (seat, count) in
        [(Seat::Department, need.department), (Seat::Finance, need.finance), (Seat::Expert, need.expert)]
    {
        if count == 0 {
            continue;
        }
        let mut pool: Vec<&Candidate> = Vec::new();
        for c in candidates.iter().filter(|c| c.seat == seat) {
            if seat == Seat::Expert && !c.sectors.contains(&need.sector) {
                continue;
            }
            match recusal(c, need) {
                Some(x) => exclusions.push(x),
                None => pool.push(c),
            }
        }
        // Sort first so the draw depends only on the seed and the pool's content, not on the
        // order the database returned the rows in.
        pool.sort_by_key(|c| c.user_id);
        if (pool.len() as u32) < count {
            let what = match seat {
                Seat::Expert => format!("sector {} needs {count} experts", need.sector),
                Seat::Finance => format!("the panel needs {count} finance member(s)"),
                Seat::Department => format!("the panel needs {count} department member(s)"),
            };
            return Err(format!("{what}; {} remain after recusal", pool.len()));
        }
        pool.shuffle(&mut rng);
        for c in pool.into_iter().take(count as usize) {
            members.push(Member { user_id: c.user_id, seat, leader: false });
        }
    }
    if let Some(m) = members.iter_mut().find(|m| m.seat == Seat::Expert) {
        m.leader = true;
    } else if let Some(m) = members.first_mut() {
        m.leader = true;
    }
    Ok(Draw { seed, members, exclusions })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expert(id: i64, sector: &str, employment: Vec<(i64, i32, i32)>) -> Candidate {
        Candidate { user_id: id, seat: Seat::Expert, sectors: vec![sector.into()], department_id: None, employment }
    }

    fn need() -> Need {
        Need {
            department: 1,
            finance: 1,
            expert: 3,
            sector: "health".into(),
            project_department_id: 7,
            fiscal_year: 2023,
        }
    }

    fn pool() -> Vec<Candidate> {
        let mut v = vec![
            Candidate {
                user_id: 1,
                seat: Seat::Department,
                sectors: vec![],
                department_id: Some(7),
                employment: vec![],
            },
            Candidate {
                user_id: 2,
                seat: Seat::Department,
                sectors: vec![],
                department_id: Some(8),
                employment: vec![],
            },
            Candidate { user_id: 3, seat: Seat::Finance, sectors: vec![], department_id: None, employment: vec![] },
        ];
        for id in 10..20 {
            v.push(expert(id, if id % 2 == 0 { "health" } else { "education" }, vec![]));
        }
        v
    }

    #[test]
    fn same_seed_same_panel() {
        let a = draw(42, &pool(), &need()).unwrap();
        let mut reversed = pool();
        reversed.reverse();
        let b = draw(42, &reversed, &need()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.members.len(), 5);
        assert!(a.members.iter().all(|m| m.user_id != 1), "own department recused");
        assert!(a.members.iter().filter(|m| m.seat == Seat::Expert).all(|m| m.user_id % 2 == 0), "sector match");
        assert_eq!(a.members.iter().filter(|m| m.leader).count(), 1);
    }

    #[test]
    fn recusal_window_boundaries() {
        let n = need();
        let table =
            [((7, 2015, 2019), false), ((7, 2015, 2020), true), ((7, 2022, 2023), true), ((8, 2022, 2023), false)];
        for ((dept, from, to), recused) in table {
            let c = expert(99, "health", vec![(dept, from, to)]);
            assert_eq!(recusal(&c, &n).is_some(), recused, "{dept} {from}-{to}");
        }
    }

    #[test]
    fn infeasible_names_the_shortage() {
        let mut p = pool();
        p.retain(|c| ![10, 12, 14].contains(&c.user_id));
        let err = draw(1, &p, &need()).unwrap_err();
        assert_eq!(err, "sector health needs 3 experts; 2 remain after recusal");
    }
}
