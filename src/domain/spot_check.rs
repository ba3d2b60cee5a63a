//! Spot checks of self-evaluations (抽查复核): a seeded, reproducible sample of the cases a
//! finance bureau re-reviews, optionally stratified by department, and the rule that flags a
//! reviewed case whose score or grade departs from the unit's own evaluation.
//!
//! Sampling rules:
//!
//! * The sample size is `n = ⌈share × N⌉` for a population of `N` cases (`n = 0` when `N = 0`),
//!   with `share` a fraction in `(0, 1]`. All arithmetic is exact `Decimal`.
//! * Cases are grouped by stratum (the department id; a caller that does not stratify passes 0
//!   for every case). The `n` cases are spread over the strata by *proportional allocation with
//!   the largest-remainder method* (Hamilton's method): each non-empty stratum of size `s` first
//!   gets `⌊share × s⌋`; the `n − Σ⌊share × s⌋` cases left over go one each to the strata with
//!   the largest fractional remainders `share × s − ⌊share × s⌋`, ties broken by stratum id
//!   ascending, and never beyond a stratum's size. So every stratum gets the floor or the ceiling
//!   of its proportional share.
//! * Inside a stratum the cases are sorted by case id and drawn with a `ChaCha8Rng` seeded from
//!   the seed mixed with the stratum id, so a stratum's draw depends on its own stream only, and
//!   the whole sample depends only on the seed and the population's content, never its order.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// One case that may be drawn for a spot check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Member {
    pub case_id: i64,
    /// The department id; 0 for every case when the sample is not stratified.
    pub stratum: i64,
}

/// Odd 64-bit constant (2⁶⁴ / φ) that spreads stratum ids over the seed space.
const STRATUM_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// The seed of a stratum's own random stream.
fn stratum_seed(seed: u64, stratum: i64) -> u64 {
    // Two's-complement reinterpretation: negative ids get their own distinct streams too.
    seed ^ (stratum as u64).wrapping_mul(STRATUM_MIX)
}

/// `⌊share × size⌋` and its fractional remainder, for `share` in `(0, 1]`.
fn proportional(share: Decimal, size: usize) -> Result<(usize, Decimal), String> {
    let exact = share
        .checked_mul(Decimal::from(size))
        .ok_or_else(|| format!("share {share} × {size} cases does not fit in a decimal"))?;
    let floor = exact.floor();
    let count = floor.to_usize().ok_or_else(|| format!("share {share} × {size} cases is not a case count"))?;
    Ok((count, exact - floor))
}

/// Draws `⌈share × N⌉` case ids from `population` (see the module header for the allocation to
/// strata). Fails when `share` is not in `(0, 1]` or a case id appears twice. The result is
/// sorted ascending; the same seed and the same cases, in any order, always give the same sample.
pub fn sample(seed: u64, population: &[Member], share: Decimal) -> Result<Vec<i64>, String> {
    if share <= Decimal::ZERO || share > Decimal::ONE {
        return Err(format!("the spot-check share must be a fraction in (0, 1], e.g. 0.15; got {share}"));
    }
    let mut seen = BTreeSet::new();
    let mut strata: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for m in population {
        if !seen.insert(m.case_id) {
            return Err(format!("case {} appears more than once in the spot-check population", m.case_id));
        }
        strata.entry(m.stratum).or_default().push(m.case_id);
    }

    let total = share
        .checked_mul(Decimal::from(population.len()))
        .and_then(|x| x.ceil().to_usize())
        .ok_or_else(|| format!("share {share} × {} cases is not a case count", population.len()))?;

    // Floors first, with each stratum's fractional remainder.
    struct Alloc {
        stratum: i64,
        size: usize,
        count: usize,
        remainder: Decimal,
    }
    let mut allocs = Vec::with_capacity(strata.len());
    for (&stratum, ids) in &strata {
        let (count, remainder) = proportional(share, ids.len())?;
        allocs.push(Alloc { stratum, size: ids.len(), count: count.min(ids.len()), remainder });
    }

    // The rest one each by largest remainder, ties by stratum id ascending. Σ remainders =
    // share × N − Σ floors, so the rest never exceeds the number of strata with a positive
    // remainder, whose floor is below their size; the size check only guards rounding.
    let floors: usize = allocs.iter().map(|a| a.count).sum();
    let mut rest = total.saturating_sub(floors);
    allocs.sort_by(|x, y| y.remainder.cmp(&x.remainder).then(x.stratum.cmp(&y.stratum)));
    for a in &mut allocs {
        if rest == 0 {
            break;
        }
        if a.count < a.size {
            a.count += 1;
            rest -= 1;
        }
    }

    let mut picked = Vec::with_capacity(total);
    for a in &allocs {
        let Some(ids) = strata.get_mut(&a.stratum) else { continue };
        ids.sort_unstable();
        let mut rng = ChaCha8Rng::seed_from_u64(stratum_seed(seed, a.stratum));
        let (chosen, _) = ids.partial_shuffle(&mut rng, a.count);
        picked.extend_from_slice(chosen);
    }
    picked.sort_unstable();
    Ok(picked)
}

/// Why a spot-checked case is flagged, or `None` when the review confirms the self-evaluation.
///
/// Flagged when the scores differ by strictly more than `margin` (a difference of exactly the
/// margin passes) or when the grades differ (compared exactly, as recorded); both reasons are
/// joined with "; ". A negative margin admits no difference at all, so it flags every case.
pub fn flagged(
    self_score: Decimal,
    reviewed_score: Decimal,
    self_grade: &str,
    reviewed_grade: &str,
    margin: Decimal,
) -> Option<String> {
    let mut reasons = Vec::new();
    match self_score.checked_sub(reviewed_score) {
        Some(diff) if diff.abs() > margin => reasons.push(format!(
            "reviewed {reviewed_score} differs from the self score {self_score} by {}, more than the margin {margin}",
            diff.abs()
        )),
        Some(_) => {}
        // The difference is beyond the largest decimal, so certainly beyond any margin.
        None => reasons.push(format!(
            "reviewed {reviewed_score} differs from the self score {self_score} by more than the margin {margin}"
        )),
    }
    if self_grade != reviewed_grade {
        reasons.push(format!("reviewed grade {reviewed_grade} differs from the self grade {self_grade}"));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn flat(n: i64) -> Vec<Member> {
        (1..=n).map(|case_id| Member { case_id, stratum: 0 }).collect()
    }

    #[test]
    fn same_seed_any_order_same_sample() {
        let mut pop: Vec<Member> = (1..=300).map(|i| Member { case_id: i * 7 + 3, stratum: i % 5 }).collect();
        let a = sample(42, &pop, d("0.2")).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        pop.shuffle(&mut rng);
        let b = sample(42, &pop, d("0.2")).unwrap();
        pop.reverse();
        let c = sample(42, &pop, d("0.2")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.len(), 60);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "sorted ascending, no repeats");
    }

    #[test]
    fn other_seed_other_sample() {
        let pop = flat(1000);
        let a = sample(1, &pop, d("0.1")).unwrap();
        let b = sample(2, &pop, d("0.1")).unwrap();
        assert_eq!(a.len(), 100);
        assert_eq!(b.len(), 100);
        assert_ne!(a, b);
    }

    #[test]
    fn stratified_allocation_is_floor_or_ceil() {
        let share = d("0.15");
        let mut rng = ChaCha8Rng::seed_from_u64(2024);
        let mut pop = Vec::new();
        let mut sizes = BTreeMap::new();
        let mut next = 1;
        for stratum in 0..74 {
            let size: i64 = rng.random_range(1..=40);
            sizes.insert(stratum, size);
            for _ in 0..size {
                pop.push(Member { case_id: next, stratum });
                next += 1;
            }
        }
        let n = pop.len();
        let picked = sample(7, &pop, share).unwrap();
        let expected = (share * Decimal::from(n)).ceil();
        assert_eq!(Decimal::from(picked.len()), expected);

        let stratum_of: BTreeMap<i64, i64> = pop.iter().map(|m| (m.case_id, m.stratum)).collect();
        let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
        for id in &picked {
            *counts.entry(stratum_of[id]).or_default() += 1;
        }
        for (stratum, size) in &sizes {
            let exact = share * Decimal::from(*size);
            let got = Decimal::from(counts.get(stratum).copied().unwrap_or(0));
            assert!(got == exact.floor() || got == exact.ceil(), "stratum {stratum}: {got} for {exact}");
        }
    }

    #[test]
    fn stratum_draw_does_not_depend_on_other_strata() {
        let a: Vec<Member> = (1..=20).map(|case_id| Member { case_id, stratum: 3 }).collect();
        let mut both = a.clone();
        both.extend((101..=120).map(|case_id| Member { case_id, stratum: 4 }));
        let alone = sample(5, &a, d("0.25")).unwrap();
        let mixed: Vec<i64> = sample(5, &both, d("0.25")).unwrap().into_iter().filter(|&id| id <= 20).collect();
        assert_eq!(alone, mixed);
    }

    #[test]
    fn remainder_ties_go_to_lower_stratum() {
        // Two strata of 1 at share 0.5: floors 0 + 0, total ⌈1⌉ = 1, equal remainders → stratum 2.
        let pop = vec![Member { case_id: 10, stratum: 9 }, Member { case_id: 20, stratum: 2 }];
        assert_eq!(sample(0, &pop, d("0.5")).unwrap(), vec![20]);
    }

    #[test]
    fn share_one_takes_everyone() {
        let pop: Vec<Member> = (1..=37).map(|i| Member { case_id: 100 - i, stratum: i % 4 }).collect();
        let mut all: Vec<i64> = pop.iter().map(|m| m.case_id).collect();
        all.sort_unstable();
        assert_eq!(sample(3, &pop, Decimal::ONE).unwrap(), all);
    }

    #[test]
    fn share_out_of_range_is_an_error() {
        let pop = flat(10);
        for bad in ["0", "-0.1", "1.01", "2"] {
            let err = sample(1, &pop, d(bad)).unwrap_err();
            assert!(err.contains(bad) && err.contains("(0, 1]"), "{err}");
        }
    }

    #[test]
    fn empty_population_gives_empty_sample() {
        assert_eq!(sample(1, &[], d("0.3")).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn duplicate_case_is_an_error() {
        let pop = vec![Member { case_id: 5, stratum: 1 }, Member { case_id: 5, stratum: 2 }];
        let err = sample(1, &pop, d("0.5")).unwrap_err();
        assert!(err.contains("case 5"), "{err}");
    }

    #[test]
    fn tiny_share_still_samples_one() {
        assert_eq!(sample(1, &flat(3), d("0.0000000000000000000000000001")).unwrap().len(), 1);
    }

    #[test]
    fn flag_boundaries() {
        assert_eq!(flagged(d("90"), d("80"), "优", "优", d("10")), None);
        assert_eq!(flagged(d("80"), d("90"), "良", "良", d("10")), None);
        let r = flagged(d("90.01"), d("80.00"), "优", "优", d("10")).unwrap();
        assert_eq!(r, "reviewed 80.00 differs from the self score 90.01 by 10.01, more than the margin 10");
        let r = flagged(d("85"), d("85"), "良", "中", d("10")).unwrap();
        assert_eq!(r, "reviewed grade 中 differs from the self grade 良");
        let r = flagged(d("91.00"), d("72.50"), "优", "中", d("10")).unwrap();
        assert_eq!(
            r,
            "reviewed 72.50 differs from the self score 91.00 by 18.50, more than the margin 10; \
             reviewed grade 中 differs from the self grade 优"
        );
    }

    #[test]
    fn flag_extremes_do_not_panic() {
        assert!(flagged(Decimal::MAX, Decimal::MIN, "优", "优", Decimal::MAX).is_some());
        assert!(flagged(d("80"), d("80"), "优", "优", d("-1")).is_some());
    }
}
