//! Balanced assignment of review-panel experts to budget-performance cases.
//!
//! [`assign`] gives each case (a [`Slot`]) `needed` distinct experts taken from its `eligible` list, never gives an
//! expert more than `capacity` new cases, and spreads the work so that the total loads
//! (`existing_load` + new assignments) are as even as possible.
//!
//! # What is guaranteed
//!
//! 1. **Validity.** Every case in [`Assignment::by_case`] has exactly `needed` distinct experts, each one listed in
//!    its `eligible` list and present in `experts`. No expert gets more than `capacity` new cases. A case is either
//!    fully served (in `by_case`) or reported in [`Assignment::infeasible`]; it is never partially served.
//! 2. **Which cases are served.** A case is reported as `sector S needs N experts for case C; K remain after recusal
//!    and caps` exactly when fewer than `needed` distinct eligible ids name a known expert with capacity > 0; no
//!    assignment could serve it. The remaining cases are accepted one at a time (smaller `needed` first, otherwise
//!    in seeded random order); each is completed with augmenting paths, which may re-route earlier cases. If a case
//!    cannot be completed, a maximum-flow argument proves that it cannot be served together with the cases
//!    accepted before it; it is released and reported as `...; K remain after recusal and caps, but only M can be
//!    assigned alongside the other cases`. Consequences:
//!    - if all those cases can be served at the same time, all of them are served;
//!    - in general the served set is *inclusion-maximal*: no rejected case can be added to it, by any assignment,
//!      while every served case stays fully staffed.
//!
//!    The served set is not guaranteed to have maximum size: finding the largest set of cases that can be served
//!    together is NP-hard (it contains set packing), so it is not attempted.
//! 3. **Balance.** For the served set, the assignment minimises exactly the sum, over all experts, of the squared
//!    total load. Because the cost is convex, this is the same as: no chain of swaps (expert `a` leaves a case, an
//!    eligible expert takes it over and leaves another case, ..., ending at expert `b` with spare capacity) moves one
//!    review from an expert with load `L` to an expert with load `<= L - 2`. When recusals, capacities and
//!    eligibility lists allow it, this gives `max - min <= 1` inside every sector. It cannot always hold: an expert
//!    of two sectors has a single load, compared against both sectors, and recusals or caps can make some experts
//!    unreachable for the cases that would even them out.
//! 4. **Determinism.** Inputs are put into a canonical order first (by ids, then by the other fields), so the order
//!    of `slots`, `experts`, `eligible` and `sectors` does not matter. Equal optimal choices are broken at random
//!    with a `ChaCha8Rng` seeded from `seed`: same seed and same input give the same [`Assignment`].
//!
//! Eligibility lists are trusted: the caller has already applied the sector match, recusals and availability, so
//! sectors are not checked again (they are only used in messages and [`Assignment::spread_by_sector`]). Eligible ids
//! missing from `experts` are ignored. If an expert id occurs more than once in `experts`, one entry is used (the
//! first after sorting by all fields); if a case id occurs more than once in `slots`, one entry is used and each
//! other one is reported as infeasible.
//!
//! # Algorithm
//!
//! The problem is a min-cost flow: source -> case (capacity `needed`), case -> eligible expert (capacity 1),
//! expert -> sink with convex cost, the `k`-th new case of an expert costing `2 * (existing_load + k) - 1`, so that
//! the total cost is the sum of squared loads minus a constant. The case-expert graph is split into connected
//! components (an expert of two sectors joins their cases into one component); each component is solved alone,
//! with its own random stream.
//!
//! * **Feasibility.** A case takes the least-loaded eligible expert with spare capacity; when none is left, a
//!   breadth-first search for an augmenting path is run. This phase only decides which cases are served.
//! * **Balancing.** A residual graph has a negative cycle only if there is a swap chain from an expert at load `L`
//!   to an expert with spare capacity at load `<= L - 2`. Call level `t` *clean* when no expert with load `>= t`
//!   has such a chain to an expert with spare capacity and load `<= t - 2`. Levels are processed from the highest
//!   load downwards; at level `t`, a multi-source breadth-first search starts from the experts at load exactly `t`
//!   (higher levels are already clean) and each chain found is applied, until there is none. Applying a chain
//!   found at level `t` never dirties a higher level: the set reached from the experts above `t` is closed and
//!   contains no target, so the chain cannot touch it. After the sweep every level is clean, so no negative cycle
//!   exists and the flow is optimal. Each chain lowers the cost by at least 2; in practice the greedy start is
//!   close to optimal, so few searches are needed.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// One case (budget project) that needs reviewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub case_id: i64,
    pub sector: String,
    /// Number of distinct experts the case needs.
    pub needed: u32,
    /// Expert ids allowed for this case (sector match, recusal and availability already applied by the caller).
    pub eligible: Vec<i64>,
}

/// One expert who may review cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expert {
    pub user_id: i64,
    pub sectors: Vec<String>,
    /// How many more cases this expert may take.
    pub capacity: u32,
    /// Cases already on this expert's desk; counted in the load that is balanced.
    pub existing_load: u32,
}

/// Result of [`assign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// case id -> assigned expert ids (sorted)
    pub by_case: BTreeMap<i64, Vec<i64>>,
    /// expert id -> load after assignment (existing_load + assigned), for every expert given
    pub load: BTreeMap<i64, u32>,
    /// cases that could not be served, with the reason
    pub infeasible: Vec<(i64, String)>,
}

impl Assignment {
    /// max − min of `load` over the experts of each sector; returns (sector, max, min) per sector, sorted by sector
    pub fn spread_by_sector(&self, experts: &[Expert]) -> Vec<(String, u32, u32)> {
        let mut range: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for expert in experts {
            let Some(&load) = self.load.get(&expert.user_id) else {
                continue;
            };
            for sector in &expert.sectors {
                let entry = range.entry(sector.as_str()).or_insert((load, load));
                entry.0 = entry.0.max(load);
                entry.1 = entry.1.min(load);
            }
        }
        range.into_iter().map(|(sector, (hi, lo))| (sector.to_string(), hi, lo)).collect()
    }
}

/// Marker for "no edge" in the search bookkeeping.
const NONE: u32 = u32::MAX;

/// A case after validation, with its usable experts as indices into the canonical expert list.
struct Case<'a> {
    id: i64,
    sector: &'a str,
    needed: u32,
    usable: Vec<usize>,
}

/// Assigns experts to cases; see the module documentation for the exact guarantees.
pub fn assign(slots: &[Slot], experts: &[Expert], seed: u64) -> Assignment {
    let experts = canonical_experts(experts);
    let ids: Vec<i64> = experts.iter().map(|e| e.user_id).collect();
    let mut added = vec![0u32; experts.len()];
    let mut by_case = BTreeMap::new();
    let mut infeasible = Vec::new();

    // Validate the cases; those that cannot be served by any assignment are reported right away.
    let mut cases: Vec<Case> = Vec::new();
    for slot in canonical_slots(slots, &mut infeasible) {
        let mut usable: Vec<usize> = slot
            .eligible
            .iter()
            .filter_map(|id| ids.binary_search(id).ok())
            .filter(|&i| experts[i].capacity > 0)
            .collect();
        usable.sort_unstable();
        usable.dedup();
        if slot.needed == 0 {
            by_case.insert(slot.case_id, Vec::new());
        } else if usable.len() < slot.needed as usize {
            let msg = format!(
                "sector {} needs {} experts for case {}; {} remain after recusal and caps",
                slot.sector,
                slot.needed,
                slot.case_id,
                usable.len()
            );
            infeasible.push((slot.case_id, msg));
        } else {
            cases.push(Case { id: slot.case_id, sector: &slot.sector, needed: slot.needed, usable });
        }
    }

    for component in components(&cases, experts.len()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // The stream depends only on the component (its smallest case id), not on the other components.
        rng.set_stream(cases[component[0]].id as u64);
        solve_component(&cases, &component, &mut added, &experts, &mut rng, &mut by_case, &mut infeasible);
    }

    infeasible.sort();
    let load = experts.iter().zip(&added).map(|(e, &a)| (e.user_id, e.existing_load.saturating_add(a))).collect();
    Assignment { by_case, load, infeasible }
}

/// Experts sorted by id (ties by the other fields), one entry per id.
fn canonical_experts(experts: &[Expert]) -> Vec<&Expert> {
    let mut keyed: Vec<(i64, u32, u32, Vec<&str>, &Expert)> = experts
        .iter()
        .map(|e| {
            let mut sectors: Vec<&str> = e.sectors.iter().map(String::as_str).collect();
            sectors.sort_unstable();
            (e.user_id, e.capacity, e.existing_load, sectors, e)
        })
        .collect();
    keyed.sort_by(|a, b| (a.0, a.1, a.2, &a.3).cmp(&(b.0, b.1, b.2, &b.3)));
    keyed.dedup_by_key(|k| k.0);
    keyed.into_iter().map(|k| k.4).collect()
}

/// Slots sorted by case id (ties by the other fields), one per id; extra copies are reported as infeasible.
fn canonical_slots<'a>(slots: &'a [Slot], infeasible: &mut Vec<(i64, String)>) -> Vec<&'a Slot> {
    let mut keyed: Vec<(i64, &str, u32, BTreeSet<i64>, &Slot)> = slots
        .iter()
        .map(|s| (s.case_id, s.sector.as_str(), s.needed, s.eligible.iter().copied().collect(), s))
        .collect();
    keyed.sort_by(|a, b| (a.0, a.1, a.2, &a.3).cmp(&(b.0, b.1, b.2, &b.3)));
    let mut out: Vec<&Slot> = Vec::with_capacity(keyed.len());
    for k in keyed {
        if out.last().is_some_and(|prev| prev.case_id == k.0) {
            infeasible.push((k.0, format!("case {} is listed more than once; only one entry is used", k.0)));
        } else {
            out.push(k.4);
        }
    }
    out
}

/// Connected components of the case-expert graph, as lists of case indices in increasing order, sorted by
/// their first case.
fn components(cases: &[Case], n_experts: usize) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..n_experts + cases.len()).collect();
    fn root(parent: &mut [usize], mut v: usize) -> usize {
        while parent[v] != v {
            parent[v] = parent[parent[v]];
            v = parent[v];
        }
        v
    }
    for (c, case) in cases.iter().enumerate() {
        for &e in &case.usable {
            let a = root(&mut parent, n_experts + c);
            let b = root(&mut parent, e);
            if a != b {
                parent[a] = b;
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for c in 0..cases.len() {
        let r = root(&mut parent, n_experts + c);
        groups.entry(r).or_default().push(c);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort_by_key(|g| g[0]);
    out
}

/// Solves one connected component and writes its result into the shared outputs.
fn solve_component(
    cases: &[Case],
    component: &[usize],
    added: &mut [u32],
    experts: &[&Expert],
    rng: &mut ChaCha8Rng,
    by_case: &mut BTreeMap<i64, Vec<i64>>,
    infeasible: &mut Vec<(i64, String)>,
) {
    // Local expert numbering, in id order.
    let mut globals: Vec<usize> = component.iter().flat_map(|&c| cases[c].usable.iter().copied()).collect();
    globals.sort_unstable();
    globals.dedup();
    let mut solver = Solver::new(cases, component, experts, &globals, rng);

    let mut order: Vec<usize> = (0..component.len()).collect();
    order.shuffle(rng);
    order.sort_by_key(|&k| cases[component[k]].needed);
    for k in order {
        if !solver.serve(k) {
            let got = solver.got[k];
            solver.release(k);
            let case = &cases[component[k]];
            let msg = format!(
                "sector {} needs {} experts for case {}; {} remain after recusal and caps, \
                 but only {} can be assigned alongside the other cases",
                case.sector,
                case.needed,
                case.id,
                case.usable.len(),
                got
            );
            infeasible.push((case.id, msg));
        }
    }

    let mut expert_order: Vec<u32> = (0..globals.len() as u32).collect();
    expert_order.shuffle(rng);
    solver.balance(&expert_order);

    for (k, &c) in component.iter().enumerate() {
        if solver.got[k] == 0 {
            continue;
        }
        let mut chosen: Vec<i64> = solver
            .edges(k)
            .filter(|&ed| solver.on[ed])
            .map(|ed| experts[globals[solver.dest[ed] as usize]].user_id)
            .collect();
        chosen.sort_unstable();
        by_case.insert(cases[c].id, chosen);
    }
    for (local, &g) in globals.iter().enumerate() {
        added[g] = solver.added[local];
    }
}

/// Flow state of one component. Cases and experts use local indices; case-expert edges are stored per case
/// (compressed rows), with `on` telling whether the edge is part of the assignment.
struct Solver {
    needed: Vec<u32>,
    got: Vec<u32>,
    row: Vec<usize>,
    dest: Vec<u32>,
    owner: Vec<u32>,
    on: Vec<bool>,
    cap: Vec<u32>,
    added: Vec<u32>,
    base: Vec<u64>,
    /// Assigned edges of each expert.
    held: Vec<Vec<u32>>,
    case_seen: Vec<u32>,
    expert_seen: Vec<u32>,
    stamp: u32,
    /// Edge through which a case was reached (an assigned edge, walked from its expert), or NONE for a root.
    case_via: Vec<u32>,
    /// Edge through which an expert was reached (an unassigned edge, walked from its case), or NONE for a root.
    expert_via: Vec<u32>,
    queue: Vec<u32>,
}

impl Solver {
    fn new(
        cases: &[Case],
        component: &[usize],
        experts: &[&Expert],
        globals: &[usize],
        rng: &mut ChaCha8Rng,
    ) -> Solver {
        let mut row = vec![0usize];
        let mut dest = Vec::new();
        let mut owner = Vec::new();
        let mut needed = Vec::with_capacity(component.len());
        for (k, &c) in component.iter().enumerate() {
            let start = dest.len();
            for g in &cases[c].usable {
                let local = globals.binary_search(g).expect("expert of the component");
                dest.push(local as u32);
                owner.push(k as u32);
            }
            dest[start..].shuffle(rng);
            row.push(dest.len());
            needed.push(cases[c].needed);
        }
        let n = globals.len();
        let m = component.len();
        Solver {
            needed,
            got: vec![0; m],
            row,
            on: vec![false; dest.len()],
            dest,
            owner,
            cap: globals.iter().map(|&g| experts[g].capacity).collect(),
            added: vec![0; n],
            base: globals.iter().map(|&g| u64::from(experts[g].existing_load)).collect(),
            held: vec![Vec::new(); n],
            case_seen: vec![0; m],
            expert_seen: vec![0; n],
            stamp: 0,
            case_via: vec![NONE; m],
            expert_via: vec![NONE; n],
            queue: Vec::new(),
        }
    }

    fn edges(&self, case: usize) -> std::ops::Range<usize> {
        self.row[case]..self.row[case + 1]
    }

    fn load(&self, e: usize) -> u64 {
        self.base[e] + u64::from(self.added[e])
    }

    fn spare(&self, e: usize) -> bool {
        self.added[e] < self.cap[e]
    }

    fn attach(&mut self, ed: usize) {
        self.on[ed] = true;
        let e = self.dest[ed] as usize;
        self.added[e] += 1;
        self.held[e].push(ed as u32);
        self.got[self.owner[ed] as usize] += 1;
    }

    fn detach(&mut self, ed: usize) {
        self.on[ed] = false;
        let e = self.dest[ed] as usize;
        self.added[e] -= 1;
        let pos = self.held[e].iter().position(|&h| h as usize == ed).expect("edge is held");
        self.held[e].swap_remove(pos);
        self.got[self.owner[ed] as usize] -= 1;
    }

    /// Drops every assignment of a case.
    fn release(&mut self, case: usize) {
        for ed in self.edges(case) {
            if self.on[ed] {
                self.detach(ed);
            }
        }
    }

    fn next_stamp(&mut self) -> u32 {
        if self.stamp == u32::MAX - 1 {
            self.case_seen.fill(0);
            self.expert_seen.fill(0);
            self.stamp = 0;
        }
        self.stamp += 1;
        self.stamp
    }

    /// Brings a case to its full count; false if a maximum flow is reached first.
    fn serve(&mut self, case: usize) -> bool {
        while self.got[case] < self.needed[case] {
            if let Some(ed) = self.best_direct(case) {
                self.attach(ed);
            } else if let Some(target) = self.path_from_case(case) {
                self.apply_path(target);
            } else {
                return false;
            }
        }
        true
    }

    /// The unused edge of a case to the least-loaded expert with spare capacity (first in shuffled order on ties).
    fn best_direct(&self, case: usize) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for ed in self.edges(case) {
            let e = self.dest[ed] as usize;
            if !self.on[ed] && self.spare(e) {
                let load = self.load(e);
                if best.is_none_or(|(l, _)| load < l) {
                    best = Some((load, ed));
                }
            }
        }
        best.map(|(_, ed)| ed)
    }

    /// Breadth-first search for an augmenting path from a case to an expert with spare capacity.
    fn path_from_case(&mut self, root: usize) -> Option<usize> {
        let stamp = self.next_stamp();
        self.queue.clear();
        self.case_seen[root] = stamp;
        self.case_via[root] = NONE;
        self.queue.push(root as u32);
        let mut head = 0;
        while head < self.queue.len() {
            let case = self.queue[head] as usize;
            head += 1;
            for ed in self.row[case]..self.row[case + 1] {
                let e = self.dest[ed] as usize;
                if self.on[ed] || self.expert_seen[e] == stamp {
                    continue;
                }
                self.expert_seen[e] = stamp;
                self.expert_via[e] = ed as u32;
                if self.added[e] < self.cap[e] {
                    return Some(e);
                }
                for &h in &self.held[e] {
                    let next = self.owner[h as usize] as usize;
                    if self.case_seen[next] != stamp {
                        self.case_seen[next] = stamp;
                        self.case_via[next] = h;
                        self.queue.push(next as u32);
                    }
                }
            }
        }
        None
    }

    /// Multi-source search from the experts at load exactly `level` that hold a new case, for a swap chain ending at
    /// an expert with spare capacity and load `<= level - 2`.
    fn improving_chain(&mut self, level: u64, expert_order: &[u32]) -> Option<usize> {
        let stamp = self.next_stamp();
        self.queue.clear();
        for &e in expert_order {
            let e = e as usize;
            if self.added[e] > 0 && self.load(e) == level {
                self.expert_seen[e] = stamp;
                self.expert_via[e] = NONE;
                self.queue.push(e as u32);
            }
        }
        let mut head = 0;
        while head < self.queue.len() {
            let from = self.queue[head] as usize;
            head += 1;
            for &h in &self.held[from] {
                let case = self.owner[h as usize] as usize;
                if self.case_seen[case] == stamp {
                    continue;
                }
                self.case_seen[case] = stamp;
                self.case_via[case] = h;
                for ed in self.row[case]..self.row[case + 1] {
                    let e = self.dest[ed] as usize;
                    if self.on[ed] || self.expert_seen[e] == stamp {
                        continue;
                    }
                    self.expert_seen[e] = stamp;
                    self.expert_via[e] = ed as u32;
                    if self.added[e] < self.cap[e] && self.base[e] + u64::from(self.added[e]) + 2 <= level {
                        return Some(e);
                    }
                    self.queue.push(e as u32);
                }
            }
        }
        None
    }

    /// Applies the path recorded by the last search, walking back from the expert where it ended.
    fn apply_path(&mut self, target: usize) {
        let mut e = target;
        loop {
            let ed = self.expert_via[e];
            if ed == NONE {
                break;
            }
            let case = self.owner[ed as usize] as usize;
            self.attach(ed as usize);
            let back = self.case_via[case];
            if back == NONE {
                break;
            }
            self.detach(back as usize);
            e = self.dest[back as usize] as usize;
        }
    }

    /// Removes every improving swap chain, sweeping load levels from the top (see the module documentation).
    fn balance(&mut self, expert_order: &[u32]) {
        let n = self.added.len();
        let top = (0..n).filter(|&e| self.added[e] > 0).map(|e| self.load(e)).max();
        let bottom = (0..n).filter(|&e| self.spare(e)).map(|e| self.load(e)).min();
        let (Some(mut level), Some(bottom)) = (top, bottom) else {
            return;
        };
        while level >= bottom + 2 {
            if (0..n).any(|e| self.added[e] > 0 && self.load(e) == level) {
                while let Some(target) = self.improving_chain(level, expert_order) {
                    self.apply_path(target);
                }
            }
            level -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet, VecDeque};

    use rand::Rng;

    use super::*;

    fn expert(id: i64, sectors: &[&str], capacity: u32, existing_load: u32) -> Expert {
        Expert { user_id: id, sectors: sectors.iter().map(|s| s.to_string()).collect(), capacity, existing_load }
    }

    fn slot(id: i64, sector: &str, needed: u32, eligible: &[i64]) -> Slot {
        Slot { case_id: id, sector: sector.to_string(), needed, eligible: eligible.to_vec() }
    }

    fn loads(pairs: &[(i64, u32)]) -> BTreeMap<i64, u32> {
        pairs.iter().copied().collect()
    }

    fn sum_sq(a: &Assignment) -> u64 {
        a.load.values().map(|&l| u64::from(l) * u64::from(l)).sum()
    }

    /// Usable eligible experts of a slot, computed independently of the module: known ids with capacity > 0.
    fn usable(slot: &Slot, experts: &[Expert]) -> Vec<i64> {
        let ok: HashSet<i64> = experts.iter().filter(|e| e.capacity > 0).map(|e| e.user_id).collect();
        let mut v: Vec<i64> = slot.eligible.iter().copied().filter(|id| ok.contains(id)).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Structural checks: counts, distinctness, eligibility, capacity and reported loads.
    fn check_valid(slots: &[Slot], experts: &[Expert], a: &Assignment) {
        let mut count: HashMap<i64, u32> = HashMap::new();
        let reported: HashSet<i64> = a.infeasible.iter().map(|(id, _)| *id).collect();
        for s in slots {
            let served = a.by_case.get(&s.case_id);
            assert!(served.is_some() != reported.contains(&s.case_id), "case {} served xor reported", s.case_id);
            let Some(chosen) = served else { continue };
            assert_eq!(chosen.len(), s.needed as usize, "case {}", s.case_id);
            let set: HashSet<i64> = chosen.iter().copied().collect();
            assert_eq!(set.len(), chosen.len(), "distinct experts for case {}", s.case_id);
            assert!(chosen.windows(2).all(|w| w[0] < w[1]), "sorted");
            let ok = usable(s, experts);
            for id in chosen {
                assert!(ok.contains(id), "expert {id} not usable for case {}", s.case_id);
                *count.entry(*id).or_default() += 1;
            }
        }
        assert_eq!(a.load.len(), experts.len());
        for e in experts {
            let n = count.get(&e.user_id).copied().unwrap_or(0);
            assert!(n <= e.capacity, "expert {} over capacity", e.user_id);
            assert_eq!(a.load[&e.user_id], e.existing_load + n, "load of expert {}", e.user_id);
        }
    }

    /// Local optimality, checked by brute-force reachability: from every expert `a` holding a new case, follow
    /// swap chains (a leaves a case, an eligible expert not on it joins, that expert leaves another case, ...).
    /// No expert reached with spare capacity may have load <= load(a) - 2. For convex costs this is equivalent
    /// to minimal sum of squares for the served set.
    fn check_local_opt(slots: &[Slot], experts: &[Expert], a: &Assignment) {
        let by_id: HashMap<i64, &Expert> = experts.iter().map(|e| (e.user_id, e)).collect();
        let mut used: HashMap<i64, u32> = HashMap::new();
        let mut holds: HashMap<i64, Vec<i64>> = HashMap::new();
        for (case, chosen) in &a.by_case {
            for id in chosen {
                *used.entry(*id).or_default() += 1;
                holds.entry(*id).or_default().push(*case);
            }
        }
        let usable_of: HashMap<i64, Vec<i64>> = slots.iter().map(|s| (s.case_id, usable(s, experts))).collect();
        for (&start, cases) in &holds {
            if cases.is_empty() {
                continue;
            }
            let start_load = a.load[&start];
            let mut seen_e: HashSet<i64> = HashSet::from([start]);
            let mut seen_c: HashSet<i64> = HashSet::new();
            let mut queue = VecDeque::from([start]);
            while let Some(e) = queue.pop_front() {
                for &case in holds.get(&e).map(Vec::as_slice).unwrap_or(&[]) {
                    if !seen_c.insert(case) {
                        continue;
                    }
                    for &f in &usable_of[&case] {
                        if a.by_case[&case].contains(&f) || !seen_e.insert(f) {
                            continue;
                        }
                        let spare = used.get(&f).copied().unwrap_or(0) < by_id[&f].capacity;
                        assert!(
                            !(spare && a.load[&f] + 2 <= start_load),
                            "improving chain from expert {start} (load {start_load}) to {f} (load {})",
                            a.load[&f]
                        );
                        queue.push_back(f);
                    }
                }
            }
        }
    }

    /// Independent min-cost flow (successive shortest paths with Bellman-Ford on unit-expanded convex arcs).
    /// Returns (flow, minimal sum of squared loads of all experts for that maximum flow).
    fn reference(cases: &[&Slot], experts: &[Expert]) -> (u64, u64) {
        let n_c = cases.len();
        let n_e = experts.len();
        let (s, t) = (n_c + n_e, n_c + n_e + 1);
        let mut to: Vec<usize> = Vec::new();
        let mut cap: Vec<i64> = Vec::new();
        let mut cost: Vec<i64> = Vec::new();
        let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n_c + n_e + 2];
        let mut add = |u: usize, v: usize, c: i64, w: i64| {
            adj[u].push(to.len());
            to.push(v);
            cap.push(c);
            cost.push(w);
            adj[v].push(to.len());
            to.push(u);
            cap.push(0);
            cost.push(-w);
        };
        let index: HashMap<i64, usize> = experts.iter().enumerate().map(|(i, e)| (e.user_id, i)).collect();
        for (i, c) in cases.iter().enumerate() {
            add(s, i, i64::from(c.needed), 0);
            for id in usable(c, experts) {
                add(i, n_c + index[&id], 1, 0);
            }
        }
        for (j, e) in experts.iter().enumerate() {
            let base = i64::from(e.existing_load);
            for k in 1..=i64::from(e.capacity).min(n_c as i64) {
                add(n_c + j, t, 1, 2 * (base + k) - 1);
            }
        }
        let (mut flow, mut total) = (0u64, 0i64);
        loop {
            let mut dist = vec![i64::MAX; n_c + n_e + 2];
            let mut via = vec![usize::MAX; n_c + n_e + 2];
            dist[s] = 0;
            let mut changed = true;
            while changed {
                changed = false;
                for u in 0..dist.len() {
                    if dist[u] == i64::MAX {
                        continue;
                    }
                    for &ed in &adj[u] {
                        if cap[ed] > 0 && dist[u] + cost[ed] < dist[to[ed]] {
                            dist[to[ed]] = dist[u] + cost[ed];
                            via[to[ed]] = ed;
                            changed = true;
                        }
                    }
                }
            }
            if dist[t] == i64::MAX {
                break;
            }
            let mut v = t;
            while v != s {
                let ed = via[v];
                cap[ed] -= 1;
                cap[ed ^ 1] += 1;
                v = to[ed ^ 1];
            }
            flow += 1;
            total += dist[t];
        }
        let base_sq: i64 = experts.iter().map(|e| i64::from(e.existing_load).pow(2)).sum();
        (flow, (base_sq + total) as u64)
    }

    /// Checks optimality of the served set's assignment and inclusion-maximality of the served set.
    fn check_against_reference(slots: &[Slot], experts: &[Expert], a: &Assignment) {
        let served: Vec<&Slot> = slots.iter().filter(|s| a.by_case.contains_key(&s.case_id)).collect();
        let demand: u64 = served.iter().map(|s| u64::from(s.needed)).sum();
        let (flow, best) = reference(&served, experts);
        assert_eq!(flow, demand);
        assert_eq!(sum_sq(a), best, "sum of squares is not minimal");
        for (id, _) in &a.infeasible {
            let extra = slots.iter().find(|s| s.case_id == *id).unwrap();
            let mut with: Vec<&Slot> = served.clone();
            with.push(extra);
            let (flow, _) = reference(&with, experts);
            assert!(flow < demand + u64::from(extra.needed), "case {id} could have been served too");
        }
    }

    fn random_instance(rng: &mut ChaCha8Rng, max_experts: usize, max_cases: usize) -> (Vec<Slot>, Vec<Expert>) {
        let sectors = ["health", "education", "transport"];
        let n_sectors = rng.random_range(1..=sectors.len());
        let n_experts = rng.random_range(2..=max_experts);
        let n_cases = rng.random_range(1..=max_cases);
        let tight = rng.random_bool(0.3);
        let experts: Vec<Expert> = (0..n_experts)
            .map(|i| {
                let first = sectors[rng.random_range(0..n_sectors)];
                let mut own = vec![first];
                if rng.random_bool(0.2) {
                    let other = sectors[rng.random_range(0..n_sectors)];
                    if other != first {
                        own.push(other);
                    }
                }
                let capacity = if tight { rng.random_range(0..=3) } else { rng.random_range(0..=12) };
                expert(100 + 7 * i as i64, &own, capacity, rng.random_range(0..=6))
            })
            .collect();
        let slots = (0..n_cases)
            .map(|i| {
                let sector = sectors[rng.random_range(0..n_sectors)];
                let mut eligible: Vec<i64> = experts
                    .iter()
                    .filter(|e| e.sectors.iter().any(|s| s == sector))
                    .filter(|_| rng.random_bool(0.85))
                    .map(|e| e.user_id)
                    .collect();
                if rng.random_bool(0.1) {
                    eligible.push(99_999); // unknown expert: ignored
                }
                if rng.random_bool(0.1) && !eligible.is_empty() {
                    eligible.push(eligible[0]); // duplicate entry
                }
                slot(5000 - 3 * i as i64, sector, rng.random_range(1..=3), &eligible)
            })
            .collect();
        (slots, experts)
    }

    fn shuffled(slots: &[Slot], experts: &[Expert], rng: &mut ChaCha8Rng) -> (Vec<Slot>, Vec<Expert>) {
        let mut slots = slots.to_vec();
        let mut experts = experts.to_vec();
        slots.shuffle(rng);
        experts.shuffle(rng);
        for s in &mut slots {
            s.eligible.shuffle(rng);
        }
        for e in &mut experts {
            e.sectors.shuffle(rng);
        }
        (slots, experts)
    }

    #[test]
    fn existing_load_is_evened_out() {
        let experts = [expert(1, &["health"], 10, 2), expert(2, &["health"], 10, 0)];
        let slots: Vec<Slot> = (10..14).map(|id| slot(id, "health", 1, &[1, 2])).collect();
        let a = assign(&slots, &experts, 1);
        assert_eq!(a.load, loads(&[(1, 3), (2, 3)]));
        assert!(a.infeasible.is_empty());
        check_valid(&slots, &experts, &a);
    }

    #[test]
    fn capacity_and_distinctness_bind() {
        let experts = [expert(1, &["health"], 1, 0), expert(2, &["health"], 10, 5), expert(3, &["health"], 10, 0)];
        let slots: Vec<Slot> = (1..=3).map(|id| slot(id, "health", 2, &[1, 2, 3])).collect();
        let a = assign(&slots, &experts, 3);
        // Expert 3 can take at most one review per case (3), expert 1 is capped at 1, the rest goes to expert 2.
        assert_eq!(a.load, loads(&[(1, 1), (2, 7), (3, 3)]));
        check_valid(&slots, &experts, &a);
    }

    #[test]
    fn idle_and_zero_capacity_experts_keep_their_load() {
        let experts = [expert(1, &["health"], 0, 4), expert(2, &["health"], 5, 1), expert(3, &["culture"], 5, 2)];
        let slots = [slot(1, "health", 1, &[1, 2])];
        let a = assign(&slots, &experts, 0);
        assert_eq!(a.load, loads(&[(1, 4), (2, 2), (3, 2)]));
        assert_eq!(a.by_case[&1], vec![2]);
    }

    #[test]
    fn infeasible_case_is_reported_and_others_still_served() {
        let experts =
            [expert(1, &["education"], 5, 0), expert(2, &["education"], 5, 0), expert(3, &["education"], 0, 0)];
        let slots = [slot(17, "education", 3, &[1, 2, 3, 999, 2]), slot(18, "education", 2, &[1, 2])];
        let a = assign(&slots, &experts, 9);
        assert_eq!(
            a.infeasible,
            vec![(17, "sector education needs 3 experts for case 17; 2 remain after recusal and caps".to_string())]
        );
        assert_eq!(a.by_case.get(&18), Some(&vec![1, 2]));
        assert!(!a.by_case.contains_key(&17));
        check_valid(&slots, &experts, &a);
    }

    #[test]
    fn contention_rejects_whole_cases_with_reason() {
        let experts = [expert(1, &["health"], 1, 0), expert(2, &["health"], 1, 0), expert(3, &["health"], 1, 0)];
        let slots = [slot(1, "health", 2, &[1, 2, 3]), slot(2, "health", 2, &[1, 2, 3])];
        for seed in 0..10 {
            let a = assign(&slots, &experts, seed);
            assert_eq!(a.by_case.len(), 1);
            assert_eq!(a.infeasible.len(), 1);
            let (id, msg) = &a.infeasible[0];
            assert_eq!(
                msg,
                &format!(
                    "sector health needs 2 experts for case {id}; 3 remain after recusal and caps, \
                     but only 1 can be assigned alongside the other cases"
                )
            );
            check_valid(&slots, &experts, &a);
            check_against_reference(&slots, &experts, &a);
        }
    }

    #[test]
    fn contention_prefers_keeping_complete_cases() {
        // Capacity for 10 reviews; four cases need 3 each: three cases must be served, not two plus fragments.
        let experts: Vec<Expert> = (1..=5).map(|id| expert(id, &["health"], 2, 0)).collect();
        let slots: Vec<Slot> = (1..=4).map(|id| slot(id, "health", 3, &[1, 2, 3, 4, 5])).collect();
        let a = assign(&slots, &experts, 5);
        assert_eq!(a.by_case.len(), 3);
        assert_eq!(a.infeasible.len(), 1);
        check_valid(&slots, &experts, &a);
        check_against_reference(&slots, &experts, &a);
    }

    #[test]
    fn multi_sector_expert_couples_sectors() {
        // Expert 2 serves both sectors; expert 3 already has 4 cases. Solving the sectors separately would give
        // expert 2 one health case plus both education cases (loads 1, 3, 4); the joint optimum is 2, 2, 4.
        let experts = [
            expert(1, &["health"], 10, 0),
            expert(2, &["health", "education"], 10, 0),
            expert(3, &["education"], 10, 4),
        ];
        let slots = [
            slot(1, "health", 1, &[1, 2]),
            slot(2, "health", 1, &[1, 2]),
            slot(3, "education", 1, &[2, 3]),
            slot(4, "education", 1, &[2, 3]),
        ];
        for seed in 0..20 {
            let a = assign(&slots, &experts, seed);
            assert_eq!(a.load, loads(&[(1, 2), (2, 2), (3, 4)]));
            assert_eq!(a.by_case[&1], vec![1]);
            assert_eq!(a.by_case[&3], vec![2]);
            assert_eq!(
                a.spread_by_sector(&experts),
                vec![("education".to_string(), 4, 2), ("health".to_string(), 2, 2)]
            );
        }
    }

    #[test]
    fn needed_zero_and_duplicate_case_ids() {
        let experts = [expert(1, &["health"], 3, 0)];
        let slots = [slot(1, "health", 0, &[]), slot(2, "health", 1, &[1]), slot(2, "health", 1, &[1])];
        let a = assign(&slots, &experts, 0);
        assert_eq!(a.by_case.get(&1), Some(&vec![]));
        assert_eq!(a.by_case.get(&2), Some(&vec![1]));
        assert_eq!(a.infeasible, vec![(2, "case 2 is listed more than once; only one entry is used".to_string())]);
        assert_eq!(a.load, loads(&[(1, 1)]));
    }

    #[test]
    fn empty_input() {
        let a = assign(&[], &[], 0);
        assert!(a.by_case.is_empty() && a.load.is_empty() && a.infeasible.is_empty());
    }

    #[test]
    fn random_instances_are_valid_and_optimal() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut with_rejections = 0;
        for round in 0..200 {
            let (slots, experts) = random_instance(&mut rng, 12, 30);
            let a = assign(&slots, &experts, round);
            check_valid(&slots, &experts, &a);
            check_local_opt(&slots, &experts, &a);
            check_against_reference(&slots, &experts, &a);
            with_rejections += usize::from(!a.infeasible.is_empty());
        }
        assert!(with_rejections > 10, "the generator should also produce infeasible cases");
    }

    #[test]
    fn larger_random_instances_are_locally_optimal() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for round in 0..20 {
            let (slots, experts) = random_instance(&mut rng, 40, 300);
            let a = assign(&slots, &experts, round);
            check_valid(&slots, &experts, &a);
            check_local_opt(&slots, &experts, &a);
            if round < 5 {
                check_against_reference(&slots, &experts, &a);
            }
        }
    }

    #[test]
    fn same_seed_same_result_regardless_of_input_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        for round in 0..50 {
            let (slots, experts) = random_instance(&mut rng, 15, 60);
            let a = assign(&slots, &experts, round);
            assert_eq!(a, assign(&slots, &experts, round));
            let (slots2, experts2) = shuffled(&slots, &experts, &mut rng);
            assert_eq!(a, assign(&slots2, &experts2, round));
        }
    }

    #[test]
    fn different_seeds_break_ties_differently() {
        let experts: Vec<Expert> = (1..=6).map(|id| expert(id, &["health"], 20, 0)).collect();
        let slots: Vec<Slot> = (1..=10).map(|id| slot(id, "health", 3, &[1, 2, 3, 4, 5, 6])).collect();
        let results: HashSet<Vec<(i64, Vec<i64>)>> = (0..10)
            .map(|seed| {
                let a = assign(&slots, &experts, seed);
                check_valid(&slots, &experts, &a);
                // 30 reviews over 6 experts: every optimum has load 5 everywhere.
                assert!(a.load.values().all(|&l| l == 5));
                a.by_case.into_iter().collect()
            })
            .collect();
        assert!(results.len() > 1);
    }

    #[test]
    fn spread_by_sector_reports_max_and_min() {
        let experts = [expert(1, &["b", "a"], 0, 3), expert(2, &["a"], 0, 7), expert(3, &["c"], 0, 1)];
        let a = assign(&[], &experts, 0);
        assert_eq!(
            a.spread_by_sector(&experts),
            vec![("a".to_string(), 7, 3), ("b".to_string(), 3, 3), ("c".to_string(), 1, 1)]
        );
    }
}
