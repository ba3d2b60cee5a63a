//! Bounded fuzzing of what reads untrusted input: the workflow definition parser, the expression
//! language, the spreadsheet import parser and the plugin host's data conversion (projects into
//! the sandbox, findings out). Inputs are mutations of real ones (byte flips, insertions,
//! deletions, splices, repeated chunks, tokens of the format) from a seeded generator, so a
//! failure is reproduced with the same seed. Each target must answer every input with a value
//! or a clear error: no panic, and no input may take more than a generous bound (a hang guard,
//! not a speed test).
//!
//! `JIXIAO_FUZZ_SECONDS` (default 3) is each target's time budget; `JIXIAO_FUZZ_SEED` picks the
//! seed (printed with any failure).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use jixiao::workflow::{VarValue, Vars};

fn budget() -> Duration {
    let s = std::env::var("JIXIAO_FUZZ_SECONDS").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(3.0);
    Duration::from_secs_f64(s.clamp(0.1, 3600.0))
}

fn seed() -> u64 {
    std::env::var("JIXIAO_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20_231_127)
}

/// No single input may take longer than this (a hang, not slowness).
const HANG: Duration = Duration::from_secs(20);

/// One mutation of `input`, using `tokens` of the format as material.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8], corpus: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        match rng.random_range(0..7) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=(len - i).min(64));
                out.drain(i..i + n);
            }
            2 => {
                let t = tokens[rng.random_range(0..tokens.len())].as_bytes();
                let i = rng.random_range(0..=len);
                out.splice(i..i, t.iter().copied());
            }
            3 if len > 0 => {
                // Repeat a chunk many times (deep nesting, long lines).
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=(len - i).min(32));
                let chunk = out[i..i + n].to_vec();
                for _ in 0..rng.random_range(2..200) {
                    out.splice(i..i, chunk.iter().copied());
                }
            }
            4 => {
                // Splice in part of another input.
                let other = &corpus[rng.random_range(0..corpus.len())];
                if !other.is_empty() {
                    let a = rng.random_range(0..other.len());
                    let b = rng.random_range(a..=other.len());
                    let i = rng.random_range(0..=len);
                    out.splice(i..i, other[a..b].iter().copied());
                }
            }
            5 if len > 0 => {
                let i = rng.random_range(0..len);
                out.truncate(i);
            }
            _ => {
                let i = rng.random_range(0..=len);
                let b: u8 = rng.random();
                out.insert(i, b);
            }
        }
    }
    out
}

/// Runs `target` on mutations of `corpus` for the time budget; fails on a panic or a hang with
/// the seed, the iteration and the input.
fn fuzz(name: &str, corpus: Vec<Vec<u8>>, tokens: &[&str], target: impl Fn(&[u8])) -> u64 {
    let seed = seed();
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    let started = Instant::now();
    let mut runs = 0u64;
    let mut pool = corpus.clone();
    while started.elapsed() < budget() || runs < corpus.len() as u64 {
        let input = if (runs as usize) < corpus.len() {
            corpus[runs as usize].clone()
        } else {
            let base = &pool[rng.random_range(0..pool.len())];
            mutate(&mut rng, base, &corpus, tokens)
        };
        let one = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let took = one.elapsed();
        let shown = String::from_utf8_lossy(&input[..input.len().min(2000)]).into_owned();
        assert!(outcome.is_ok(), "{name}: panicked on input {runs} (JIXIAO_FUZZ_SEED={seed}):\n{shown}");
        assert!(took < HANG, "{name}: input {runs} took {took:?} (JIXIAO_FUZZ_SEED={seed}):\n{shown}");
        // Keep some mutants as material, so mutations compound.
        if runs.is_multiple_of(7) && pool.len() < 256 && input.len() < 1 << 20 {
            pool.push(input);
        }
        runs += 1;
    }
    eprintln!("fuzz {name}: {runs} inputs in {:?}, seed {seed}", started.elapsed());
    runs
}

fn shipped_workflow() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows/county-annual-cycle.yaml")).unwrap()
}

#[test]
fn the_workflow_parser_answers_every_input_with_a_workflow_or_located_errors() {
    let corpus =
        vec![shipped_workflow(), crate::helpers::ONE_STAGE.as_bytes().to_vec(), b"id: x\n".to_vec(), Vec::new()];
    let tokens = [
        "\n  - id: ",
        "stages:",
        "kind: ",
        "panel: { expert: ",
        "within: ",
        " workdays",
        "cron: \"",
        "{",
        "}",
        "[",
        "]",
        ": ",
        "- ",
        "&a",
        "*a",
        "!!binary",
        "'",
        "\"",
        "\t",
        "#",
        "\u{feff}",
        "999999999999999999999",
        "-1",
        "when: \"",
        "score >= ",
        "decide:",
        "~",
        "null",
        "<<: *a",
    ];
    let runs = fuzz("workflow", corpus, &tokens, |input| {
        let text = String::from_utf8_lossy(input);
        if let Err(diags) = jixiao::workflow::parse("fuzz.yaml", &text) {
            assert!(!diags.is_empty(), "an error without a diagnostic");
            for d in &diags {
                assert!(!d.message.trim().is_empty(), "a diagnostic without a message: {d:?}");
            }
        }
    });
    assert!(runs > 10);
}

fn vars() -> Vars {
    let mut project = std::collections::BTreeMap::new();
    project.insert("amount_yuan".into(), VarValue::Int(6_000_000));
    project.insert("is_new".into(), VarValue::Bool(true));
    project.insert("sector".into(), VarValue::Text("health".into()));
    let mut v = Vars::default();
    v.set("project", VarValue::Map(project));
    v.set("score", VarValue::Decimal(rust_decimal::Decimal::new(8150, 2)));
    v.set("grade", VarValue::Text("良".into()));
    v.set("flagged", VarValue::Bool(false));
    v
}

#[test]
fn the_expression_language_compiles_or_refuses_every_input_and_never_panics_evaluating() {
    let corpus: Vec<Vec<u8>> = [
        "score >= 80",
        "grade == '优' || grade == '良'",
        "project.amount_yuan >= 5000000 && project.is_new",
        "flagged",
        "!(score < 60) && project.sector == 'health'",
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let tokens = [
        "(",
        ")",
        "&&",
        "||",
        "!",
        "==",
        "!=",
        ">=",
        "<",
        "+",
        "-",
        "*",
        "/",
        "%",
        "score",
        "grade",
        "project.",
        "size(",
        "'",
        "\"",
        "1e308",
        "9223372036854775807",
        "-9223372036854775808",
        "0.000001",
        "[1,2]",
        "{'a': 1}",
        "in",
        "?",
        ":",
        ".x",
        "has(",
        "int(",
        "double(",
        "string(",
        "timestamp(",
        "matches(",
        "\\",
    ];
    let sample = vars();
    let runs = fuzz("expression", corpus, &tokens, |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(expr) = jixiao::workflow::Expr::compile(&text, &sample) {
            let _ = expr.eval_bool(&sample);
            let _ = expr.eval_bool(&Vars::default());
        }
    });
    assert!(runs > 10);
}

/// A real project file in both formats the import reads.
fn import_corpus() -> Vec<Vec<u8>> {
    let csv = "项目编码,项目名称,单位编码,行业,金额（元）,年度,是否新增,资金来源,一级指标,二级指标,三级指标,比较方式,指标值,度量单位,权重,指标值依据\n\
P1,基本公共卫生服务项目,D001,health,1000000,2023,否,一般公共预算,产出,数量指标,接种率,≥,90,%,20,行业标准\n\
P1,基本公共卫生服务项目,D001,health,1000000,2023,否,一般公共预算,效益,社会效益指标,居民健康水平,定性,有效提升,,30,其他\n";
    let departments = "单位编码,单位名称,行业\nD001,县卫生健康局,health\n";
    let input: jixiao::domain::ProjectInput =
        serde_json::from_value(crate::helpers::project("P1", "D001", "1000000", false)).unwrap();
    let table = jixiao::exchange::write::projects_table(&[input], &[("D001".into(), "县卫生健康局".into())]);
    let xlsx = jixiao::exchange::write::to_xlsx(&[table]).unwrap();
    vec![csv.as_bytes().to_vec(), departments.as_bytes().to_vec(), xlsx]
}

#[test]
fn the_import_parser_answers_every_file_with_records_or_located_problems() {
    let known = jixiao::exchange::import::Known { departments: vec![("D001".into(), "县卫生健康局".into())] };
    let tokens = [
        ",",
        "\n",
        "\r\n",
        "\"",
        "\"\"",
        "=SUM(A1)",
        "1e999",
        "-0",
        "NaN",
        "２０２３",
        "%",
        "，",
        "\u{feff}",
        "PK\u{3}\u{4}",
    ];
    let runs = fuzz("import", import_corpus(), &tokens, |input| {
        for name in ["fuzz.csv", "fuzz.xlsx"] {
            match jixiao::exchange::import::import_file(name, input, &known, None, &jixiao::exchange::Stop::never()) {
                Ok(parsed) => {
                    for p in &parsed.problems {
                        assert!(!p.to_string().trim().is_empty(), "a problem without words");
                    }
                }
                Err(e) => assert!(!e.to_string().trim().is_empty(), "an error without words"),
            }
        }
    });
    assert!(runs > 10);
}

#[test]
fn the_plugin_host_converts_any_project_in_and_any_findings_out_without_panicking() {
    use jixiao::plugin_host::{Indicator, Level1, Limits, Operator, PluginHost, Project};
    let host = PluginHost::new(None, Limits::default()).unwrap();
    let dist = crate::plugins::plugin_dist();
    let (loaded, failed) = host.load_dir(&dist);
    assert!(failed.is_empty() && loaded.len() >= 6, "the shipped plugins load: {failed:?}");
    let names: Vec<String> = loaded.iter().map(|p| p.info.name.clone()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed());
    let texts = [
        "",
        "90",
        "-1",
        "1e400",
        "NaN",
        "０.５",
        "100%",
        "9".repeat(400).as_str().to_owned().leak() as &str,
        "有效提升",
        "\u{0}",
        "\u{202e}reversed",
        "适龄儿童国家免疫规划疫苗接种率",
        "资金拨付及时率",
        "%",
        "人次",
        "≥",
        "数量指标",
    ];
    let pick = |rng: &mut ChaCha8Rng| -> String {
        let mut s = String::new();
        for _ in 0..rng.random_range(0..4) {
            s.push_str(texts[rng.random_range(0..texts.len())]);
        }
        if rng.random_ratio(1, 20) {
            s = s.repeat(rng.random_range(100..2000));
        }
        s
    };
    let started = Instant::now();
    let mut runs = 0u64;
    while started.elapsed() < budget() || runs < 20 {
        let n = if rng.random_ratio(1, 10) { rng.random_range(200..2000) } else { rng.random_range(0..12) };
        let indicators = (0..n)
            .map(|_| Indicator {
                level1: [Level1::Output, Level1::Benefit, Level1::Satisfaction, Level1::Cost][rng.random_range(0..4)],
                level2: pick(&mut rng),
                name: pick(&mut rng),
                operator: [Operator::Ge, Operator::Le, Operator::Eq, Operator::Qualitative][rng.random_range(0..4)],
                value: pick(&mut rng),
                unit: pick(&mut rng),
                weight: pick(&mut rng),
                basis: pick(&mut rng),
                core: rng.random(),
            })
            .collect();
        let project = Project {
            code: pick(&mut rng),
            sector: ["health", "education", "agriculture", "transport", "social_security", "", "卫生健康"]
                [rng.random_range(0..7)]
            .into(),
            amount_fen: rng.random(),
            fiscal_year: rng.random(),
            is_new: rng.random(),
            indicators,
        };
        let name = &names[rng.random_range(0..names.len())];
        let one = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| match host.check(name, None, &project) {
            Ok(findings) => {
                for f in &findings {
                    assert!(!f.code.is_empty(), "a finding without a code from {name}");
                }
            }
            Err(failure) => assert!(!failure.to_string().is_empty()),
        }));
        assert!(outcome.is_ok(), "plugin host panicked on input {runs} for {name} (JIXIAO_FUZZ_SEED={})", seed());
        assert!(one.elapsed() < HANG, "{name}: input {runs} took {:?}", one.elapsed());
        runs += 1;
    }
    eprintln!("fuzz plugins: {runs} projects in {:?}", started.elapsed());
}
