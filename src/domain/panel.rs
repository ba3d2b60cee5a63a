//! Drawing review panels: who may sit on a project's panel, and a seeded, reproducible random
//! draw of the members each role needs. The same seed and pool always give the same panel.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
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

/// Why a candidate may have to stand aside (DOMAIN.md §3). Which rules apply is data: a panel
/// in a workflow may name its own list; the default is every rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecusalRule {
    /// A department member never reviews their own department's project.
    OwnDepartment,
    /// Worked for or directed the unit within the policy's years.
    WorkedForUnit,
    /// The unit is headed by a close relative.
    RelativeHeadsUnit,
    /// Took part in declaring, arguing or implementing the project.
    TookPart,
    /// Declared any other interest in the unit or the project.
    DeclaredInterest,
}

impl RecusalRule {
    pub const ALL: [RecusalRule; 5] = [
        RecusalRule::OwnDepartment,
        RecusalRule::WorkedForUnit,
        RecusalRule::RelativeHeadsUnit,
        RecusalRule::TookPart,
        RecusalRule::DeclaredInterest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecusalRule::OwnDepartment => "own_department",
            RecusalRule::WorkedForUnit => "worked_for_unit",
            RecusalRule::RelativeHeadsUnit => "relative_heads_unit",
            RecusalRule::TookPart => "took_part",
            RecusalRule::DeclaredInterest => "declared_interest",
        }
    }
}

/// The recusal rules a panel applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecusalPolicy {
    pub rules: Vec<RecusalRule>,
    /// How many years after leaving a unit an expert may review it again.
    pub years: i32,
}

impl Default for RecusalPolicy {
    fn default() -> Self {
        RecusalPolicy { rules: RecusalRule::ALL.to_vec(), years: RECUSAL_YEARS }
    }
}

/// What an expert declared about themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A close relative heads the department.
    RelativeHeadsUnit,
    /// Helped declare, argue or implement the project.
    TookPart,
    /// Any other interest in the department or the project.
    Interest,
}

/// A declared relationship or conflict; it concerns a department, a project, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub department_id: Option<i64>,
    pub project_code: Option<String>,
    pub note: String,
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
    /// Experts' declared relationships and conflicts.
    pub conflicts: Vec<Conflict>,
    /// Inside one of their availability windows (or they declared none).
    pub available: bool,
    /// Reviews open now.
    pub load: u32,
    /// Most reviews open at once, if capped.
    pub cap: Option<u32>,
}

impl Candidate {
    /// A candidate with no history, conflicts, load or cap.
    pub fn new(user_id: i64, seat: Seat) -> Candidate {
        Candidate {
            user_id,
            seat,
            sectors: Vec::new(),
            department_id: None,
            employment: Vec::new(),
            conflicts: Vec::new(),
            available: true,
            load: 0,
            cap: None,
        }
    }
}

/// What a panel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub department: u32,
    pub finance: u32,
    pub expert: u32,
    pub sector: String,
    pub project_department_id: i64,
    pub project_code: String,
    pub fiscal_year: i32,
    pub policy: RecusalPolicy,
    /// People who may not be drawn again (already on or dropped from this panel).
    pub exclude: Vec<i64>,
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

/// The first recusal rule of the policy that applies to the candidate, if any.
pub fn recusal(c: &Candidate, need: &Need) -> Option<Exclusion> {
    let out = |rule: RecusalRule, reason: String| Exclusion { user_id: c.user_id, rule: rule.as_str().into(), reason };
    let unit = need.project_department_id;
    for rule in &need.policy.rules {
        let hit = match rule {
            RecusalRule::OwnDepartment => (c.seat == Seat::Department && c.department_id == Some(unit))
                .then(|| "belongs to the department whose project is reviewed".to_string()),
            RecusalRule::WorkedForUnit => c
                .employment
                .iter()
                .find(|(dept, _, to)| *dept == unit && *to >= need.fiscal_year - need.policy.years)
                .map(|(_, from, to)| {
                    format!(
                        "worked for the unit {from}–{to}, within {} years of {}",
                        need.policy.years, need.fiscal_year
                    )
                }),
            RecusalRule::RelativeHeadsUnit => c
                .conflicts
                .iter()
                .find(|x| x.kind == ConflictKind::RelativeHeadsUnit && x.department_id == Some(unit))
                .map(|x| format!("a close relative heads the unit{}", note(&x.note))),
            RecusalRule::TookPart => c
                .conflicts
                .iter()
                .find(|x| x.kind == ConflictKind::TookPart && x.project_code.as_deref() == Some(&need.project_code))
                .map(|x| format!("took part in declaring, arguing or implementing the project{}", note(&x.note))),
            RecusalRule::DeclaredInterest => c
                .conflicts
                .iter()
                .find(|x| {
                    x.kind == ConflictKind::Interest
                        && (x.department_id == Some(unit) || x.project_code.as_deref() == Some(&need.project_code))
                })
                .map(|x| format!("declared an interest{}", note(&x.note))),
        };
        if let Some(reason) = hit {
            return Some(out(*rule, reason));
        }
    }
    None
}

fn note(n: &str) -> String {
    if n.is_empty() { String::new() } else { format!(" ({n})") }
}

/// Why an otherwise eligible candidate cannot take a review now, if so.
fn unavailable(c: &Candidate) -> Option<Exclusion> {
    if !c.available {
        return Some(Exclusion {
            user_id: c.user_id,
            rule: "unavailable".into(),
            reason: "outside every availability window the expert declared".into(),
        });
    }
    match c.cap {
        Some(cap) if c.load >= cap => Some(Exclusion {
            user_id: c.user_id,
            rule: "at_capacity".into(),
            reason: format!("already has {} open review(s), the most allowed ({cap})", c.load),
        }),
        _ => None,
    }
}

/// The candidates of one seat who may sit on this panel, and those left out with why. Experts
/// must cover the project's sector (others are simply not candidates); people in `need.exclude`
/// are passed over silently (they are or were on the panel already).
pub fn screen<'a>(candidates: &'a [Candidate], need: &Need, seat: Seat) -> (Vec<&'a Candidate>, Vec<Exclusion>) {
    let mut pool = Vec::new();
    let mut exclusions = Vec::new();
    for c in candidates.iter().filter(|c| c.seat == seat && !need.exclude.contains(&c.user_id)) {
        if seat == Seat::Expert && !c.sectors.contains(&need.sector) {
            continue;
        }
        match recusal(c, need).or_else(|| unavailable(c)) {
            Some(x) => exclusions.push(x),
            None => pool.push(c),
        }
    }
    (pool, exclusions)
}

fn shortage(seat: Seat, count: u32, need: &Need, remain: usize) -> String {
    let what = match seat {
        Seat::Expert => format!("sector {} needs {count} experts", need.sector),
        Seat::Finance => format!("the panel needs {count} finance member(s)"),
        Seat::Department => format!("the panel needs {count} department member(s)"),
    };
    format!("{what}; {remain} remain after recusal and caps")
}

/// Draws a panel. Experts must cover the project's sector. Among the eligible, the least loaded
/// are drawn first, ties broken by the seeded shuffle, so drawing spreads the work. Fails with
/// the reason when a seat cannot be filled, e.g. "sector health needs 3 experts; 2 remain after
/// recusal and caps".
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
        let (mut pool, mut left_out) = screen(candidates, need, seat);
        exclusions.append(&mut left_out);
        // Sort first so the draw depends only on the seed and the pool's content, not on the
        // order the database returned the rows in.
        pool.sort_by_key(|c| c.user_id);
        if (pool.len() as u32) < count {
            return Err(shortage(seat, count, need, pool.len()));
        }
        pool.shuffle(&mut rng);
        // Stable: equal loads keep their shuffled order.
        pool.sort_by_key(|c| c.load);
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

/// One panel of a batch: `key` identifies it to the caller; `seed` drives its own draws
/// (department and finance seats, the leader).
#[derive(Debug, Clone)]
pub struct Request {
    pub key: i64,
    pub need: Need,
    pub seed: u64,
}

/// Draws many panels at once. Department and finance seats are drawn panel by panel (least
/// loaded first); the experts of every panel are assigned together by `assign::assign`, which
/// respects recusal, availability and caps and balances the experts' loads (the smallest sum of
/// squared loads, so max − min ≤ 1 per sector wherever eligibility allows). The leader is one of
/// the panel's experts, picked by the panel's seed. Same candidates, requests and `batch_seed`
/// give the same panels. Returns each request's draw or the reason it cannot be staffed.
pub fn draw_batch(candidates: &[Candidate], requests: &[Request], batch_seed: u64) -> Vec<(i64, Result<Draw, String>)> {
    use std::collections::BTreeMap;
    let mut cands: Vec<Candidate> = candidates.to_vec();
    cands.sort_by_key(|c| c.user_id);
    let mut reqs: Vec<&Request> = requests.iter().collect();
    reqs.sort_by_key(|r| r.key);
    let mut drawn: BTreeMap<i64, Result<Draw, String>> = BTreeMap::new();
    for r in &reqs {
        let need = Need { expert: 0, ..r.need.clone() };
        let d = if need.department + need.finance == 0 {
            Ok(Draw { seed: r.seed, members: Vec::new(), exclusions: Vec::new() })
        } else {
            draw(r.seed, &cands, &need)
        };
        let mut d = d;
        if let Ok(d) = &mut d {
            for m in d.members.iter_mut() {
                if let Some(c) = cands.iter_mut().find(|c| c.user_id == m.user_id) {
                    c.load += 1;
                }
                // An expert leads when the panel has experts.
                m.leader &= r.need.expert == 0;
            }
        }
        drawn.insert(r.key, d);
    }
    let mut slots = Vec::new();
    let mut eligible_count: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &reqs {
        if r.need.expert == 0 {
            continue;
        }
        let Some(Ok(d)) = drawn.get_mut(&r.key) else { continue };
        let (pool, mut left_out) = screen(&cands, &r.need, Seat::Expert);
        d.exclusions.append(&mut left_out);
        eligible_count.insert(r.key, pool.len());
        slots.push(super::assign::Slot {
            case_id: r.key,
            sector: r.need.sector.clone(),
            needed: r.need.expert,
            eligible: pool.iter().map(|c| c.user_id).collect(),
        });
    }
    let experts: Vec<super::assign::Expert> = cands
        .iter()
        .filter(|c| c.seat == Seat::Expert)
        .map(|c| super::assign::Expert {
            user_id: c.user_id,
            sectors: c.sectors.clone(),
            capacity: c.cap.map(|cap| cap.saturating_sub(c.load)).unwrap_or(u32::MAX / 2),
            existing_load: c.load,
        })
        .collect();
    let result = super::assign::assign(&slots, &experts, batch_seed);
    let short: std::collections::BTreeSet<i64> = result.infeasible.iter().map(|(k, _)| *k).collect();
    for r in &reqs {
        if r.need.expert == 0 {
            continue;
        }
        let Some(entry) = drawn.get_mut(&r.key) else { continue };
        let Ok(d) = entry else { continue };
        let remain = eligible_count.get(&r.key).copied().unwrap_or(0);
        if short.contains(&r.key) {
            let mut why = shortage(Seat::Expert, r.need.expert, &r.need, remain);
            if remain >= r.need.expert as usize {
                why.push_str(", but the other panels drawn with it take their capacity");
            }
            *entry = Err(why);
            continue;
        }
        let assigned = result.by_case.get(&r.key).cloned().unwrap_or_default();
        let lead = ChaCha8Rng::seed_from_u64(r.seed).random_range(0..assigned.len().max(1));
        for (i, id) in assigned.iter().enumerate() {
            d.members.push(Member { user_id: *id, seat: Seat::Expert, leader: i == lead });
        }
        if d.members.iter().all(|m| !m.leader)
            && let Some(m) = d.members.first_mut()
        {
            m.leader = true;
        }
    }
    drawn.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expert(id: i64, sector: &str, employment: Vec<(i64, i32, i32)>) -> Candidate {
        Candidate { sectors: vec![sector.into()], employment, ..Candidate::new(id, Seat::Expert) }
    }

    fn need() -> Need {
        Need {
            department: 1,
            finance: 1,
            expert: 3,
            sector: "health".into(),
            project_department_id: 7,
            project_code: "XY2023-D007-0001".into(),
            fiscal_year: 2023,
            policy: RecusalPolicy::default(),
            exclude: Vec::new(),
        }
    }

    fn pool() -> Vec<Candidate> {
        let mut v = vec![
            Candidate { department_id: Some(7), ..Candidate::new(1, Seat::Department) },
            Candidate { department_id: Some(8), ..Candidate::new(2, Seat::Department) },
            Candidate::new(3, Seat::Finance),
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
        let seeds: std::collections::HashSet<Vec<i64>> =
            (0..20).map(|s| draw(s, &pool(), &need()).unwrap().members.iter().map(|m| m.user_id).collect()).collect();
        assert!(seeds.len() > 1, "other seeds draw other panels");
    }

    #[test]
    fn each_recusal_rule_and_the_window_boundaries() {
        let conflict = |kind, department_id, project_code: Option<&str>| Conflict {
            kind,
            department_id,
            project_code: project_code.map(str::to_string),
            note: "申报".into(),
        };
        let with = |employment: Vec<(i64, i32, i32)>, conflicts: Vec<Conflict>| Candidate {
            conflicts,
            ..expert(99, "health", employment)
        };
        // (candidate, rule expected or None)
        let table: Vec<(Candidate, Option<&str>)> = vec![
            (with(vec![(7, 2015, 2019)], vec![]), None),
            (with(vec![(7, 2015, 2020)], vec![]), Some("worked_for_unit")),
            (with(vec![(7, 2022, 2023)], vec![]), Some("worked_for_unit")),
            (with(vec![(8, 2022, 2023)], vec![]), None),
            (with(vec![], vec![conflict(ConflictKind::RelativeHeadsUnit, Some(7), None)]), Some("relative_heads_unit")),
            (with(vec![], vec![conflict(ConflictKind::RelativeHeadsUnit, Some(8), None)]), None),
            (with(vec![], vec![conflict(ConflictKind::TookPart, None, Some("XY2023-D007-0001"))]), Some("took_part")),
            (with(vec![], vec![conflict(ConflictKind::TookPart, None, Some("XY2023-D007-0002"))]), None),
            (with(vec![], vec![conflict(ConflictKind::Interest, Some(7), None)]), Some("declared_interest")),
            (
                with(vec![], vec![conflict(ConflictKind::Interest, None, Some("XY2023-D007-0001"))]),
                Some("declared_interest"),
            ),
            (with(vec![], vec![conflict(ConflictKind::Interest, Some(9), Some("X"))]), None),
            (Candidate { department_id: Some(7), ..Candidate::new(5, Seat::Department) }, Some("own_department")),
            (Candidate { department_id: Some(8), ..Candidate::new(5, Seat::Department) }, None),
        ];
        for (i, (c, rule)) in table.iter().enumerate() {
            let got = recusal(c, &need());
            assert_eq!(got.as_ref().map(|x| x.rule.as_str()), *rule, "case {i}: {got:?}");
            if let Some(x) = got {
                assert!(!x.reason.is_empty());
            }
        }
        // The policy is data: without the rule, or with a shorter window, the expert may sit.
        let c = with(vec![(7, 2015, 2021)], vec![]);
        let mut n = need();
        assert!(recusal(&c, &n).is_some());
        n.policy.years = 1;
        assert!(recusal(&c, &n).is_none(), "2021 is more than 1 year before 2023");
        n.policy = RecusalPolicy { rules: vec![RecusalRule::TookPart], years: 3 };
        assert!(recusal(&c, &n).is_none());
    }

    #[test]
    fn infeasible_names_the_shortage() {
        let mut p = pool();
        p.retain(|c| ![10, 12, 14].contains(&c.user_id));
        let err = draw(1, &p, &need()).unwrap_err();
        assert_eq!(err, "sector health needs 3 experts; 2 remain after recusal and caps");
    }

    #[test]
    fn caps_availability_and_exclusions_are_respected_and_least_loaded_come_first() {
        let mut p = pool();
        for c in p.iter_mut() {
            match c.user_id {
                10 => c.available = false,
                12 => {
                    c.cap = Some(2);
                    c.load = 2;
                }
                14 => c.load = 5,
                _ => {}
            }
        }
        let mut n = need();
        n.exclude = vec![16];
        let err = draw(7, &p, &n).unwrap_err();
        assert_eq!(err, "sector health needs 3 experts; 2 remain after recusal and caps");
        n.expert = 1;
        for seed in 0..10 {
            let d = draw(seed, &p, &n).unwrap();
            let experts: Vec<i64> = d.members.iter().filter(|m| m.seat == Seat::Expert).map(|m| m.user_id).collect();
            assert_eq!(experts, vec![18], "14 is eligible but carries 5 reviews: {d:?}");
            let rules: Vec<(i64, &str)> = d.exclusions.iter().map(|x| (x.user_id, x.rule.as_str())).collect();
            assert!(rules.contains(&(10, "unavailable")) && rules.contains(&(12, "at_capacity")), "{rules:?}");
        }
    }

    #[test]
    fn a_batch_balances_experts_and_respects_every_rule() {
        // 40 health cases of 3 experts over 12 experts: 120 reviews, 10 each when balanced.
        let mut cands: Vec<Candidate> =
            (100..112).map(|id| Candidate { cap: Some(30), ..expert(id, "health", vec![]) }).collect();
        cands[0].employment.push((7, 2021, 2022));
        cands[1].load = 4;
        cands.push(Candidate { department_id: Some(8), ..Candidate::new(2, Seat::Department) });
        cands.push(Candidate::new(3, Seat::Finance));
        let requests: Vec<Request> = (0..40)
            .map(|k| Request {
                key: k,
                need: Need { project_department_id: if k % 2 == 0 { 7 } else { 9 }, ..need() },
                seed: k as u64,
            })
            .collect();
        let out = draw_batch(&cands, &requests, 99);
        assert_eq!(out, draw_batch(&cands.iter().rev().cloned().collect::<Vec<_>>(), &requests, 99), "reproducible");
        let mut load: std::collections::BTreeMap<i64, u32> =
            cands.iter().filter(|c| c.seat == Seat::Expert).map(|c| (c.user_id, c.load)).collect();
        for (key, d) in &out {
            let d = d.as_ref().unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(d.members.len(), 5);
            assert_eq!(d.members.iter().filter(|m| m.leader).count(), 1);
            assert!(d.members.iter().any(|m| m.leader && m.seat == Seat::Expert));
            for m in d.members.iter().filter(|m| m.seat == Seat::Expert) {
                *load.get_mut(&m.user_id).unwrap() += 1;
                if key % 2 == 0 {
                    assert_ne!(m.user_id, 100, "recused from department 7's projects");
                }
            }
        }
        let (max, min) = (load.values().max().unwrap(), load.values().min().unwrap());
        assert!(max - min <= 1, "balanced: {load:?}");
        // At a cap of 2 open reviews, 12 experts (one already at 4) staff at most 7 panels of 3.
        let capped: Vec<Candidate> = cands
            .iter()
            .map(|c| if c.seat == Seat::Expert { Candidate { cap: Some(2), ..c.clone() } } else { c.clone() })
            .collect();
        let out = draw_batch(&capped, &requests[..8], 1);
        let failed: Vec<&String> = out.iter().filter_map(|(_, d)| d.as_ref().err()).collect();
        assert!(!failed.is_empty());
        assert!(failed.iter().all(|e| e.starts_with("sector health needs 3 experts;")), "{failed:?}");
    }

    /// A small deterministic generator for the property test (no extra dependency).
    fn lcg(state: &mut u64) -> u64 {
        *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *state >> 33
    }

    #[test]
    fn no_draw_ever_contains_a_recused_unavailable_or_over_cap_candidate() {
        let mut st = 12345u64;
        for round in 0..500 {
            let mut cands = Vec::new();
            for id in 0..(5 + lcg(&mut st) % 30) as i64 {
                let seat = match lcg(&mut st) % 4 {
                    0 => Seat::Department,
                    1 => Seat::Finance,
                    _ => Seat::Expert,
                };
                let mut c = Candidate::new(id, seat);
                c.department_id = (seat == Seat::Department).then(|| (lcg(&mut st) % 4) as i64);
                c.sectors = vec![if lcg(&mut st).is_multiple_of(3) { "education" } else { "health" }.into()];
                if lcg(&mut st).is_multiple_of(4) {
                    let to = 2016 + (lcg(&mut st) % 8) as i32;
                    c.employment.push(((lcg(&mut st) % 4) as i64, to - 2, to));
                }
                if lcg(&mut st).is_multiple_of(6) {
                    c.conflicts.push(Conflict {
                        kind: ConflictKind::Interest,
                        department_id: Some((lcg(&mut st) % 4) as i64),
                        project_code: None,
                        note: String::new(),
                    });
                }
                c.available = !lcg(&mut st).is_multiple_of(8);
                c.load = (lcg(&mut st) % 4) as u32;
                c.cap = (lcg(&mut st).is_multiple_of(2)).then(|| (lcg(&mut st) % 4) as u32);
                cands.push(c);
            }
            let mut n = need();
            n.project_department_id = (lcg(&mut st) % 4) as i64;
            n.department = (lcg(&mut st) % 2) as u32;
            n.expert = [0, 1, 3][(lcg(&mut st) % 3) as usize];
            if let Ok(d) = draw(round, &cands, &n) {
                let ids: std::collections::HashSet<i64> = d.members.iter().map(|m| m.user_id).collect();
                assert_eq!(ids.len(), d.members.len(), "no one twice");
                for m in &d.members {
                    let c = cands.iter().find(|c| c.user_id == m.user_id).unwrap();
                    assert!(recusal(c, &n).is_none(), "round {round}: recused {c:?}");
                    assert!(c.available && c.cap.is_none_or(|cap| c.load < cap), "round {round}: {c:?}");
                    assert_eq!(c.seat, m.seat);
                    if m.seat == Seat::Expert {
                        assert!(c.sectors.contains(&n.sector));
                    }
                }
                assert_eq!(d.members.len() as u32, n.department + n.finance + n.expert);
            }
        }
    }
}
