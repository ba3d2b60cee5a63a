//! `jixiao bench panels`: assigning experts to a whole cycle's target reviews at once. The
//! instance is a county's: 3,244 cases over 6 sectors and 74 departments, 200 experts (one in
//! ten in two sectors), employment histories and declared conflicts checked by the real recusal
//! rules, a cap of 80 open reviews each. The batch assignment (min-cost balancing) is timed and
//! its load spread printed beside the per-case draw the workers make when panels are requested
//! one at a time (least loaded first), on the same instance.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::domain::assign::{self, Expert, Slot};
use crate::domain::panel::{self, Candidate, Conflict, ConflictKind, Need, RecusalPolicy, Seat};

const SECTORS: [&str; 6] = ["education", "health", "agriculture", "transport", "social_security", "environment"];
/// Cases per sector: uneven, as a county's are (3,244 in all at the default size).
const SHARE: [usize; 6] = [28, 22, 18, 14, 10, 8];
const DEPARTMENTS: i64 = 74;
const FISCAL_YEAR: i32 = 2023;

struct Instance {
    candidates: Vec<Candidate>,
    needs: Vec<Need>,
}

/// The sector of the `i`-th of `n` items spread over the sectors in proportion to `SHARE`.
fn sector_of(i: usize, n: usize) -> usize {
    let total: usize = SHARE.iter().sum();
    let mut upto = 0;
    for (s, share) in SHARE.iter().enumerate() {
        upto += share;
        if i * total < upto * n {
            return s;
        }
    }
    SHARE.len() - 1
}

fn instance(seed: u64, cases: usize, experts: usize) -> Instance {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut candidates = Vec::with_capacity(experts);
    for i in 0..experts {
        // Experts per sector in proportion to the sector's cases, as a bureau staffs its pool.
        let main = SECTORS[sector_of(i, experts)];
        let mut sectors = vec![main.to_string()];
        if rng.random_range(0..10) == 0 {
            let other = SECTORS[rng.random_range(0..SECTORS.len())];
            if other != main {
                sectors.push(other.to_string());
            }
        }
        let mut c = Candidate { sectors, cap: Some(80), ..Candidate::new(1 + i as i64, Seat::Expert) };
        // One in ten worked for a unit, ending 1–5 years before the fiscal year.
        if rng.random_range(0..10) == 0 {
            let to = FISCAL_YEAR - rng.random_range(1..=5);
            c.employment.push((rng.random_range(1..=DEPARTMENTS), to - 4, to));
        }
        // One in twenty declared a relative heading a unit or an interest in one.
        if rng.random_range(0..20) == 0 {
            let kind = if rng.random_bool(0.5) { ConflictKind::RelativeHeadsUnit } else { ConflictKind::Interest };
            c.conflicts.push(Conflict {
                kind,
                department_id: Some(rng.random_range(1..=DEPARTMENTS)),
                project_code: None,
                note: String::new(),
            });
        }
        candidates.push(c);
    }
    let total: usize = SHARE.iter().sum();
    let mut needs = Vec::with_capacity(cases);
    for (s, share) in SHARE.iter().enumerate() {
        let n = if s + 1 == SHARE.len() { cases - needs.len() } else { cases * share / total };
        for _ in 0..n {
            let k = needs.len() + 1;
            needs.push(Need {
                department: 0,
                finance: 0,
                expert: 3,
                sector: SECTORS[s].to_string(),
                project_department_id: rng.random_range(1..=DEPARTMENTS),
                project_code: format!("XY{FISCAL_YEAR}-{k:05}"),
                fiscal_year: FISCAL_YEAR,
                policy: RecusalPolicy::default(),
                exclude: Vec::new(),
            });
        }
    }
    Instance { candidates, needs }
}

/// The largest max − min load over sectors.
fn spread(load: &std::collections::BTreeMap<i64, u32>, experts: &[Expert]) -> u32 {
    let a = assign::Assignment { by_case: Default::default(), load: load.clone(), infeasible: Vec::new() };
    a.spread_by_sector(experts).iter().map(|(_, hi, lo)| hi - lo).max().unwrap_or(0)
}

pub fn run(cases: usize, experts: usize, runs: usize) -> anyhow::Result<()> {
    let inst = instance(2023, cases, experts);
    let pool: Vec<Expert> = inst
        .candidates
        .iter()
        .map(|c| Expert { user_id: c.user_id, sectors: c.sectors.clone(), capacity: 80, existing_load: 0 })
        .collect();
    let (mut batch, mut online) = (Vec::new(), Vec::new());
    let (mut batch_spread, mut online_spread, mut infeasible, mut recused) = (0, 0, 0, 0);
    for run in 0..runs {
        // Batch: eligibility by the recusal rules, then one balanced assignment.
        let t = Instant::now();
        let mut slots = Vec::with_capacity(inst.needs.len());
        recused = 0;
        for (i, need) in inst.needs.iter().enumerate() {
            let mut eligible = Vec::new();
            for c in inst.candidates.iter().filter(|c| c.sectors.contains(&need.sector)) {
                if panel::recusal(c, need).is_some() {
                    recused += 1;
                } else {
                    eligible.push(c.user_id);
                }
            }
            slots.push(Slot { case_id: 1 + i as i64, sector: need.sector.clone(), needed: need.expert, eligible });
        }
        let result = assign::assign(&slots, &pool, run as u64);
        batch.push(t.elapsed().as_secs_f64());
        batch_spread = spread(&result.load, &pool);
        infeasible = result.infeasible.len();
        // One panel at a time, as the workers draw them: least loaded first.
        let t = Instant::now();
        let mut cands = inst.candidates.clone();
        for (i, need) in inst.needs.iter().enumerate() {
            if let Ok(d) = panel::draw(run as u64 * 1_000_000 + i as u64, &cands, need) {
                for m in d.members {
                    if let Some(c) = cands.iter_mut().find(|c| c.user_id == m.user_id) {
                        c.load += 1;
                    }
                }
            }
        }
        online.push(t.elapsed().as_secs_f64());
        let load = cands.iter().map(|c| (c.user_id, c.load)).collect();
        online_spread = spread(&load, &pool);
        println!(
            "run {}: batch {:.3} s (spread {batch_spread}, {infeasible} infeasible), one at a time {:.3} s (spread {online_spread})",
            run + 1,
            batch[run],
            online[run]
        );
    }
    println!(
        "{}",
        json!({
            "bench": "panels",
            "cases": inst.needs.len(),
            "experts": inst.candidates.len(),
            "sectors": SECTORS.len(),
            "recusals": recused,
            "wall_s": (super::median(&mut batch) * 1000.0).round() / 1000.0,
            "max_load_spread": batch_spread,
            "infeasible": infeasible,
            "one_at_a_time_wall_s": (super::median(&mut online) * 1000.0).round() / 1000.0,
            "one_at_a_time_max_load_spread": online_spread,
            "runs": runs,
        })
    );
    Ok(())
}
