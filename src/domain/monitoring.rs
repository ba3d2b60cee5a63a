//! Double monitoring (双监控): the warning lights of a monitoring report (DOMAIN.md §4).
//!
//! Budget execution is compared with time progress, and each indicator's progress with its
//! target, as of month `m` of the fiscal year:
//!
//! | rule | value | light |
//! |---|---|---|
//! | budget execution | v = (B / A) ÷ (m / 12) × 100 | v < red_below red; < green_from yellow; else green |
//! | "≥" and "=" indicator | v = done ÷ (target × m / 12) × 100 | done = 0 or v < red_below red; < green_from yellow; ≥ blue_from blue; else green |
//! | "≤" indicator | the expected full-year value (else the cumulative one) within the bound | green, else red |
//! | qualitative | 达成 / 部分达成 / 未达成 | green / yellow / red |
//!
//! A is the budget after every adjustment, addition and reduction (the ledger), never the
//! original one. The bands are data (`Bands`), written in the workflow; `Bands::default()` are
//! the provincial defaults. A project's light is the worst of its lights, blue counting as
//! green: blue (a target probably set too low) is a finding, not a failure.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::indicator::Operator;
use super::money::Fen;

/// A warning light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    Green,
    /// Far ahead of the target: the target was probably set too low.
    Blue,
    Yellow,
    Red,
}

impl Light {
    pub const ALL: [Light; 4] = [Light::Green, Light::Blue, Light::Yellow, Light::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Light::Green => "green",
            Light::Blue => "blue",
            Light::Yellow => "yellow",
            Light::Red => "red",
        }
    }

    pub fn parse(s: &str) -> Option<Light> {
        Light::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// How bad the light is for the project's light: blue counts as green.
    fn badness(self) -> u8 {
        match self {
            Light::Green | Light::Blue => 0,
            Light::Yellow => 1,
            Light::Red => 2,
        }
    }
}

/// Where a percentage value turns from red to yellow and from yellow to green.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    /// Below this many percent: red.
    pub red_below: Decimal,
    /// From this many percent: green (between the two: yellow).
    pub green_from: Decimal,
}

impl Band {
    fn light(&self, v: Decimal) -> Light {
        if v < self.red_below {
            Light::Red
        } else if v < self.green_from {
            Light::Yellow
        } else {
            Light::Green
        }
    }
}

/// The bands of a monitoring stage (`lights:` in the workflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bands {
    /// Budget execution against time progress.
    pub execution: Band,
    /// Progress of "≥" and "=" indicators against their pro-rata target.
    pub indicator: Band,
    /// From this many percent of the pro-rata target an indicator is blue; `None`: never.
    pub blue_from: Option<Decimal>,
}

impl Default for Bands {
    /// The defaults of a provincial 一体化 system: 60 / 80, blue from 120.
    fn default() -> Self {
        let band = Band { red_below: Decimal::from(60), green_from: Decimal::from(80) };
        Bands { execution: band, indicator: band, blue_from: Some(Decimal::from(120)) }
    }
}

impl Bands {
    /// What is wrong with the bands, if anything (for the workflow's diagnostics).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, b) in [("execution", &self.execution), ("indicator", &self.indicator)] {
            if b.red_below < Decimal::ZERO || b.green_from < b.red_below {
                out.push(format!(
                    "{name}: expected 0 ≤ red_below ≤ green_from, got red_below {} and green_from {}",
                    b.red_below, b.green_from
                ));
            }
        }
        if let Some(blue) = self.blue_from
            && blue <= self.indicator.green_from
        {
            out.push(format!("blue_from ({blue}) must be above indicator.green_from ({})", self.indicator.green_from));
        }
        out
    }
}

/// The qualitative levels a department reports for a 定性 indicator.
pub const QUALITATIVE_LEVELS: [&str; 3] = ["达成", "部分达成", "未达成"];

/// One light with the percentage it was read from (none for "≤" and qualitative indicators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reading {
    pub light: Light,
    /// Percent, two decimals.
    pub value: Option<Decimal>,
}

/// The month of the fiscal year a run reports on: the months completed before the fire's
/// month (a run on 1 August reports January–July, m = 7); 12 for a run after the year; at
/// least 1.
pub fn period_month(fiscal_year: i32, fire_year: i32, fire_month: u32) -> u32 {
    if fire_year > fiscal_year {
        12
    } else if fire_year < fiscal_year {
        1
    } else {
        fire_month.saturating_sub(1).clamp(1, 12)
    }
}

fn percent(v: Decimal) -> Decimal {
    v.round_dp(2)
}

/// Budget execution: executed B against the adjusted budget A at month m. With no budget there
/// is nothing to execute (no light) unless money was spent anyway (red).
pub fn execution(bands: &Bands, executed: Fen, budget: Fen, month: u32) -> Option<Reading> {
    let m = Decimal::from(month.clamp(1, 12));
    if budget <= Fen::ZERO {
        return (executed > Fen::ZERO).then_some(Reading { light: Light::Red, value: None });
    }
    let v = Decimal::from(executed.fen()) * Decimal::from(1200) / (Decimal::from(budget.fen()) * m);
    Some(Reading { light: bands.execution.light(v), value: Some(percent(v)) })
}

/// What the department reported for one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress<'a> {
    pub cumulative: Option<Decimal>,
    pub expected_full_year: Option<Decimal>,
    /// 达成 / 部分达成 / 未达成, for a qualitative indicator.
    pub level: Option<&'a str>,
}

/// One indicator's light at month m. `target` is the indicator's numeric target (none for a
/// text target); an indicator with nothing to read has no light.
pub fn indicator(
    bands: &Bands,
    operator: Operator,
    target: Option<Decimal>,
    p: &Progress<'_>,
    month: u32,
) -> Option<Reading> {
    let m = Decimal::from(month.clamp(1, 12));
    match operator {
        Operator::Qualitative => {
            let light = match p.level? {
                "达成" => Light::Green,
                "部分达成" => Light::Yellow,
                "未达成" => Light::Red,
                _ => return None,
            };
            Some(Reading { light, value: None })
        }
        Operator::Le => {
            let target = target?;
            let v = p.expected_full_year.or(p.cumulative)?;
            Some(Reading { light: if v <= target { Light::Green } else { Light::Red }, value: None })
        }
        Operator::Ge | Operator::Eq => {
            let target = target?;
            let done = p.cumulative?;
            if target <= Decimal::ZERO {
                // Nothing to reach: any progress meets it.
                return Some(Reading { light: Light::Green, value: None });
            }
            if done <= Decimal::ZERO {
                return Some(Reading { light: Light::Red, value: Some(Decimal::ZERO) });
            }
            let v = done * Decimal::from(1200) / (target * m);
            let light = match bands.blue_from {
                Some(blue) if v >= blue => Light::Blue,
                _ => bands.indicator.light(v),
            };
            Some(Reading { light, value: Some(percent(v)) })
        }
    }
}

/// The project's light: the worst of its lights (blue counts as green); `None` with no light.
pub fn worst(lights: impl IntoIterator<Item = Light>) -> Option<Light> {
    lights.into_iter().map(|l| if l == Light::Blue { Light::Green } else { l }).max_by_key(|l| l.badness())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn yuan(y: i64) -> Fen {
        Fen::from_yuan(y)
    }

    #[test]
    fn execution_bands_at_every_boundary() {
        let b = Bands::default();
        // (executed, budget, month, light, value): at month 6 the value is executed / budget × 200.
        type Case = (i64, i64, u32, Option<Light>, Option<&'static str>);
        let cases: &[Case] = &[
            (29, 100, 6, Some(Light::Red), Some("58")),
            (30, 100, 6, Some(Light::Yellow), Some("60")),
            (39, 100, 6, Some(Light::Yellow), Some("78")),
            (40, 100, 6, Some(Light::Green), Some("80")),
            (100, 100, 12, Some(Light::Green), Some("100")),
            (1200, 1000, 12, Some(Light::Green), Some("120")),
            (0, 100, 7, Some(Light::Red), Some("0")),
            // No budget: nothing to execute, unless money was spent anyway.
            (0, 0, 7, None, None),
            (5, 0, 7, Some(Light::Red), None),
        ];
        for (executed, budget, m, light, value) in cases {
            let r = execution(&b, yuan(*executed), yuan(*budget), *m);
            assert_eq!(r.map(|r| r.light), *light, "{executed}/{budget} at month {m}");
            assert_eq!(r.and_then(|r| r.value), value.map(d), "{executed}/{budget} at month {m}");
        }
    }

    #[test]
    fn adjusted_budget_turns_red_to_green() {
        // 2 million spent by July: against the original 10 million that is 34% of time progress
        // (red); the budget was cut to 3 million by adjustments (调剂), so it is 114% (green).
        let b = Bands::default();
        let original = execution(&b, yuan(2_000_000), yuan(10_000_000), 7).unwrap();
        assert_eq!(original.light, Light::Red);
        let adjusted = execution(&b, yuan(2_000_000), yuan(3_000_000), 7).unwrap();
        assert_eq!(adjusted.light, Light::Green);
    }

    #[test]
    fn higher_is_better_indicator_bands() {
        let b = Bands::default();
        let ge = |target: &str, done: &str, m: u32| {
            indicator(
                &b,
                Operator::Ge,
                Some(d(target)),
                &Progress { cumulative: Some(d(done)), ..Default::default() },
                m,
            )
            .map(|r| (r.light, r.value))
        };
        // Month 12: the value is done / target × 100.
        assert_eq!(ge("100", "59.99", 12), Some((Light::Red, Some(d("59.99")))));
        assert_eq!(ge("100", "60", 12), Some((Light::Yellow, Some(d("60")))));
        assert_eq!(ge("100", "79.99", 12), Some((Light::Yellow, Some(d("79.99")))));
        assert_eq!(ge("100", "80", 12), Some((Light::Green, Some(d("80")))));
        assert_eq!(ge("100", "119.99", 12), Some((Light::Green, Some(d("119.99")))));
        assert_eq!(ge("100", "120", 12), Some((Light::Blue, Some(d("120")))));
        // Completed = 0 is red whatever the month.
        assert_eq!(ge("100", "0", 1), Some((Light::Red, Some(d("0")))));
        // Month 6: half the target is on time.
        assert_eq!(ge("90", "45", 6), Some((Light::Green, Some(d("100")))));
        assert_eq!(ge("90", "27", 6), Some((Light::Yellow, Some(d("60")))));
        // A zero target is met by anything.
        assert_eq!(ge("0", "0", 6), Some((Light::Green, None)));
        // "=" reads like "≥".
        let eq = indicator(
            &b,
            Operator::Eq,
            Some(d("10")),
            &Progress { cumulative: Some(d("5")), ..Default::default() },
            12,
        );
        assert_eq!(eq.map(|r| r.light), Some(Light::Red));
        // No blue band: overshoot is green.
        let no_blue = Bands { blue_from: None, ..b };
        let r = indicator(
            &no_blue,
            Operator::Ge,
            Some(d("10")),
            &Progress { cumulative: Some(d("50")), ..Default::default() },
            12,
        );
        assert_eq!(r.map(|r| r.light), Some(Light::Green));
        // A text target or no progress: no light.
        assert_eq!(ge_none(&b), None);
    }

    fn ge_none(b: &Bands) -> Option<Reading> {
        indicator(b, Operator::Ge, None, &Progress { cumulative: Some(d("1")), ..Default::default() }, 6)
    }

    #[test]
    fn lower_is_better_and_qualitative() {
        let b = Bands::default();
        let le = |expected: Option<&str>, cumulative: Option<&str>| {
            indicator(
                &b,
                Operator::Le,
                Some(d("5")),
                &Progress { cumulative: cumulative.map(d), expected_full_year: expected.map(d), level: None },
                7,
            )
            .map(|r| r.light)
        };
        assert_eq!(le(Some("5"), None), Some(Light::Green));
        assert_eq!(le(Some("5.01"), Some("1")), Some(Light::Red), "the expected full-year value decides");
        assert_eq!(le(None, Some("4")), Some(Light::Green));
        assert_eq!(le(None, None), None);
        for (level, light) in [("达成", Light::Green), ("部分达成", Light::Yellow), ("未达成", Light::Red)] {
            let r =
                indicator(&b, Operator::Qualitative, None, &Progress { level: Some(level), ..Default::default() }, 7);
            assert_eq!(r.map(|r| r.light), Some(light), "{level}");
        }
        assert_eq!(indicator(&b, Operator::Qualitative, None, &Progress::default(), 7), None);
    }

    #[test]
    fn worst_light_and_months() {
        assert_eq!(worst([Light::Green, Light::Blue]), Some(Light::Green));
        assert_eq!(worst([Light::Blue, Light::Yellow, Light::Green]), Some(Light::Yellow));
        assert_eq!(worst([Light::Yellow, Light::Red]), Some(Light::Red));
        assert_eq!(worst([]), None);
        assert_eq!(period_month(2023, 2023, 8), 7);
        assert_eq!(period_month(2023, 2023, 1), 1);
        assert_eq!(period_month(2023, 2024, 1), 12);
        assert_eq!(period_month(2023, 2022, 12), 1);
        assert_eq!(period_month(2023, 2023, 12), 11);
    }

    #[test]
    fn bands_are_checked() {
        assert!(Bands::default().problems().is_empty());
        let bad = Bands {
            execution: Band { red_below: d("80"), green_from: d("60") },
            indicator: Band { red_below: d("60"), green_from: d("80") },
            blue_from: Some(d("80")),
        };
        let p = bad.problems();
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
