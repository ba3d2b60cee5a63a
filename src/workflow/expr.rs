//! The condition language of workflows: CEL (the Common Expression Language), which is safe and
//! not Turing-complete. Expressions are compiled once when a definition is loaded, checked
//! against a sample of the variables they may use, and evaluated over a case's variables.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use cel::objects::Value;
use cel::{Context, Program};
use serde::Serialize;

/// The variables an expression can see, as plain JSON-like values. Integers stay integers so
/// money comparisons (`project.amount_yuan >= 5000000`) are exact.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Vars(pub BTreeMap<String, VarValue>);

/// A variable's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum VarValue {
    Bool(bool),
    Int(i64),
    /// Scores are decimals; CEL compares them as doubles, which is exact enough for two-place
    /// scores against the thresholds a workflow states (never used for money).
    Decimal(rust_decimal::Decimal),
    Text(String),
    Map(BTreeMap<String, VarValue>),
    Null,
}

impl Vars {
    pub fn set(&mut self, name: &str, v: VarValue) {
        self.0.insert(name.to_string(), v);
    }
}

fn to_cel(v: &VarValue) -> Value {
    match v {
        VarValue::Bool(b) => Value::Bool(*b),
        VarValue::Int(i) => Value::Int(*i),
        VarValue::Decimal(d) => {
            use rust_decimal::prelude::ToPrimitive;
            Value::Float(d.to_f64().unwrap_or(0.0))
        }
        VarValue::Text(s) => Value::String(Arc::new(s.clone())),
        VarValue::Map(m) => {
            let map: std::collections::HashMap<cel::objects::Key, Value> =
                m.iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), to_cel(v))).collect();
            Value::Map(cel::objects::Map { map: Arc::new(map) })
        }
        VarValue::Null => Value::Null,
    }
}

/// A compiled boolean expression with its source text.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<Program>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

/// Why an expression was refused, with the position inside the expression text (1-based) when
/// the parser gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Expr {
    /// Compiles `source` and checks it against `sample`: it may only name the variables present
    /// there, must evaluate without error on the sample, and must give a boolean.
    pub fn compile(source: &str, sample: &Vars) -> Result<Expr, ExprError> {
        if source.len() > 2000 {
            return Err(ExprError {
                line: 1,
                column: 1,
                message: "an expression may be at most 2000 characters".into(),
            });
        }
        // The parser recurses; a depth limit keeps hostile input from exhausting the stack.
        let depth = source.chars().filter(|c| matches!(c, '(' | '[' | '{')).count();
        if depth > 64 {
            return Err(ExprError { line: 1, column: 1, message: "an expression may nest at most 64 brackets".into() });
        }
        let program = std::panic::catch_unwind(|| Program::compile(source))
            .map_err(|_| ExprError { line: 1, column: 1, message: "the expression could not be parsed".into() })?
            .map_err(|errs| {
                let first = errs.errors.first();
                ExprError {
                    line: first.map(|e| e.pos.0.max(1) as usize).unwrap_or(1),
                    column: first.map(|e| e.pos.1.max(0) as usize + 1).unwrap_or(1),
                    message: first.map(|e| format!("syntax error: {}", e.msg)).unwrap_or_else(|| "syntax error".into()),
                }
            })?;
        let refs = program.references();
        let mut unknown: Vec<&str> = refs.variables().into_iter().filter(|v| !sample.0.contains_key(*v)).collect();
        unknown.sort_unstable();
        if let Some(first) = unknown.first() {
            let known: Vec<&str> = sample.0.keys().map(String::as_str).collect();
            return Err(ExprError {
                line: 1,
                column: source.find(first).map(|i| source[..i].chars().count() + 1).unwrap_or(1),
                message: format!("unknown variable '{first}' (expected one of: {})", known.join(", ")),
            });
        }
        let expr = Expr { source: source.to_string(), program: Arc::new(program) };
        match expr.eval_bool(sample) {
            Ok(_) => Ok(expr),
            Err(message) => Err(ExprError { line: 1, column: 1, message }),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a boolean; an error or a non-boolean result is reported as text.
    pub fn eval_bool(&self, vars: &Vars) -> Result<bool, String> {
        let mut ctx = Context::default();
        for (k, v) in &vars.0 {
            ctx.add_variable_from_value(k.clone(), to_cel(v));
        }
        let program = Arc::clone(&self.program);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| program.execute(&ctx)))
            .map_err(|_| format!("'{}' could not be evaluated", self.source))?;
        match result {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => {
                Err(format!("'{}' gives {:?}, expected a boolean (true or false)", self.source, other.type_of()))
            }
            Err(e) => Err(format!("'{}' cannot be evaluated: {e}", self.source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vars {
        let mut project = BTreeMap::new();
        project.insert("amount_yuan".into(), VarValue::Int(6_000_000));
        project.insert("is_new".into(), VarValue::Bool(true));
        project.insert("sector".into(), VarValue::Text("health".into()));
        let mut v = Vars::default();
        v.set("project", VarValue::Map(project));
        v.set("score", VarValue::Decimal(rust_decimal::Decimal::new(8150, 2)));
        v.set("grade", VarValue::Text("良".into()));
        v
    }

    #[test]
    fn evaluates_conditions() {
        let table = [
            ("project.amount_yuan >= 5000000 && project.is_new", true),
            ("project.amount_yuan >= 7000000", false),
            ("score >= 80", true),
            ("score >= 81.5", true),
            ("score >= 81.51", false),
            ("grade == '良' || grade == '优'", true),
            ("project.sector in ['health', 'education']", true),
        ];
        for (src, want) in table {
            let e = Expr::compile(src, &sample()).unwrap_or_else(|e| panic!("{src}: {e:?}"));
            assert_eq!(e.eval_bool(&sample()), Ok(want), "{src}");
        }
    }

    #[test]
    fn refuses_bad_expressions() {
        let table = [
            ("score >=", "syntax error"),
            ("amount > 3", "unknown variable 'amount'"),
            ("project.amount_yuan", "expected a boolean"),
            ("project.no_such_field > 1", "cannot be evaluated"),
            ("score + 'a' > 1", "cannot be evaluated"),
        ];
        for (src, want) in table {
            let err = Expr::compile(src, &sample()).expect_err(src);
            assert!(err.message.contains(want), "{src}: {}", err.message);
        }
    }
}
