//! A deterministic demo county shaped like the seed (Xiangyuan county, 2023): 74 departments,
//! an expert pool and budget projects with full indicator sets, for `jixiao demo`,
//! `serve --demo` and the benchmarks.
//!
//! Everything comes from one `u64` seed through ChaCha streams, so a demo, a test and a
//! benchmark that name the same seed see the same county (with the same rand 0.9 and
//! rand_chacha 0.9). Departments, experts and projects each have their own stream, so the
//! departments do not change when only the project count does. The tables are `&'static str`
//! so that a province (350,000 projects) stays cheap: `generate` takes about a second in a
//! release build, most of it allocating; `project_stream` yields the same projects one at a
//! time for runs that should not hold them all.
//!
//! What is controlled exactly rather than left to chance: the 74 departments, the number of new
//! projects of at least 5,000,000 yuan (the ex-ante assessment trigger: 21 for 3,244 projects,
//! proportionally otherwise), the indicator weights (产出 50, 效益 30, 满意度 10) and the
//! share of experts with a past unit (one in ten). Every project passes
//! `ProjectInput::validate`; no defect is planted on purpose.

use std::fmt::Write as _;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::domain::{Basis, Fen, FundingSource, Indicator, Level1, Operator, ProjectInput, TargetValue};

/// A generated county: its departments, its expert pool and its projects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoCounty {
    pub departments: Vec<DemoDepartment>,
    pub experts: Vec<DemoExpert>,
    pub projects: Vec<ProjectInput>,
}

/// A budget department (预算部门/单位).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoDepartment {
    /// "D001" … "D074".
    pub code: String,
    pub name: String,
    /// A sector code from `SECTORS`.
    pub sector: String,
    /// The head of the unit (负责人).
    pub head: String,
}

/// A member of the expert pool panels are drawn from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoExpert {
    pub name: String,
    /// One or two sector codes; the first is the expert's main field.
    pub sectors: Vec<String>,
    pub title: String,
    pub organisation: String,
    pub email: String,
    /// Departments the expert worked for: (department code, from year, to year). Filled for one
    /// expert in ten, ending one to five years before the fiscal year, so that recusal has
    /// cases both inside and outside its three-year window.
    pub past_units: Vec<(String, i32, i32)>,
}

/// The number of projects in the seed year, and the number of them that were new and of at
/// least 5,000,000 yuan; other sizes scale from this ratio.
const SEED_PROJECTS: usize = 3_244;
const SEED_EX_ANTE: usize = 21;
/// The seed county's expert pool is sized for its project count; it scales the same way.
const SEED_EXPERTS: usize = 200;
const MIN_EXPERTS: usize = 40;
/// The ex-ante assessment trigger of the seed, in yuan.
const EX_ANTE_YUAN: i64 = 5_000_000;

/// Builds the county for `seed`. `projects` is the number of projects (3,244 for the seed
/// year); `fiscal_year` is written on every project and anchors the experts' past units.
pub fn generate(seed: u64, projects: usize, fiscal_year: i32) -> DemoCounty {
    DemoCounty {
        departments: departments(seed),
        experts: experts(seed, expert_count(projects), fiscal_year),
        projects: project_stream(seed, projects, fiscal_year).collect(),
    }
}

/// How many projects are new and of at least 5,000,000 yuan: the seed's 21 in 3,244, rounded,
/// and at least one once there are 100 projects so that small demos still exercise the trigger.
pub fn ex_ante_count(projects: usize) -> usize {
    let scaled = (projects * SEED_EX_ANTE + SEED_PROJECTS / 2) / SEED_PROJECTS;
    if projects >= 100 { scaled.max(1) } else { scaled }
}

/// The size of the expert pool for a number of projects.
pub fn expert_count(projects: usize) -> usize {
    ((projects * SEED_EXPERTS + SEED_PROJECTS / 2) / SEED_PROJECTS).max(MIN_EXPERTS)
}

// ---------------------------------------------------------------------------------------------
// Random helpers. Probabilities are whole percentages so that no float enters the generator.

/// Separate streams keep the departments stable when only the project count changes (the
/// expert pool's size follows the project count, so it changes with it).
const STREAM_DEPARTMENTS: u64 = 1;
const STREAM_EXPERTS: u64 = 2;
const STREAM_PROJECTS: u64 = 3;

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn chance(rng: &mut ChaCha8Rng, percent: u32) -> bool {
    rng.random_range(0..100) < percent
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn person_name(rng: &mut ChaCha8Rng) -> String {
    let mut name = String::with_capacity(9);
    name.push_str(pick(rng, SURNAMES));
    name.push_str(pick(rng, GIVEN));
    if chance(rng, 70) {
        name.push_str(pick(rng, GIVEN));
    }
    name
}

// ---------------------------------------------------------------------------------------------
// Departments.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A bureau or office of the county government.
    Office,
    /// A township government; its projects are named after the township.
    Town,
    /// A school, hospital or centre; equipment and building projects carry its name.
    Unit,
}

struct Dept {
    name: &'static str,
    sector: usize,
    kind: Kind,
    /// The department's share of the county's projects.
    weight: u32,
}

const fn office(name: &'static str, sector: usize, weight: u32) -> Dept {
    Dept { name, sector, kind: Kind::Office, weight }
}

const fn unit(name: &'static str, sector: usize, weight: u32) -> Dept {
    Dept { name, sector, kind: Kind::Unit, weight }
}

/// Township governments mostly carry rural-revitalisation and farmland money, hence agriculture.
const fn town(name: &'static str) -> Dept {
    Dept { name, sector: AGRI, kind: Kind::Town, weight: 4 }
}

const TOWN_SUFFIX: &str = "人民政府";

/// The 74 departments. The weights give education, health, agriculture, transport and social
/// security the most projects, as in the seed's budget.
const DEPARTMENTS: &[Dept] = &[
    office("县教育局", EDU, 60),
    unit("县第一中学", EDU, 8),
    unit("县第二中学", EDU, 7),
    unit("县实验中学", EDU, 6),
    unit("县职业高级中学", EDU, 7),
    unit("县实验小学", EDU, 6),
    unit("县第一幼儿园", EDU, 4),
    unit("县特殊教育学校", EDU, 3),
    unit("县教师进修学校", EDU, 3),
    office("县卫生健康局", HEALTH, 30),
    unit("县人民医院", HEALTH, 14),
    unit("县中医医院", HEALTH, 10),
    unit("县疾病预防控制中心", HEALTH, 10),
    unit("县妇幼保健计划生育服务中心", HEALTH, 7),
    unit("县第二人民医院", HEALTH, 5),
    unit("县卫生健康综合行政执法队", HEALTH, 3),
    unit("县急救中心", HEALTH, 3),
    office("县农业农村局", AGRI, 30),
    office("县水利局", AGRI, 14),
    office("县乡村振兴局", AGRI, 10),
    unit("县农业技术推广中心", AGRI, 5),
    unit("县畜牧兽医发展中心", AGRI, 5),
    unit("县农业机械发展中心", AGRI, 4),
    town("古韩镇人民政府"),
    town("王桥镇人民政府"),
    town("侯堡镇人民政府"),
    town("夏店镇人民政府"),
    town("虒亭镇人民政府"),
    town("西营镇人民政府"),
    town("王村镇人民政府"),
    town("下良镇人民政府"),
    town("善福乡人民政府"),
    town("北底乡人民政府"),
    town("上马乡人民政府"),
    office("县交通运输局", TRANSPORT, 30),
    unit("县公路管理段", TRANSPORT, 10),
    unit("县农村公路养护中心", TRANSPORT, 8),
    office("县住房和城乡建设管理局", TRANSPORT, 14),
    unit("县道路运输服务中心", TRANSPORT, 6),
    unit("县交通运输综合行政执法大队", TRANSPORT, 4),
    office("县人力资源和社会保障局", SOCIAL, 24),
    office("县民政局", SOCIAL, 24),
    office("县医疗保障局", SOCIAL, 14),
    office("县退役军人事务局", SOCIAL, 8),
    office("县残疾人联合会", SOCIAL, 6),
    unit("县社会保险中心", SOCIAL, 10),
    unit("县就业服务中心", SOCIAL, 6),
    unit("县社会福利院", SOCIAL, 4),
    office("长治市生态环境局襄垣分局", ENV, 14),
    office("县自然资源局", ENV, 10),
    office("县林业局", ENV, 10),
    office("县城市管理局", ENV, 8),
    unit("县环境卫生服务中心", ENV, 6),
    office("县文化和旅游局", CULTURE, 16),
    unit("县融媒体中心", CULTURE, 8),
    unit("县图书馆", CULTURE, 4),
    unit("县文化馆", CULTURE, 4),
    unit("县体育事业发展中心", CULTURE, 5),
    office("县公安局", SAFETY, 20),
    office("县司法局", SAFETY, 7),
    office("县应急管理局", SAFETY, 9),
    unit("县消防救援大队", SAFETY, 5),
    office("县人民法院", SAFETY, 5),
    office("县人民检察院", SAFETY, 4),
    office("县财政局", GENERAL, 12),
    office("县人民政府办公室", GENERAL, 6),
    office("县发展和改革局", GENERAL, 8),
    office("县审计局", GENERAL, 4),
    office("县统计局", GENERAL, 3),
    office("县市场监督管理局", GENERAL, 8),
    office("县行政审批服务管理局", GENERAL, 5),
    unit("县档案馆", GENERAL, 2),
    office("中共襄垣县委办公室", GENERAL, 4),
    office("县人大常委会办公室", GENERAL, 3),
];

fn department_code(index: usize) -> String {
    format!("D{:03}", index + 1)
}

fn departments(seed: u64) -> Vec<DemoDepartment> {
    let mut rng = stream(seed, STREAM_DEPARTMENTS);
    DEPARTMENTS
        .iter()
        .enumerate()
        .map(|(i, d)| DemoDepartment {
            code: department_code(i),
            name: d.name.to_string(),
            sector: SECTOR_DATA[d.sector].code.to_string(),
            head: person_name(&mut rng),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Experts.

fn experts(seed: u64, count: usize, fiscal_year: i32) -> Vec<DemoExpert> {
    let mut rng = stream(seed, STREAM_EXPERTS);
    let weights: Vec<u32> = SECTOR_DATA.iter().map(|s| s.expert_weight).collect();
    // Exactly one in ten (rounded) has a past unit, so recusal tests have a known population.
    let mut has_past = vec![false; count];
    for i in rand::seq::index::sample(&mut rng, count, (count + 5) / 10) {
        has_past[i] = true;
    }
    (0..count)
        .map(|i| {
            // The first experts cover every sector once, so no sector is ever without a pool.
            let main = if i < SECTOR_DATA.len() { i } else { weighted(&mut rng, &weights) };
            let sector = &SECTOR_DATA[main];
            let mut sectors = vec![sector.code.to_string()];
            if chance(&mut rng, 35) {
                let other = weighted(&mut rng, &weights);
                if other != main {
                    sectors.push(SECTOR_DATA[other].code.to_string());
                }
            }
            let name = person_name(&mut rng);
            let (title, organisation) = pick(&mut rng, sector.expert_profiles);
            let mut past_units = Vec::new();
            if has_past[i] {
                let candidates: Vec<usize> =
                    (0..DEPARTMENTS.len()).filter(|d| DEPARTMENTS[*d].sector == main).collect();
                let dept = pick(&mut rng, &candidates);
                let to = fiscal_year - rng.random_range(1..=5);
                let from = to - rng.random_range(1..=8);
                past_units.push((department_code(dept), from, to));
            }
            DemoExpert {
                name,
                sectors,
                title: title.to_string(),
                organisation: organisation.to_string(),
                email: format!("expert{:03}@experts.example.cn", i + 1),
                past_units,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Projects.

/// Splits `total` projects over the departments by weight (largest remainder), so the split is
/// exact and needs no randomness.
fn allocate(total: usize) -> Vec<usize> {
    let weights: Vec<u64> = DEPARTMENTS.iter().map(|d| u64::from(d.weight)).collect();
    let sum: u64 = weights.iter().sum();
    let total = total as u64;
    let mut counts: Vec<usize> = weights.iter().map(|w| (total * w / sum) as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(total * weights[*i] % sum));
    let missing = total as usize - counts.iter().sum::<usize>();
    for i in order.into_iter().take(missing) {
        counts[i] += 1;
    }
    counts
}

/// The projects of a demo county, one at a time, in department order. `generate` collects
/// them; a province-sized benchmark can stream them instead, because 350,000 projects with
/// their indicators take about a gigabyte when held at once.
pub struct DemoProjects {
    rng: ChaCha8Rng,
    fiscal_year: i32,
    /// "2023年", put in front of some names.
    year: String,
    /// The positions of the new projects of at least 5,000,000 yuan, drawn up front so that
    /// their number is exact.
    ex_ante: Vec<bool>,
    /// Projects per department, from `allocate`.
    counts: Vec<usize>,
    dept: usize,
    /// Projects already made for `dept`.
    seq: usize,
    produced: usize,
    /// "D001" and "XY2023-D001-" for the current department.
    dept_code: String,
    code_prefix: String,
}

/// The same projects as `generate(seed, projects, fiscal_year).projects`, without holding them.
pub fn project_stream(seed: u64, projects: usize, fiscal_year: i32) -> DemoProjects {
    let mut rng = stream(seed, STREAM_PROJECTS);
    let mut ex_ante = vec![false; projects];
    for i in rand::seq::index::sample(&mut rng, projects, ex_ante_count(projects).min(projects)) {
        ex_ante[i] = true;
    }
    DemoProjects {
        rng,
        fiscal_year,
        year: format!("{fiscal_year}年"),
        ex_ante,
        counts: allocate(projects),
        dept: 0,
        seq: 0,
        produced: 0,
        dept_code: String::new(),
        code_prefix: String::new(),
    }
}

impl Iterator for DemoProjects {
    type Item = ProjectInput;

    fn next(&mut self) -> Option<ProjectInput> {
        while self.seq == *self.counts.get(self.dept)? {
            self.dept += 1;
            self.seq = 0;
        }
        if self.seq == 0 {
            self.dept_code = department_code(self.dept);
            self.code_prefix = format!("XY{}-{}-", self.fiscal_year, self.dept_code);
        }
        self.seq += 1;
        let ex_ante = self.ex_ante[self.produced];
        self.produced += 1;
        Some(self.project(ex_ante))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.ex_ante.len() - self.produced;
        (left, Some(left))
    }
}

impl ExactSizeIterator for DemoProjects {}

impl DemoProjects {
    fn project(&mut self, ex_ante: bool) -> ProjectInput {
        let rng = &mut self.rng;
        let dept = &DEPARTMENTS[self.dept];
        let sector = &SECTOR_DATA[dept.sector];
        let template = if ex_ante {
            // Only capital projects plausibly reach the trigger; every sector has some.
            let mut large = sector.templates.iter().filter(|t| t.class == Class::Large);
            let k = rng.random_range(0..large.clone().count());
            large.nth(k).unwrap_or(&sector.templates[0])
        } else {
            &sector.templates[rng.random_range(0..sector.templates.len())]
        };
        let new_percent = if template.class == Class::Recurring { 3 } else { 22 };
        let is_new = ex_ante || chance(rng, new_percent);
        let mut yuan = if ex_ante { ex_ante_amount(rng) } else { amount(rng, template.class) };
        if is_new && !ex_ante && yuan >= EX_ANTE_YUAN {
            // Keeps the trigger count exact: a new project that is not one of the chosen few
            // stays below 5,000,000 yuan.
            yuan = rng.random_range(100..500) * 10_000;
        }
        let funding_source =
            if chance(rng, 70) { template.source } else { FUNDING_MIX[weighted(rng, &FUNDING_WEIGHTS)] };

        let mut code = String::with_capacity(self.code_prefix.len() + 5);
        code.push_str(&self.code_prefix);
        // Writing to a String cannot fail.
        let _ = write!(code, "{:04}", self.seq);

        ProjectInput {
            code,
            name: project_name(rng, dept, template, funding_source, &self.year),
            department_code: self.dept_code.clone(),
            sector: sector.code.to_string(),
            amount: Fen::from_yuan(yuan),
            fiscal_year: self.fiscal_year,
            is_new,
            funding_source,
            indicators: indicators(rng, sector, template, yuan),
        }
    }
}

fn project_name(rng: &mut ChaCha8Rng, dept: &Dept, template: &Template, source: FundingSource, year: &str) -> String {
    let mut name = String::with_capacity(72);
    match template.naming {
        Naming::Placed if dept.kind == Kind::Town => {
            name.push_str(dept.name.trim_end_matches(TOWN_SUFFIX));
            if chance(rng, 50) {
                name.push_str(pick(rng, VILLAGES));
            }
        }
        Naming::Placed if chance(rng, 60) => {
            name.push_str(pick(rng, TOWNS));
            name.push_str(pick(rng, VILLAGES));
        }
        Naming::Unit if dept.kind == Kind::Unit => name.push_str(dept.name),
        _ => {}
    }
    if name.is_empty() {
        if chance(rng, 35) {
            name.push_str(year);
        }
        if source == FundingSource::Transfer && chance(rng, 30) {
            name.push_str(if chance(rng, 60) { "中央财政" } else { "省级" });
        }
    }
    name.push_str(template.name);
    if template.naming == Naming::Placed && template.class == Class::Large && chance(rng, 8) {
        name.push_str(if chance(rng, 50) { "（续建）" } else { "（二期）" });
    } else if template.naming == Naming::Plain && chance(rng, 5) {
        name.push_str("（第二批）");
    }
    name
}

/// Amount buckets in yuan, [low, high). Most projects fall between 20,000 and 3,000,000; the
/// last bucket is the tail of capital projects.
const BUCKETS: [(i64, i64); 6] = [
    (5_000, 20_000),
    (20_000, 200_000),
    (200_000, 1_000_000),
    (1_000_000, 3_000_000),
    (3_000_000, 10_000_000),
    (10_000_000, 60_000_000),
];

fn amount(rng: &mut ChaCha8Rng, class: Class) -> i64 {
    let weights: [u32; 6] = match class {
        Class::Small => [12, 55, 28, 5, 0, 0],
        Class::Medium => [2, 24, 42, 25, 6, 1],
        Class::Large | Class::Recurring => [0, 8, 34, 34, 18, 6],
    };
    let (lo, hi) = BUCKETS[weighted(rng, &weights)];
    // The smaller of two draws skews each bucket towards its low end, as budgets are.
    let v = rng.random_range(lo..hi).min(rng.random_range(lo..hi));
    round_amount(rng, v)
}

fn ex_ante_amount(rng: &mut ChaCha8Rng) -> i64 {
    let (lo, hi) =
        [(EX_ANTE_YUAN, 10_000_000), (10_000_000, 30_000_000), (30_000_000, 80_000_000)][weighted(rng, &[60, 30, 10])];
    rng.random_range(lo / 10_000..hi / 10_000) * 10_000
}

/// Budgets are written in round figures, with some exact ones (formula-based subsidies).
fn round_amount(rng: &mut ChaCha8Rng, v: i64) -> i64 {
    if chance(rng, 15) {
        return v;
    }
    let step = if v < 100_000 {
        100
    } else if v < 1_000_000 {
        1_000
    } else {
        10_000
    };
    (v / step * step).max(step)
}

const FUNDING_MIX: [FundingSource; 4] =
    [FundingSource::GeneralBudget, FundingSource::Transfer, FundingSource::GovernmentFund, FundingSource::StateCapital];
const FUNDING_WEIGHTS: [u32; 4] = [62, 24, 11, 3];

// ---------------------------------------------------------------------------------------------
// Indicators.

/// The level-1 totals of 财预〔2020〕10号; the budget execution rate's 10 points are not an
/// indicator and are left out.
const OUTPUT_POINTS: i64 = 50;
const BENEFIT_POINTS: i64 = 30;
const SATISFACTION_POINTS: i64 = 10;

fn indicators(rng: &mut ChaCha8Rng, sector: &SectorData, template: &Template, yuan: i64) -> Vec<Indicator> {
    // 6–10 indicators, 8 on average; at least three outputs and one each of benefit and
    // satisfaction, and never more than the pools below can fill without repeating a name.
    let n = rng.random_range(6..=10usize);
    let outputs = rng.random_range(3.max(n - 5)..=6.min(n - 2));
    let rest = n - outputs;
    let satisfactions = if rest >= 5 || (rest >= 3 && chance(rng, 30)) { 2 } else { 1 };
    let benefits = rest - satisfactions;
    // Some departments state every benefit as a number; the others mix in 定性 targets.
    let quantified = chance(rng, 50);
    let allowed = |s: &Spec| !(quantified && s.op == Operator::Qualitative);

    let mut v = Vec::with_capacity(n);
    let mut picked = Picked::default();

    // The template's defining quantity comes first and is the core (★) indicator.
    let own = &template.outputs[..template.outputs.len().min(outputs - 1)];
    picked.extend(own);
    picked.draw(rng, &[sector.quality, TIMELINESS, COST], outputs, |_| true);
    picked.push_into(rng, &mut v, yuan, OUTPUT_POINTS, true);

    picked.extend(template.benefits.iter().filter(|s| allowed(s)).take(benefits));
    picked.draw(rng, &[sector.benefit], benefits, allowed);
    let second_core = chance(rng, 35);
    picked.push_into(rng, &mut v, yuan, BENEFIT_POINTS, second_core);

    picked.draw(rng, &[sector.satisfaction], satisfactions, |_| true);
    picked.push_into(rng, &mut v, yuan, SATISFACTION_POINTS, false);
    v
}

/// The specs chosen for one level-1 group, on the stack: a project makes eight indicators and
/// a province run makes millions, so the choosing allocates nothing.
#[derive(Default)]
struct Picked {
    specs: [Option<&'static Spec>; 8],
    len: usize,
}

impl Picked {
    fn extend(&mut self, specs: impl IntoIterator<Item = &'static Spec>) {
        for s in specs {
            if self.len < self.specs.len() {
                self.specs[self.len] = Some(s);
                self.len += 1;
            }
        }
    }

    /// Tops the group up to `want` with distinct specs from the pools that `allow` accepts
    /// and that are not already in it (a partial Fisher–Yates shuffle over their indices).
    fn draw(&mut self, rng: &mut ChaCha8Rng, pools: &[&'static [Spec]], want: usize, allow: impl Fn(&Spec) -> bool) {
        let mut candidates = [0u8; 32];
        let mut len = 0;
        for (i, spec) in pools.iter().flat_map(|p| p.iter()).enumerate() {
            let taken = self.specs[..self.len].iter().flatten().any(|s| s.name == spec.name);
            if allow(spec) && !taken && len < candidates.len() {
                candidates[len] = i as u8;
                len += 1;
            }
        }
        let k = want.saturating_sub(self.len).min(len);
        for i in 0..k {
            let j = rng.random_range(i..len);
            candidates.swap(i, j);
        }
        self.extend(candidates[..k].iter().map(|i| pool_nth(pools, *i)));
    }

    /// Builds the group's indicators with `points` shared among them, and empties the group.
    fn push_into(
        &mut self,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<Indicator>,
        yuan: i64,
        points: i64,
        first_is_core: bool,
    ) {
        let n = self.len;
        for (i, spec) in self.specs[..n].iter().flatten().enumerate() {
            out.push(build(rng, spec, yuan, share(points, n, i), i == 0 && first_is_core));
        }
        *self = Picked::default();
    }
}

/// The i-th of n equal shares of `total` whole points; the first ones take the remainder so
/// the shares always add up to `total`.
fn share(total: i64, n: usize, i: usize) -> Decimal {
    let n = n as i64;
    let extra = i64::from((i as i64) < total % n);
    Decimal::from(total / n + extra)
}

fn pool_nth(pools: &[&'static [Spec]], i: u8) -> &'static Spec {
    let mut i = usize::from(i);
    for p in pools {
        if i < p.len() {
            return &p[i];
        }
        i -= p.len();
    }
    unreachable!("index within the pools' total length")
}

fn build(rng: &mut ChaCha8Rng, spec: &Spec, yuan: i64, weight: Decimal, core: bool) -> Indicator {
    let value = match spec.val {
        Val::Fixed(m, scale) => TargetValue::Number(Decimal::new(m, scale)),
        Val::Between(lo, hi) => TargetValue::Number(Decimal::from(rng.random_range(lo..=hi))),
        Val::PerUnit(lo, hi, scale) => {
            let cost = rng.random_range(lo..=hi);
            let mut q = (yuan * 10i64.pow(scale) / cost).max(1);
            // Plans state large counts in round figures.
            if scale == 0 && q >= 100_000 {
                q = q / 100 * 100;
            } else if scale == 0 && q >= 1_000 {
                q = q / 10 * 10;
            }
            TargetValue::Number(Decimal::new(q, scale).normalize())
        }
        Val::BudgetWan => {
            // Truncated, never rounded up: a cost ceiling above the budget is a defect checks look for.
            let wan = Decimal::new(yuan, 4).round_dp_with_strategy(2, RoundingStrategy::ToZero);
            TargetValue::Number(wan.normalize())
        }
        Val::Text(t) => TargetValue::Text(t.to_string()),
    };
    let roll = rng.random_range(0..100);
    let basis = match spec.val {
        Val::Fixed(..) if roll < 65 => Basis::Industry,
        Val::Between(..) if roll < 10 => Basis::Industry,
        Val::Between(..) | Val::Text(_) if roll >= 80 => Basis::History,
        Val::PerUnit(..) if roll >= 90 => Basis::History,
        _ => Basis::Plan,
    };
    let mut explanation = String::with_capacity(spec.name.len() + 24);
    explanation.push_str("反映");
    explanation.push_str(spec.name);
    explanation.push_str(match spec.level1 {
        Level1::Output => "的完成情况。",
        Level1::Benefit | Level1::Cost => "的实现情况。",
        Level1::Satisfaction => "，通过问卷调查获取。",
    });
    Indicator {
        level1: spec.level1,
        level2: spec.level2.to_string(),
        name: spec.name.to_string(),
        operator: spec.op,
        value,
        unit: spec.unit.to_string(),
        weight,
        basis,
        explanation,
        core,
    }
}

// ---------------------------------------------------------------------------------------------
// Reference tables: sectors, project templates and indicator pools.

/// How a target value is produced.
#[derive(Clone, Copy)]
enum Val {
    /// A stated standard: mantissa and scale (0.565 is `Fixed(565, 3)`).
    Fixed(i64, u32),
    /// A whole number drawn from `lo..=hi` (rates, durations).
    Between(i64, i64),
    /// What the money buys: the budget divided by a unit cost drawn from `lo..=hi` yuan, with
    /// `scale` decimals, so quantities grow with the project's amount.
    PerUnit(i64, i64, u32),
    /// The project's budget in 万元, as a cost ceiling.
    BudgetWan,
    /// A qualitative target.
    Text(&'static str),
}

use Val::{Between, BudgetWan, Fixed, PerUnit, Text};

#[derive(Clone, Copy)]
struct Spec {
    level1: Level1,
    level2: &'static str,
    name: &'static str,
    op: Operator,
    val: Val,
    unit: &'static str,
}

const GE: Operator = Operator::Ge;
const LE: Operator = Operator::Le;
const EQ: Operator = Operator::Eq;
const DX: Operator = Operator::Qualitative;

const fn spec(
    level1: Level1,
    level2: &'static str,
    name: &'static str,
    op: Operator,
    val: Val,
    unit: &'static str,
) -> Spec {
    Spec { level1, level2, name, op, val, unit }
}
const fn qty(name: &'static str, op: Operator, val: Val, unit: &'static str) -> Spec {
    spec(Level1::Output, "数量指标", name, op, val, unit)
}
const fn qual(name: &'static str, op: Operator, val: Val, unit: &'static str) -> Spec {
    spec(Level1::Output, "质量指标", name, op, val, unit)
}
const fn time(name: &'static str, op: Operator, val: Val, unit: &'static str) -> Spec {
    spec(Level1::Output, "时效指标", name, op, val, unit)
}
const fn cost(name: &'static str, op: Operator, val: Val, unit: &'static str) -> Spec {
    spec(Level1::Output, "成本指标", name, op, val, unit)
}
const fn eco(name: &'static str, op: Operator, val: Val, unit: &'static str) -> Spec {
    spec(Level1::Benefit, "经济效益指标", name, op, val, unit)
}
const fn soc(name: &'static str, op: Operator, val: Val, unit: &'static str) -> Spec {
    spec(Level1::Benefit, "社会效益指标", name, op, val, unit)
}
const fn env(name: &'static str, op: Operator, val: Val, unit: &'static str) -> Spec {
    spec(Level1::Benefit, "生态效益指标", name, op, val, unit)
}
const fn sus(name: &'static str, op: Operator, val: Val, unit: &'static str) -> Spec {
    spec(Level1::Benefit, "可持续影响指标", name, op, val, unit)
}
/// A qualitative benefit: no unit, a text target.
const fn soc_dx(name: &'static str, text: &'static str) -> Spec {
    soc(name, DX, Text(text), "")
}
const fn sus_dx(name: &'static str, text: &'static str) -> Spec {
    sus(name, DX, Text(text), "")
}
const fn sat(name: &'static str, lo: i64, hi: i64) -> Spec {
    spec(Level1::Satisfaction, "服务对象满意度指标", name, GE, Between(lo, hi), "%")
}

/// The size of a project type, which sets its amount distribution.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Small,
    Medium,
    /// Capital works and equipment: large, and the only kind chosen to trigger an ex-ante
    /// assessment.
    Large,
    /// Large formula-funded transfers (低保, pensions) that recur every year and are rarely new.
    Recurring,
}

/// How a project type's name is decorated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// Optionally with the year or the level of the transfer.
    Plain,
    /// Works in a place: township (and village) in front.
    Placed,
    /// Belongs to an institution: the school or hospital's name in front.
    Unit,
}

struct Template {
    name: &'static str,
    class: Class,
    naming: Naming,
    /// The usual source; others are mixed in.
    source: FundingSource,
    /// Output indicators specific to the type; the first is the core quantity.
    outputs: &'static [Spec],
    /// Benefit indicators specific to the type.
    benefits: &'static [Spec],
}

const fn t(
    name: &'static str,
    class: Class,
    naming: Naming,
    source: FundingSource,
    outputs: &'static [Spec],
    benefits: &'static [Spec],
) -> Template {
    Template { name, class, naming, source, outputs, benefits }
}

struct SectorData {
    code: &'static str,
    templates: &'static [Template],
    quality: &'static [Spec],
    benefit: &'static [Spec],
    satisfaction: &'static [Spec],
    /// (title, organisation) pairs that go together: a 主任医师 works at a hospital.
    expert_profiles: &'static [(&'static str, &'static str)],
    /// The sector's share of the expert pool.
    expert_weight: u32,
}

use Class::{Large as L, Medium as M, Recurring as R, Small as S};
use FundingSource::{GeneralBudget as GB, GovernmentFund as GF, SocialInsuranceFund as SIF, Transfer as TR};
use Naming::{Placed as PLACED, Plain as PLAIN, Unit as UNIT};

/// Indices into `SECTOR_DATA`, in the order of `SECTORS`.
const EDU: usize = 0;
const HEALTH: usize = 1;
const AGRI: usize = 2;
const TRANSPORT: usize = 3;
const SOCIAL: usize = 4;
const ENV: usize = 5;
const CULTURE: usize = 6;
const SAFETY: usize = 7;
const GENERAL: usize = 8;

const TIMELINESS: &[Spec] = &[
    time("资金拨付及时率", GE, Between(90, 98), "%"),
    time("项目完成时限", LE, Between(10, 12), "月"),
    time("资金下达时限", LE, Between(15, 30), "日"),
];

const COST: &[Spec] = &[cost("项目总成本", LE, BudgetWan, "万元")];

/// A benefit many real forms state for any kind of project.
const LASTING: Spec = sus("项目持续发挥作用年限", GE, Between(3, 10), "年");

const ACCEPTED: Spec = qual("工程验收合格率", EQ, Fixed(100, 0), "%");
const EQUIPMENT_ACCEPTED: Spec = qual("设备验收合格率", EQ, Fixed(100, 0), "%");

/// The sectors' project types and indicator pools, laid out by hand as a table.
#[rustfmt::skip]
const SECTOR_DATA: [SectorData; 9] = [
    SectorData {
        code: "education",
        templates: &[
            t("学生资助补助经费", M, PLAIN, TR,
                &[qty("学生受资助人数", GE, PerUnit(800, 2500, 0), "人次"), qual("资助对象认定准确率", GE, Between(95, 99), "%")],
                &[soc("家庭经济困难学生资助覆盖率", GE, Between(95, 99), "%")]),
            t("义务教育学校运转经费", M, PLAIN, TR,
                &[qty("保障义务教育学生人数", GE, PerUnit(720, 1200, 0), "人"), cost("小学生均公用经费补助标准", EQ, Fixed(720, 0), "元/生·年")],
                &[soc("义务教育巩固率", GE, Between(95, 99), "%"), sus_dx("学校运转保障机制", "长效保障")]),
            t("学前教育发展资金", M, PLAIN, TR,
                &[qty("享受保教费减免幼儿人数", GE, PerUnit(1000, 2000, 0), "人")],
                &[soc("学前三年毛入园率", GE, Between(90, 96), "%")]),
            t("校舍维修改造工程", L, UNIT, GB,
                &[qty("维修改造校舍面积", GE, PerUnit(800, 1800, 0), "平方米"), ACCEPTED],
                &[soc_dx("校舍安全隐患", "有效消除")]),
            t("教师培训经费", S, PLAIN, GB,
                &[qty("参训教师人次", GE, PerUnit(300, 800, 0), "人次"), qual("培训考核合格率", GE, Between(90, 98), "%")],
                &[soc_dx("教师专业能力", "有效提升")]),
            t("智慧校园建设项目", L, UNIT, GB,
                &[qty("建设智慧教室数量", GE, PerUnit(60_000, 150_000, 0), "间"), EQUIPMENT_ACCEPTED],
                &[sus_dx("信息化教学应用", "持续深化")]),
            t("农村义务教育学生营养改善计划", M, PLAIN, TR,
                &[qty("受益学生人数", GE, PerUnit(1000, 1200, 0), "人"), cost("营养膳食补助标准", EQ, Fixed(5, 0), "元/生·天")],
                &[soc_dx("学生营养健康状况", "有效改善")]),
            t("普通高中国家助学金", M, PLAIN, TR,
                &[qty("受助学生人数", GE, PerUnit(1500, 2000, 0), "人"), cost("国家助学金资助标准", EQ, Fixed(2000, 0), "元/生·年")],
                &[eco("减轻学生家庭经济负担", DX, Text("有效减轻"), "")]),
            t("中等职业学校免学费补助", M, PLAIN, TR,
                &[qty("享受免学费学生人数", GE, PerUnit(2000, 2500, 0), "人")],
                &[soc("中职学生就业率", GE, Between(90, 96), "%")]),
            t("教学仪器设备购置项目", M, UNIT, GB,
                &[qty("购置教学仪器设备数量", GE, PerUnit(3000, 20_000, 0), "台（套）"), EQUIPMENT_ACCEPTED],
                &[soc_dx("实验教学开出率", "明显提高")]),
            t("乡村教师生活补助", M, PLAIN, TR,
                &[qty("补助乡村教师人数", GE, PerUnit(3000, 6000, 0), "人")],
                &[sus_dx("乡村教师队伍稳定性", "逐步增强")]),
            t("寄宿制学校建设项目", L, PLACED, GF,
                &[qty("新建校舍面积", GE, PerUnit(2500, 4000, 0), "平方米"), ACCEPTED, time("工程按期完工率", GE, Between(90, 98), "%")],
                &[soc("新增学位数", GE, PerUnit(20_000, 40_000, 0), "个")]),
        ],
        quality: &[
            qual("资金使用合规率", EQ, Fixed(100, 0), "%"),
            qual("项目管理规范率", GE, Between(95, 99), "%"),
            qual("政策执行准确率", GE, Between(95, 99), "%"),
        ],
        benefit: &[
            soc("学生辍学率", LE, Between(1, 2), "%"),
            soc_dx("办学条件", "明显改善"),
            sus_dx("教育均衡发展水平", "持续提高"),
            soc_dx("教育教学质量", "有效提升"),
            soc("适龄儿童入学率", GE, Between(97, 99), "%"),
            LASTING,
        ],
        satisfaction: &[sat("学生满意度", 90, 96), sat("家长满意度", 88, 95), sat("教师满意度", 88, 95)],
        expert_profiles: &[
            ("教授", "山西大学教育科学学院"),
            ("副教授", "山西师范大学教育科学学院"),
            ("副教授", "长治学院教育系"),
            ("研究员", "长治市教育科学研究所"),
            ("正高级教师", "长治市第二中学校"),
            ("高级教师", "长治市第一中学校"),
            ("高级会计师", "长治市教育局财务结算中心"),
        ],
        expert_weight: 20,
    },
    SectorData {
        code: "health",
        templates: &[
            t("基本公共卫生服务项目", R, PLAIN, TR,
                &[qty("65岁及以上老年人健康管理人数", GE, PerUnit(400, 800, 0), "人"),
                  qual("适龄儿童免疫规划疫苗接种率", GE, Between(90, 95), "%"),
                  qual("7岁以下儿童健康管理率", GE, Between(85, 90), "%"),
                  cost("人均基本公共卫生服务经费补助标准", EQ, Fixed(89, 0), "元/人")],
                &[soc_dx("城乡居民公共卫生差距", "不断缩小")]),
            t("基本药物制度补助资金", M, PLAIN, TR,
                &[qty("实施基本药物制度的基层医疗卫生机构数", GE, PerUnit(50_000, 150_000, 0), "个")],
                &[soc_dx("群众用药负担", "有效减轻")]),
            t("医疗设备购置项目", L, UNIT, GB,
                &[qty("购置医疗设备数量", GE, PerUnit(80_000, 400_000, 0), "台（套）"), EQUIPMENT_ACCEPTED],
                &[soc_dx("医疗服务能力", "明显提升")]),
            t("重大传染病防控经费", M, PLAIN, TR,
                &[qty("重点人群筛查人次", GE, PerUnit(30, 80, 0), "人次"), qual("肺结核患者规范管理率", GE, Between(90, 95), "%")],
                &[soc_dx("重大传染病疫情", "得到有效控制")]),
            t("计划生育家庭奖励扶助资金", M, PLAIN, TR,
                &[qty("奖励扶助人数", GE, PerUnit(960, 1200, 0), "人"), qual("扶助金按时足额发放率", EQ, Fixed(100, 0), "%")],
                &[soc_dx("计划生育家庭生活水平", "稳步提高")]),
            t("乡村医生补助经费", M, PLAIN, GB,
                &[qty("补助乡村医生人数", GE, PerUnit(6000, 12_000, 0), "人")],
                &[sus_dx("村级医疗服务网底", "持续稳定")]),
            t("县域医共体建设项目", L, PLAIN, GB,
                &[qty("建设远程会诊站点数", GE, PerUnit(100_000, 300_000, 0), "个")],
                &[soc("县域内就诊率", GE, Between(85, 90), "%")]),
            t("妇幼健康服务项目", M, UNIT, TR,
                &[qty("孕产妇系统管理人数", GE, PerUnit(300, 600, 0), "人"), qual("孕产妇系统管理率", GE, Between(85, 92), "%")],
                &[soc("孕产妇死亡率", LE, Between(15, 18), "/10万")]),
            t("发热门诊改造项目", L, UNIT, GF,
                &[qty("改造业务用房面积", GE, PerUnit(2000, 4000, 0), "平方米"), ACCEPTED],
                &[soc_dx("传染病救治能力", "明显提升")]),
            t("免疫规划工作经费", S, PLAIN, GB,
                &[qty("免疫规划疫苗接种剂次", GE, PerUnit(20, 40, 0), "剂次"), qual("适龄儿童免疫规划疫苗接种率", GE, Between(90, 95), "%")],
                &[soc_dx("疫苗可预防传染病发病水平", "持续下降")]),
        ],
        quality: &[
            qual("诊疗规范执行率", GE, Between(92, 98), "%"),
            qual("服务对象信息登记准确率", GE, Between(95, 99), "%"),
            qual("资金使用合规率", EQ, Fixed(100, 0), "%"),
        ],
        benefit: &[
            soc_dx("居民健康水平", "逐步提高"),
            soc("居民健康素养水平", GE, Between(25, 30), "%"),
            sus_dx("基层卫生服务体系", "持续完善"),
            eco("群众看病就医负担", DX, Text("有效减轻"), ""),
            soc("居民电子健康档案建档率", GE, Between(90, 95), "%"),
            LASTING,
        ],
        satisfaction: &[sat("患者满意度", 90, 95), sat("服务对象满意度", 90, 95), sat("居民满意度", 85, 95)],
        expert_profiles: &[
            ("主任医师", "长治医学院附属和平医院"),
            ("主任医师", "长治市人民医院"),
            ("副主任医师", "山西医科大学第一医院"),
            ("主任护师", "长治医学院附属和济医院"),
            ("研究员", "长治市疾病预防控制中心"),
            ("教授", "长治医学院公共卫生与预防医学系"),
        ],
        expert_weight: 18,
    },
    SectorData {
        code: "agriculture",
        templates: &[
            t("高标准农田建设项目", L, PLACED, TR,
                &[qty("新建高标准农田面积", GE, PerUnit(2500, 3500, 0), "亩"), cost("财政资金补助", EQ, Fixed(1600, 0), "元/亩"), ACCEPTED],
                &[eco("亩均粮食增产", GE, Between(50, 100), "公斤")]),
            t("农田水利灌溉工程", L, PLACED, GB,
                &[qty("新增改善灌溉达标面积", GE, PerUnit(1500, 3000, 0), "亩"), qty("新建灌溉管道长度", GE, PerUnit(60_000, 150_000, 2), "km")],
                &[soc("受益农户数", GE, PerUnit(2000, 5000, 0), "户")]),
            t("耕地地力保护补贴", M, PLAIN, TR,
                &[qty("补贴耕地面积", GE, PerUnit(100, 130, 0), "亩"), qual("补贴资金兑付准确率", GE, Between(97, 99), "%")],
                &[eco("种粮农民收益", DX, Text("稳步增加"), "")]),
            t("农业机械购置与应用补贴", M, PLAIN, TR,
                &[qty("补贴机具数量", GE, PerUnit(10_000, 40_000, 0), "台")],
                &[eco("主要农作物耕种收综合机械化率", GE, Between(75, 85), "%")]),
            t("衔接推进乡村振兴补助资金项目", L, PLACED, TR,
                &[qty("支持产业发展项目数", GE, PerUnit(300_000, 1_000_000, 0), "个")],
                &[eco("带动脱贫人口增收", GE, PerUnit(1000, 3000, 0), "人"), sus_dx("脱贫攻坚成果", "巩固拓展")]),
            t("村级组织运转经费", S, PLACED, GB,
                &[qty("保障村级组织数", GE, PerUnit(40_000, 80_000, 0), "个")],
                &[sus_dx("村级组织运转", "正常有序")]),
            t("动物防疫补助经费", M, PLAIN, TR,
                &[qty("强制免疫畜禽数量", GE, PerUnit(2, 5, 0), "头（只）"), qual("强制免疫病种应免密度", GE, Between(90, 95), "%")],
                &[soc_dx("重大动物疫情", "有效防控")]),
            t("农村人居环境整治项目", M, PLACED, GB,
                &[qty("改造农村卫生厕所数", GE, PerUnit(2000, 4000, 0), "户")],
                &[soc_dx("农村人居环境", "明显改善")]),
            t("基层农技推广体系建设", S, PLAIN, TR,
                &[qty("培训农民人次", GE, PerUnit(200, 600, 0), "人次"), qty("推广主推技术", GE, Between(3, 10), "项")],
                &[eco("主推技术到位率", GE, Between(90, 95), "%")]),
            t("农村饮水安全巩固提升工程", L, PLACED, GF,
                &[qty("受益人口", GE, PerUnit(300, 800, 0), "人"), ACCEPTED],
                &[soc("农村自来水普及率", GE, Between(90, 95), "%")]),
            t("有机旱作农业示范片建设", M, PLACED, TR,
                &[qty("建设示范面积", GE, PerUnit(500, 1200, 0), "亩")],
                &[env("化肥使用量增长率", LE, Fixed(0, 0), "%")]),
        ],
        quality: &[
            qual("项目建设标准达标率", GE, Between(95, 99), "%"),
            qual("资金使用合规率", EQ, Fixed(100, 0), "%"),
            qual("农作物良种覆盖率", GE, Between(95, 98), "%"),
        ],
        benefit: &[
            eco("农村居民人均可支配收入增长", GE, Between(5, 8), "%"),
            sus_dx("农业综合生产能力", "持续提升"),
            soc_dx("乡村振兴基础", "不断夯实"),
            env("农田生态环境", DX, Text("逐步改善"), ""),
            soc("带动农户数", GE, PerUnit(3000, 8000, 0), "户"),
            LASTING,
        ],
        satisfaction: &[sat("受益农户满意度", 90, 95), sat("受益群众满意度", 88, 95)],
        expert_profiles: &[
            ("教授", "山西农业大学农学院"),
            ("研究员", "山西农业大学经济作物研究所"),
            ("农业技术推广研究员", "长治市农业技术推广站"),
            ("高级畜牧师", "长治市畜牧兽医服务中心"),
            ("正高级工程师", "山西省水利水电勘测设计研究院有限公司"),
            ("高级工程师", "长治市水利勘测设计院"),
        ],
        expert_weight: 15,
    },
    SectorData {
        code: "transport",
        templates: &[
            t("农村公路养护项目", M, PLACED, TR,
                &[qty("农村公路养护里程", GE, PerUnit(3000, 10_000, 1), "km"), qual("优良中等路率", GE, Between(75, 85), "%")],
                &[soc_dx("群众出行条件", "明显改善")]),
            t("农村公路道路硬化工程", L, PLACED, GF,
                &[qty("道路硬化", GE, PerUnit(600_000, 1_200_000, 3), "km"), ACCEPTED],
                &[soc("受益人口", GE, PerUnit(1000, 3000, 0), "人")]),
            t("危桥改造工程", L, PLACED, TR,
                &[qty("改造危桥数量", GE, PerUnit(800_000, 3_000_000, 0), "座"), ACCEPTED],
                &[soc_dx("桥梁通行安全", "有效保障")]),
            t("城乡公交运营补贴", M, PLAIN, GB,
                &[qty("城乡公交线路数", GE, PerUnit(200_000, 500_000, 0), "条"), qty("运营车辆数", GE, PerUnit(30_000, 80_000, 0), "辆")],
                &[soc("建制村通客车率", EQ, Fixed(100, 0), "%")]),
            t("公路安全生命防护工程", L, PLACED, TR,
                &[qty("安装防护设施长度", GE, PerUnit(300_000, 600_000, 2), "km")],
                &[soc_dx("道路交通事故发生率", "明显下降")]),
            t("城市道路改造工程", L, PLAIN, GF,
                &[qty("改造道路长度", GE, PerUnit(3_000_000, 8_000_000, 2), "km"), ACCEPTED],
                &[soc_dx("城市通行能力", "有效提升")]),
            t("交通运输综合执法经费", S, PLAIN, GB,
                &[qty("开展执法检查次数", GE, PerUnit(500, 2000, 0), "次")],
                &[soc("货车超限超载率", LE, Between(1, 3), "%")]),
            t("成品油价格调整对农村客运补助资金", M, PLAIN, TR,
                &[qty("补助农村客运车辆", GE, PerUnit(10_000, 30_000, 0), "辆")],
                &[sus_dx("农村客运服务", "稳定运行")]),
        ],
        quality: &[
            qual("路面平整度达标率", GE, Between(90, 96), "%"),
            qual("养护质量检查合格率", GE, Between(90, 96), "%"),
            qual("资金使用合规率", EQ, Fixed(100, 0), "%"),
        ],
        benefit: &[
            soc_dx("群众出行时间", "有效缩短"),
            eco("物流运输成本", DX, Text("有效降低"), ""),
            sus("设计使用年限", GE, Between(10, 15), "年"),
            soc_dx("沿线群众生产生活条件", "明显改善"),
            soc("受益行政村数", GE, PerUnit(200_000, 600_000, 0), "个"),
            LASTING,
        ],
        satisfaction: &[sat("受益人口满意度", 90, 96), sat("沿线群众满意度", 88, 95)],
        expert_profiles: &[
            ("正高级工程师", "山西省交通规划勘察设计院有限公司"),
            ("高级工程师", "长治市公路勘察设计院"),
            ("教授", "太原理工大学土木工程学院"),
            ("高级工程师", "山西省交通科技研发有限公司"),
        ],
        expert_weight: 12,
    },
    SectorData {
        code: "social_security",
        templates: &[
            t("城乡居民最低生活保障资金", R, PLAIN, TR,
                &[qty("农村低保发放人数", GE, PerUnit(3000, 5000, 0), "人"), cost("农村低保保障标准", GE, Between(5800, 6200), "元/人·年")],
                &[soc_dx("困难群众基本生活", "有效保障")]),
            t("临时救助资金", M, PLAIN, TR,
                &[qty("临时救助户次", GE, PerUnit(1500, 3000, 0), "户次"), cost("临时救助标准", LE, Fixed(5300, 0), "元/户·年")],
                &[soc_dx("群众突发性困难", "及时解决")]),
            t("特困人员救助供养资金", M, PLAIN, TR,
                &[qty("特困供养人数", GE, PerUnit(8000, 15_000, 0), "人")],
                &[soc_dx("特困人员基本生活", "有效保障")]),
            t("城乡居民基本养老保险补助", R, PLAIN, SIF,
                &[qty("享受待遇人数", GE, PerUnit(1500, 2500, 0), "人"), qual("养老金按时足额发放率", EQ, Fixed(100, 0), "%")],
                &[soc_dx("老年人基本生活", "有效保障")]),
            t("就业补助资金", M, PLAIN, TR,
                &[qty("职业技能培训人数", GE, PerUnit(1500, 3000, 0), "人次"), qty("公益性岗位安置人数", GE, PerUnit(15_000, 25_000, 0), "人")],
                &[soc("城镇登记失业率", LE, Between(3, 5), "%")]),
            t("困难残疾人生活补贴和重度残疾人护理补贴", M, PLAIN, TR,
                &[qty("享受两项补贴人数", GE, PerUnit(900, 1500, 0), "人")],
                &[soc_dx("残疾人生活质量", "逐步改善")]),
            t("优抚对象抚恤补助资金", M, PLAIN, TR,
                &[qty("优抚对象人数", GE, PerUnit(5000, 15_000, 0), "人")],
                &[soc_dx("拥军优属氛围", "更加浓厚")]),
            t("城乡医疗救助资金", M, PLAIN, SIF,
                &[qty("医疗救助人次", GE, PerUnit(1000, 3000, 0), "人次")],
                &[eco("救助对象个人医疗负担", DX, Text("有效减轻"), "")]),
            t("机关事业单位基本养老保险缴费", R, PLAIN, SIF,
                &[qty("参保人数", GE, PerUnit(20_000, 40_000, 0), "人")],
                &[sus_dx("养老保险制度", "平稳运行")]),
            t("孤儿基本生活保障资金", S, PLAIN, TR,
                &[qty("保障孤儿人数", GE, PerUnit(12_000, 20_000, 0), "人")],
                &[soc_dx("孤儿基本生活", "有效保障")]),
            t("社区日间照料中心建设项目", L, PLACED, GF,
                &[qty("建设日间照料中心数", GE, PerUnit(300_000, 800_000, 0), "个"), ACCEPTED],
                &[soc("服务老年人数", GE, PerUnit(2000, 6000, 0), "人")]),
        ],
        quality: &[
            qual("救助对象认定准确率", GE, Between(95, 99), "%"),
            qual("资金发放准确率", GE, Between(98, 99), "%"),
            qual("档案规范管理率", GE, Between(95, 99), "%"),
        ],
        benefit: &[
            soc("社会救助政策知晓率", GE, Between(85, 92), "%"),
            sus_dx("社会保障体系", "持续健全"),
            eco("困难家庭经济负担", DX, Text("有效减轻"), ""),
            soc_dx("社会和谐稳定", "有效促进"),
            soc("困难群众应保尽保率", GE, Between(95, 99), "%"),
            LASTING,
        ],
        satisfaction: &[sat("救助对象满意度", 90, 95), sat("服务对象满意度", 90, 95), sat("参保群众满意度", 88, 95)],
        expert_profiles: &[
            ("教授", "山西财经大学公共管理学院"),
            ("副教授", "山西大学哲学社会学学院"),
            ("副教授", "长治学院法学系"),
            ("高级经济师", "长治市社会保险中心"),
            ("高级社会工作师", "长治市社会福利院"),
        ],
        expert_weight: 10,
    },
    SectorData {
        code: "environment",
        templates: &[
            t("大气污染防治资金项目", L, PLAIN, TR,
                &[qty("清洁取暖改造户数", GE, PerUnit(8000, 15_000, 0), "户")],
                &[env("PM2.5平均浓度", LE, Between(38, 45), "微克/立方米"), env("空气质量优良天数比例", GE, Between(70, 78), "%")]),
            t("农村生活污水治理项目", L, PLACED, TR,
                &[qty("治理村庄数", GE, PerUnit(500_000, 1_500_000, 0), "个"), ACCEPTED],
                &[env("农村生活污水治理率", GE, Between(30, 45), "%")]),
            t("造林绿化工程", M, PLACED, TR,
                &[qty("完成造林面积", GE, PerUnit(800, 2000, 0), "亩"), qual("造林成活率", GE, Between(85, 90), "%")],
                &[env("森林覆盖率", GE, Between(30, 35), "%")]),
            t("森林防火和生态护林员补助", S, PLAIN, TR,
                &[qty("聘用生态护林员人数", GE, PerUnit(10_000, 12_000, 0), "人")],
                &[env("森林火灾受害率", LE, Fixed(9, 1), "‰")]),
            t("生态环境监测能力建设", M, PLAIN, GB,
                &[qty("监测点位数", GE, PerUnit(50_000, 200_000, 0), "个"), qual("监测数据有效率", GE, Between(90, 95), "%")],
                &[sus_dx("环境监管能力", "持续增强")]),
            t("城乡生活垃圾清运处置", M, PLAIN, GB,
                &[qty("生活垃圾清运量", GE, PerUnit(80, 150, 0), "吨"), qual("生活垃圾无害化处理率", GE, Between(95, 99), "%")],
                &[soc_dx("城乡环境卫生", "明显改善")]),
            t("矿山生态修复治理项目", L, PLACED, GF,
                &[qty("修复治理面积", GE, PerUnit(8000, 20_000, 0), "亩"), ACCEPTED],
                &[env("修复区植被覆盖度", GE, Between(60, 75), "%")]),
            t("城市园林绿化养护经费", M, PLAIN, GB,
                &[qty("养护绿地面积", GE, PerUnit(5, 15, 0), "平方米"), qual("养护质量达标率", GE, Between(90, 95), "%")],
                &[env("建成区绿化覆盖率", GE, Between(38, 42), "%")]),
        ],
        quality: &[
            qual("项目建设标准达标率", GE, Between(95, 99), "%"),
            qual("监测数据准确率", GE, Between(95, 99), "%"),
            qual("资金使用合规率", EQ, Fixed(100, 0), "%"),
        ],
        benefit: &[
            env("生态环境质量", DX, Text("持续改善"), ""),
            sus_dx("生态治理成效", "长期有效"),
            soc_dx("群众环保意识", "明显增强"),
            soc("环境信访投诉办结率", GE, Between(95, 99), "%"),
            env("主要污染物排放总量削减率", GE, Between(1, 3), "%"),
            LASTING,
        ],
        satisfaction: &[sat("周边群众满意度", 85, 95), sat("服务对象满意度", 88, 95)],
        expert_profiles: &[
            ("正高级工程师", "山西省生态环境规划院"),
            ("高级工程师", "长治市生态环境监测中心"),
            ("教授", "太原理工大学环境科学与工程学院"),
            ("副教授", "山西农业大学林学院"),
            ("高级工程师", "山西省林业调查规划院"),
        ],
        expert_weight: 8,
    },
    SectorData {
        code: "culture",
        templates: &[
            t("公共文化设施免费开放补助资金", M, PLAIN, TR,
                &[qty("免费开放场馆数", GE, PerUnit(150_000, 300_000, 0), "个"), qty("接待群众人次", GE, PerUnit(2, 5, 0), "人次")],
                &[soc_dx("群众文化生活", "日益丰富")]),
            t("文化惠民送戏下乡演出", S, PLACED, GB,
                &[qty("惠民演出场次", GE, PerUnit(3000, 8000, 0), "场")],
                &[soc("观看演出群众人次", GE, PerUnit(10, 30, 0), "人次")]),
            t("文物保护修缮工程", L, PLACED, TR,
                &[qty("修缮文物保护单位数", GE, PerUnit(500_000, 2_000_000, 0), "处"), ACCEPTED],
                &[sus_dx("文物安全", "长效保障")]),
            t("全民健身设施建设", M, PLACED, GF,
                &[qty("新建健身路径", GE, PerUnit(50_000, 150_000, 0), "套")],
                &[soc("经常参加体育锻炼人口比例", GE, Between(35, 40), "%")]),
            t("文化旅游宣传推介经费", S, PLAIN, GB,
                &[qty("开展宣传推介活动", GE, PerUnit(50_000, 200_000, 0), "次")],
                &[eco("旅游综合收入增长率", GE, Between(5, 12), "%")]),
            t("融媒体中心运行维护经费", M, PLAIN, GB,
                &[qty("播发新闻稿件数", GE, PerUnit(100, 400, 0), "条"), qual("节目内容审核合格率", EQ, Fixed(100, 0), "%")],
                &[soc_dx("主流舆论传播力", "有效提升")]),
            t("图书馆购书经费", S, PLAIN, GB,
                &[qty("新增馆藏图书", GE, PerUnit(30, 60, 0), "册")],
                &[soc("年接待读者人次", GE, PerUnit(5, 20, 0), "人次")]),
            t("农村公益电影放映补助", S, PLACED, TR,
                &[qty("农村电影放映场次", GE, PerUnit(200, 400, 0), "场"), cost("每场放映补助标准", EQ, Fixed(200, 0), "元/场")],
                &[soc_dx("农民群众观影需求", "基本满足")]),
        ],
        quality: &[
            qual("场馆开放时间达标率", GE, Between(95, 99), "%"),
            qual("活动开展达标率", GE, Between(90, 98), "%"),
            qual("资金使用合规率", EQ, Fixed(100, 0), "%"),
        ],
        benefit: &[
            soc_dx("群众文化获得感", "明显增强"),
            eco("带动文旅消费", DX, Text("有效拉动"), ""),
            sus_dx("公共文化服务水平", "持续提升"),
            soc("年服务群众人次", GE, PerUnit(5, 20, 0), "人次"),
            eco("文旅产业增加值增长率", GE, Between(5, 10), "%"),
            LASTING,
        ],
        satisfaction: &[sat("群众满意度", 90, 95), sat("观众满意度", 88, 95)],
        expert_profiles: &[
            ("研究馆员", "长治市博物馆"),
            ("副研究馆员", "长治市图书馆"),
            ("研究员", "山西省考古研究院"),
            ("教授", "长治学院中文系"),
            ("高级编辑", "长治日报社"),
            ("国家一级演员", "长治市上党梆子剧院"),
        ],
        expert_weight: 5,
    },
    SectorData {
        code: "public_safety",
        templates: &[
            t("办案业务经费", M, PLAIN, GB,
                &[qty("办理案件数", GE, PerUnit(3000, 10_000, 0), "件"), qual("案件办结率", GE, Between(90, 95), "%")],
                &[soc("群众安全感", GE, Between(95, 98), "%")]),
            t("雪亮工程视频监控建设项目", L, PLACED, GB,
                &[qty("新建视频监控点位", GE, PerUnit(8000, 20_000, 0), "个"), qual("设备在线率", GE, Between(95, 98), "%")],
                &[soc_dx("刑事案件发案率", "明显下降")]),
            t("消防救援装备购置项目", L, PLAIN, GB,
                &[qty("购置消防车辆装备", GE, PerUnit(300_000, 1_500_000, 0), "台（套）"), EQUIPMENT_ACCEPTED],
                &[soc_dx("火灾事故", "有效防控")]),
            t("法律援助经费", S, PLAIN, TR,
                &[qty("办理法律援助案件", GE, PerUnit(1500, 3000, 0), "件")],
                &[soc_dx("困难群众合法权益", "有效维护")]),
            t("安全生产监管经费", S, PLAIN, GB,
                &[qty("开展安全生产检查", GE, PerUnit(1000, 5000, 0), "次"), qty("排查整改隐患", GE, PerUnit(500, 2000, 0), "处")],
                &[soc("较大及以上生产安全事故", EQ, Fixed(0, 0), "起")]),
            t("应急物资储备项目", M, PLAIN, GB,
                &[qty("储备物资品种", GE, Between(20, 50), "种"), qty("储备物资数量", GE, PerUnit(200, 800, 0), "件（套）")],
                &[sus_dx("应急保障能力", "持续增强")]),
            t("社区矫正工作经费", S, PLAIN, GB,
                &[qty("在册社区矫正对象管理人数", GE, PerUnit(3000, 8000, 0), "人")],
                &[soc("社区矫正对象再犯罪率", LE, Fixed(2, 1), "%")]),
            t("人民调解工作经费", S, PLACED, GB,
                &[qty("调解矛盾纠纷件数", GE, PerUnit(500, 1500, 0), "件"), qual("调解成功率", GE, Between(95, 98), "%")],
                &[soc_dx("基层矛盾纠纷", "就地化解")]),
        ],
        quality: &[
            qual("案件质量合格率", GE, Between(95, 99), "%"),
            qual("系统运行稳定率", GE, Between(95, 99), "%"),
            qual("资金使用合规率", EQ, Fixed(100, 0), "%"),
        ],
        benefit: &[
            soc_dx("社会治安环境", "持续向好"),
            sus_dx("平安建设长效机制", "逐步健全"),
            soc("群众安全感测评", GE, Between(95, 98), "分"),
            soc("矛盾纠纷化解率", GE, Between(95, 98), "%"),
            LASTING,
        ],
        satisfaction: &[sat("群众满意度", 90, 95), sat("服务对象满意度", 88, 95)],
        expert_profiles: &[
            ("教授", "山西警察学院"),
            ("副教授", "山西政法管理干部学院"),
            ("一级律师", "山西正衡律师事务所"),
            ("高级工程师", "长治市应急管理局安全技术中心"),
            ("高级工程师", "中国电信股份有限公司长治分公司"),
        ],
        expert_weight: 4,
    },
    SectorData {
        code: "general",
        templates: &[
            t("政务信息化平台运维项目", M, PLAIN, GB,
                &[qty("运维信息系统数量", GE, PerUnit(100_000, 300_000, 0), "个"), qual("系统正常运行率", GE, Between(98, 99), "%")],
                &[soc_dx("政务服务效率", "明显提高")]),
            t("预算绩效管理第三方服务经费", S, PLAIN, GB,
                &[qty("开展重点绩效评价项目数", GE, PerUnit(20_000, 60_000, 0), "个"), qual("评价报告质量达标率", GE, Between(90, 98), "%")],
                &[soc_dx("财政资金使用效益", "有效提升")]),
            t("审计业务经费", S, PLAIN, GB,
                &[qty("完成审计项目数", GE, PerUnit(10_000, 50_000, 0), "个")],
                &[eco("促进增收节支", DX, Text("成效明显"), "")]),
            t("统计调查经费", S, PLAIN, TR,
                &[qty("完成统计调查项目", GE, PerUnit(10_000, 40_000, 0), "项"), qual("数据上报及时率", GE, Between(95, 99), "%")],
                &[soc_dx("统计数据质量", "稳步提高")]),
            t("政务服务中心运行经费", M, PLAIN, GB,
                &[qty("办理政务服务事项", GE, PerUnit(5, 20, 0), "件"), qual("一次办结率", GE, Between(90, 95), "%")],
                &[soc_dx("企业群众办事时间", "有效压缩")]),
            t("档案数字化加工项目", M, PLAIN, GB,
                &[qty("完成档案数字化页数", GE, PerUnit(1, 3, 0), "页")],
                &[sus_dx("档案安全保管", "长期有效")]),
            t("食品安全抽检监测经费", M, PLAIN, TR,
                &[qty("食品安全抽检批次", GE, PerUnit(1000, 3000, 0), "批次"), qual("不合格食品核查处置率", EQ, Fixed(100, 0), "%")],
                &[soc_dx("食品安全形势", "总体稳定")]),
            t("数字政府一体化平台建设项目", L, PLAIN, GB,
                &[qty("建设上线应用系统", GE, PerUnit(500_000, 2_000_000, 0), "个"), qual("系统验收合格率", EQ, Fixed(100, 0), "%")],
                &[soc("政务服务事项网上可办率", GE, Between(90, 98), "%")]),
            t("办公用房维修改造项目", M, UNIT, GB,
                &[qty("维修改造面积", GE, PerUnit(300, 800, 0), "平方米"), ACCEPTED],
                &[sus_dx("办公条件", "明显改善")]),
            t("人大代表履职服务经费", S, PLAIN, GB,
                &[qty("组织视察调研活动", GE, PerUnit(10_000, 30_000, 0), "次")],
                &[soc_dx("代表履职能力", "有效提升")]),
        ],
        quality: &[
            qual("工作任务完成率", GE, Between(95, 99), "%"),
            qual("资料归档率", GE, Between(95, 99), "%"),
            qual("数据准确率", GE, Between(98, 99), "%"),
        ],
        benefit: &[
            soc_dx("工作效率", "有效提升"),
            sus_dx("管理长效机制", "逐步健全"),
            eco("行政运行成本", DX, Text("有效节约"), ""),
            soc("办事群众好评率", GE, Between(95, 99), "%"),
            soc("政务公开事项按时公开率", GE, Between(95, 99), "%"),
            LASTING,
        ],
        satisfaction: &[sat("服务对象满意度", 90, 95), sat("办事群众满意度", 90, 98)],
        expert_profiles: &[
            ("高级会计师", "山西晋信会计师事务所有限公司"),
            ("注册会计师", "长治华诚会计师事务所有限公司"),
            ("正高级会计师", "长治市财政局预算评审中心"),
            ("高级审计师", "长治市审计服务中心"),
            ("资产评估师", "山西中正资产评估有限公司"),
            ("教授", "山西财经大学会计学院"),
            ("副教授", "山西财经大学财政与公共经济学院"),
        ],
        expert_weight: 15,
    },
];

/// The seed county's townships, for works placed outside a township's own budget.
const TOWNS: &[&str] =
    &["古韩镇", "王桥镇", "侯堡镇", "夏店镇", "虒亭镇", "西营镇", "王村镇", "下良镇", "善福乡", "北底乡", "上马乡"];

/// Invented village names; only their variety matters.
const VILLAGES: &[&str] = &[
    "东关村",
    "西关村",
    "南坡村",
    "北岭村",
    "河口村",
    "新庄村",
    "马堡村",
    "寨沟村",
    "郭庄村",
    "李家庄村",
    "桃园村",
    "柳树村",
    "杨家岭村",
    "槐树坪村",
    "石门村",
    "下坡村",
    "上庄村",
    "后湾村",
    "前进村",
    "南姚村",
];

/// Common surnames in Shanxi; the first four appear twice because they are twice as common.
const SURNAMES: &[&str] = &[
    "王", "王", "李", "李", "张", "张", "刘", "刘", "郭", "赵", "杨", "武", "贾", "韩", "郝", "段", "申", "程", "陈",
    "牛", "秦", "冯", "侯", "宋", "吴", "孙", "马", "田", "史", "高", "崔", "常", "连", "苗", "闫", "乔", "梁", "路",
    "魏", "任", "石", "郑", "白", "薛", "郜", "原", "栗", "暴",
];

const GIVEN: &[&str] = &[
    "建", "国", "华", "军", "伟", "芳", "丽", "红", "敏", "静", "强", "磊", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "英", "文", "志", "海", "燕", "玲", "慧", "晓", "宇", "鹏", "飞", "婷", "俊", "瑞",
    "鑫", "斌", "浩", "亮", "波", "辉", "玉", "兰", "凤", "云", "振", "宏", "峰", "晋", "春", "林", "利", "生", "荣",
    "彦", "雪", "琳", "佳", "欣", "锐", "晨",
];

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;
    use crate::domain::SECTORS;

    fn seed_county() -> DemoCounty {
        generate(2023, SEED_PROJECTS, 2023)
    }

    fn ex_ante_projects(c: &DemoCounty) -> usize {
        let trigger = Fen::from_yuan(EX_ANTE_YUAN);
        c.projects.iter().filter(|p| p.is_new && p.amount >= trigger).count()
    }

    #[test]
    fn departments_are_the_seed_s_74_over_all_sectors() {
        let c = seed_county();
        assert_eq!(c.departments.len(), 74);
        let codes: HashSet<&str> = c.departments.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes.len(), 74);
        assert_eq!(c.departments[0].code, "D001");
        assert_eq!(c.departments[73].code, "D074");
        let names: HashSet<&str> = c.departments.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), 74, "department names are unique");
        for (code, _) in SECTORS {
            assert!(c.departments.iter().any(|d| d.sector == *code), "no department in {code}");
        }
        for d in &c.departments {
            assert!(SECTORS.iter().any(|(s, _)| *s == d.sector), "{}", d.sector);
            assert!((2..=3).contains(&d.head.chars().count()), "{}", d.head);
        }
    }

    #[test]
    fn sector_table_follows_sectors() {
        assert_eq!(SECTOR_DATA.len(), SECTORS.len());
        for (data, (code, _)) in SECTOR_DATA.iter().zip(SECTORS) {
            assert_eq!(data.code, *code);
            assert!(data.templates.iter().any(|t| t.class == Class::Large), "{code} has no capital project");
            assert!(data.templates.iter().all(|t| !t.outputs.is_empty()), "{code}");
            // Enough for the largest groups without repeating a name: six outputs (a
            // template gives at most three), three benefits even when all must be
            // quantitative, two satisfaction indicators.
            assert!(data.quality.len() + TIMELINESS.len() + COST.len() >= 6, "{code}");
            let numeric = data.benefit.iter().filter(|s| s.op.is_quantitative()).count();
            assert!(numeric >= 3, "{code}: {numeric} quantitative benefits");
            assert!(data.satisfaction.len() >= 2, "{code}");
        }
    }

    #[test]
    fn every_reference_indicator_is_well_formed() {
        let mut all: Vec<&Spec> = TIMELINESS.iter().chain(COST).collect();
        for s in &SECTOR_DATA {
            all.extend(s.quality.iter().chain(s.benefit).chain(s.satisfaction));
            for t in s.templates {
                all.extend(t.outputs.iter().chain(t.benefits));
                assert!(t.outputs.iter().all(|o| o.level1 == Level1::Output), "{}", t.name);
                assert!(t.benefits.iter().all(|b| b.level1 == Level1::Benefit), "{}", t.name);
            }
        }
        let mut rng = stream(0, 0);
        for spec in all {
            let ind = build(&mut rng, spec, 1_000_000, Decimal::TEN, false);
            assert_eq!(ind.validate("x"), vec![], "{}", spec.name);
            let text = matches!(spec.val, Val::Text(_));
            assert_eq!(text, spec.op == Operator::Qualitative, "{}", spec.name);
            assert_eq!(text, spec.unit.is_empty(), "{}", spec.name);
        }
    }

    #[test]
    fn every_seed_project_validates_and_has_the_shape_asked_for() {
        let c = seed_county();
        assert_eq!(c.projects.len(), SEED_PROJECTS);
        let codes: HashSet<&str> = c.projects.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes.len(), SEED_PROJECTS, "project codes are unique");
        assert_eq!(c.projects[0].code, "XY2023-D001-0001");
        let departments: BTreeMap<&str, &str> =
            c.departments.iter().map(|d| (d.code.as_str(), d.sector.as_str())).collect();
        let mut total_indicators = 0;
        let mut with_qualitative = 0;
        for p in &c.projects {
            assert_eq!(p.validate(), vec![], "{}", p.code);
            assert_eq!(p.fiscal_year, 2023);
            assert_eq!(departments[p.department_code.as_str()], p.sector, "{}", p.code);
            assert!(p.code.starts_with(&format!("XY2023-{}-", p.department_code)));
            let n = p.indicators.len();
            assert!((6..=10).contains(&n), "{}: {n} indicators", p.code);
            total_indicators += n;
            for (level1, want) in [(Level1::Output, 50), (Level1::Benefit, 30), (Level1::Satisfaction, 10)] {
                let of_level: Vec<_> = p.indicators.iter().filter(|i| i.level1 == level1).collect();
                assert!(!of_level.is_empty(), "{}: no {level1}", p.code);
                let sum: Decimal = of_level.iter().map(|i| i.weight).sum();
                assert_eq!(sum, Decimal::from(want), "{}: {level1} weights", p.code);
            }
            let cores = p.indicators.iter().filter(|i| i.core).count();
            assert!((1..=2).contains(&cores), "{}: {cores} core indicators", p.code);
            let names: HashSet<&str> = p.indicators.iter().map(|i| i.name.as_str()).collect();
            assert_eq!(names.len(), n, "{}: repeated indicator name", p.code);
            for i in &p.indicators {
                match &i.value {
                    TargetValue::Number(v) => {
                        assert!(i.operator.is_quantitative() && !i.unit.is_empty(), "{}: {}", p.code, i.name);
                        if i.unit == "%" {
                            assert!(*v <= Decimal::ONE_HUNDRED, "{}: {} {v}%", p.code, i.name);
                        }
                        if i.unit == "万元" {
                            assert!(*v * Decimal::from(10_000) <= p.amount.to_yuan_decimal(), "{}", p.code);
                        }
                    }
                    TargetValue::Text(_) => assert_eq!(i.operator, Operator::Qualitative),
                }
            }
            if p.indicators.iter().any(|i| i.operator == Operator::Qualitative) {
                with_qualitative += 1;
            }
        }
        let average = Decimal::from(total_indicators) / Decimal::from(c.projects.len());
        assert!(average > Decimal::new(78, 1) && average < Decimal::new(82, 1), "average {average}");
        assert!(with_qualitative > SEED_PROJECTS / 4 && with_qualitative < SEED_PROJECTS * 3 / 4, "{with_qualitative}");
        let plan = c.projects.iter().flat_map(|p| &p.indicators).filter(|i| i.basis == Basis::Plan).count();
        assert!(plan * 2 > total_indicators, "计划标准 is the usual basis");
    }

    #[test]
    fn ex_ante_trigger_count_is_the_seed_s() {
        let c = seed_county();
        assert_eq!(ex_ante_projects(&c), 21);
        let new = c.projects.iter().filter(|p| p.is_new).count();
        assert!(new * 100 / c.projects.len() >= 17 && new * 100 / c.projects.len() <= 23, "{new} new");
        for (projects, want) in [(0, 0), (50, 0), (99, 1), (100, 1), (1_000, 6), (3_244, 21), (350_000, 2_266)] {
            assert_eq!(ex_ante_count(projects), want, "{projects}");
        }
        for seed in 0..5 {
            assert_eq!(ex_ante_projects(&generate(seed, 150, 2024)), 1);
            assert_eq!(ex_ante_projects(&generate(seed, 1_000, 2024)), 6);
        }
    }

    #[test]
    fn amounts_are_skewed_like_a_county_budget() {
        let c = seed_county();
        let yuan: Vec<i64> = c.projects.iter().map(|p| p.amount.whole_yuan()).collect();
        let typical = yuan.iter().filter(|y| (20_000..=3_000_000).contains(*y)).count();
        assert!(typical * 100 / yuan.len() >= 70, "{typical} typical amounts");
        assert!(yuan.iter().filter(|y| **y >= 10_000_000).count() >= 10, "a tail of large projects");
        assert!(yuan.iter().all(|y| *y >= 5_000));
        let sources: HashSet<String> = c.projects.iter().map(|p| format!("{:?}", p.funding_source)).collect();
        assert_eq!(sources.len(), 5, "{sources:?}");
    }

    #[test]
    fn the_five_big_sectors_have_the_most_projects() {
        let c = seed_county();
        let mut per_sector: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &c.projects {
            *per_sector.entry(p.sector.as_str()).or_default() += 1;
        }
        let big = ["education", "health", "agriculture", "transport", "social_security"];
        let smallest_big = big.iter().map(|s| per_sector[s]).min().unwrap_or(0);
        for (sector, n) in &per_sector {
            if !big.contains(sector) {
                assert!(*n < smallest_big, "{sector} {n} ≥ {smallest_big}");
            }
        }
        assert_eq!(per_sector.len(), 9);
        let per_dept: HashSet<&str> = c.projects.iter().map(|p| p.department_code.as_str()).collect();
        assert_eq!(per_dept.len(), 74, "every department has projects");
    }

    #[test]
    fn experts_cover_the_sectors_and_some_have_past_units() {
        let c = seed_county();
        assert_eq!(c.experts.len(), 200);
        let sectors: HashSet<&str> = c.experts.iter().flat_map(|e| e.sectors.iter().map(String::as_str)).collect();
        assert!(sectors.len() >= 6, "{sectors:?}");
        let emails: HashSet<&str> = c.experts.iter().map(|e| e.email.as_str()).collect();
        assert_eq!(emails.len(), 200);
        assert_eq!(c.experts[16].email, "expert017@experts.example.cn");
        for e in &c.experts {
            assert!((1..=2).contains(&e.sectors.len()));
            assert!(e.email.is_ascii());
            assert!(!e.title.is_empty() && !e.organisation.is_empty());
            for (dept, from, to) in &e.past_units {
                assert!(c.departments.iter().any(|d| &d.code == dept), "{dept}");
                assert!((2018..=2022).contains(to) && from < to, "{from}–{to}");
            }
        }
        assert_eq!(c.experts.iter().filter(|e| !e.past_units.is_empty()).count(), 20);
        assert_eq!(generate(1, 10, 2023).experts.len(), 40);
        assert_eq!(expert_count(350_000), 21_578);
    }

    #[test]
    fn same_seed_same_county_other_seed_other_county() {
        let a = generate(7, 500, 2024);
        assert_eq!(a, generate(7, 500, 2024));
        let b = generate(8, 500, 2024);
        assert_ne!(a.projects, b.projects);
        assert_ne!(a.experts, b.experts);
        assert_ne!(a.departments, b.departments, "heads differ");
        // Departments and experts do not move when only the project count does.
        let c = generate(7, 900, 2024);
        assert_eq!(a.departments, c.departments);
    }

    #[test]
    fn the_stream_is_the_county_s_projects() {
        let c = generate(11, 777, 2025);
        let stream = project_stream(11, 777, 2025);
        assert_eq!(stream.len(), 777);
        assert_eq!(stream.collect::<Vec<_>>(), c.projects);
    }

    #[test]
    fn round_trips_through_json() {
        let c = generate(3, 200, 2023);
        let json = serde_json::to_string(&c).unwrap_or_default();
        let back: DemoCounty = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
    }

    #[test]
    fn no_projects_is_a_county_without_projects() {
        let c = generate(1, 0, 2023);
        assert!(c.projects.is_empty());
        assert_eq!(c.departments.len(), 74);
    }
}
