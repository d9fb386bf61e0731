//! The condition language of rules: `all`, `any`, `not`, and tests on one fact
//! (`equals`, `not_equals`, `in`, `not_in`, `exists`, `contains`, `version`, `at_least`).
//!
//! A test on an unknown fact (not probed, probe inconclusive) is false, except `exists = false`: rules
//! never fire on missing evidence, so an inconclusive probe cannot produce a false error.

use super::raw::{Origin, Placed, RawCondition};
use crate::facts::catalog::{self, FactDef, Scope, Subject};
use serde_json::Value;

/// A validated condition.
#[derive(Debug, Clone)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test { fact: &'static FactDef, op: Op },
}

/// A test on one fact's value.
#[derive(Debug, Clone)]
pub enum Op {
    Equals(Value),
    NotEquals(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Exists(bool),
    /// A list fact holds the value, or a string fact contains the substring.
    Contains(Value),
    /// A version fact satisfies a requirement such as `>=1.10.7`.
    Version(semver::VersionReq),
    /// A number is at least N, or a list has at least N items ("two libhdf5 in one closure").
    AtLeast(f64),
}

/// A validation error at a byte offset of the rule file.
#[derive(Debug)]
pub struct ConditionError {
    pub offset: usize,
    pub message: String,
}

fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Condition {
    /// Validates a raw condition: exactly one form, known facts, facts visible from `scope`.
    pub(super) fn compile<O: Origin>(raw: &O::At<RawCondition<O>>, scope: Scope) -> Result<Self, ConditionError> {
        let at = raw.offset();
        let r = raw.get_ref();
        let forms = [!r.all.is_empty(), !r.any.is_empty(), r.not.is_some(), r.fact.is_some()];
        if forms.iter().filter(|f| **f).count() != 1 {
            return Err(ConditionError {
                offset: at,
                message: "a condition needs exactly one of `all = [...]`, `any = [...]`, `not = {...}` or `fact = \"...\"`".into(),
            });
        }
        if !r.all.is_empty() {
            return Ok(Self::All(
                r.all.iter().map(|c| Self::compile::<O>(c, scope)).collect::<Result<_, _>>()?,
            ));
        }
        if !r.any.is_empty() {
            return Ok(Self::Any(
                r.any.iter().map(|c| Self::compile::<O>(c, scope)).collect::<Result<_, _>>()?,
            ));
        }
        if let Some(inner) = &r.not {
            return Ok(Self::Not(Box::new(Self::compile::<O>(inner, scope)?)));
        }
        let name = r.fact.as_ref().expect("checked above");
        let fact = resolve_fact(name.get_ref(), name.offset(), scope)?;
        let compared = r
            .equals
            .iter()
            .chain(&r.not_equals)
            .chain(r.one_of.iter().flatten())
            .chain(r.not_in.iter().flatten());
        for value in compared {
            check_domain(fact, value.get_ref(), value.offset())?;
        }
        if let Some(value) = &r.contains {
            check_contains_domain(fact, value.get_ref(), value.offset())?;
        }
        let mut ops = Vec::new();
        if let Some(v) = &r.equals {
            ops.push(Op::Equals(to_json(v.get_ref())));
        }
        if let Some(v) = &r.not_equals {
            ops.push(Op::NotEquals(to_json(v.get_ref())));
        }
        if let Some(v) = &r.one_of {
            ops.push(Op::In(v.iter().map(|v| to_json(v.get_ref())).collect()));
        }
        if let Some(v) = &r.not_in {
            ops.push(Op::NotIn(v.iter().map(|v| to_json(v.get_ref())).collect()));
        }
        if let Some(v) = r.exists {
            ops.push(Op::Exists(v));
        }
        if let Some(v) = &r.contains {
            ops.push(Op::Contains(to_json(v.get_ref())));
        }
        if let Some(v) = &r.version {
            let req = semver::VersionReq::parse(v).map_err(|e| ConditionError {
                offset: at,
                message: format!("bad version requirement {v:?}: {e}"),
            })?;
            ops.push(Op::Version(req));
        }
        if let Some(n) = r.at_least {
            ops.push(Op::AtLeast(n));
        }
        if ops.len() != 1 {
            return Err(ConditionError {
                offset: at,
                message: format!(
                    "the test on `{}` needs exactly one of equals, not_equals, in, not_in, exists, contains, version, at_least (found {})",
                    name.get_ref(),
                    ops.len()
                ),
            });
        }
        Ok(Self::Test {
            fact,
            op: ops.pop().unwrap(),
        })
    }

    /// Evaluates the condition for one subject.
    pub fn matches(&self, subject: &Subject) -> bool {
        match self {
            Self::All(cs) => cs.iter().all(|c| c.matches(subject)),
            Self::Any(cs) => cs.iter().any(|c| c.matches(subject)),
            Self::Not(c) => !c.matches(subject),
            Self::Test { fact, op } => op.holds((fact.read)(subject.facts, subject.item).as_ref()),
        }
    }

    /// The facts this condition looks at, in order, without repeats.
    pub fn facts(&self, out: &mut Vec<&'static FactDef>) {
        match self {
            Self::All(cs) | Self::Any(cs) => cs.iter().for_each(|c| c.facts(out)),
            Self::Not(c) => c.facts(out),
            Self::Test { fact, .. } => {
                if !out.iter().any(|f| f.name == fact.name) {
                    out.push(fact)
                }
            }
        }
    }
}

/// Checks a value a rule compares a fact with against the fact's closed set of values, if it has one:
/// `equals = "faild"` on `dir.hdf5_create` would never match.
fn check_domain(fact: &FactDef, value: &toml::Value, offset: usize) -> Result<(), ConditionError> {
    let Some(domain) = fact.values else {
        return Ok(());
    };
    let listed = domain.join(", ");
    match value {
        toml::Value::String(s) if domain.contains(&s.as_str()) => Ok(()),
        toml::Value::String(s) => Err(ConditionError {
            offset,
            message: match catalog::closest(s, domain.iter().copied()) {
                Some(near) => format!("`{}` is never {s:?} (did you mean {near:?}? its values are: {listed})", fact.name),
                None => format!("`{}` is never {s:?}; its values are: {listed}", fact.name),
            },
        }),
        other => Err(ConditionError {
            offset,
            message: format!("`{}` is a text fact, never {other}; its values are: {listed}", fact.name),
        }),
    }
}

/// Checks a `contains` value against the closed set of a fact that has one: a list fact (`dir.quota_exhausted_kinds`)
/// holds only values of the set, a text fact only substrings of them, so `contains = "grup"` would never match.
fn check_contains_domain(fact: &FactDef, value: &toml::Value, offset: usize) -> Result<(), ConditionError> {
    let Some(domain) = fact.values else {
        return Ok(());
    };
    match value {
        toml::Value::String(s) if !domain.iter().any(|v| v.contains(s.as_str())) => {
            let listed = domain.join(", ");
            Err(ConditionError {
                offset,
                message: match catalog::closest(s, domain.iter().copied()) {
                    Some(near) => format!(
                        "`{}` never contains {s:?} (did you mean {near:?}? its values are: {listed})",
                        fact.name
                    ),
                    None => format!("`{}` never contains {s:?}; its values are: {listed}", fact.name),
                },
            })
        }
        _ => Ok(()),
    }
}

/// Looks a fact name (at byte `offset` of its rule file) up and checks it is visible from a rule of `scope`.
pub fn resolve_fact(name: &str, offset: usize, scope: Scope) -> Result<&'static FactDef, ConditionError> {
    let fact = catalog::lookup(name).ok_or_else(|| ConditionError {
        offset,
        message: match catalog::suggest(name) {
            Some(s) => format!("unknown fact `{name}` (did you mean `{s}`? `h5doctor facts --list` shows them all)"),
            None => format!("unknown fact `{name}` (`h5doctor facts --list` shows the known facts)"),
        },
    })?;
    if fact.scope != Scope::Global && fact.scope != scope {
        return Err(ConditionError {
            offset,
            message: format!(
                "fact `{}` is per {}; the rule needs `scope = \"{}\"`",
                fact.name,
                fact.scope.per(),
                fact.scope.as_str()
            ),
        });
    }
    Ok(fact)
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn parse_version(v: &str) -> Option<semver::Version> {
    let core: String = v.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let mut parts: Vec<&str> = core.split('.').filter(|p| !p.is_empty()).collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    semver::Version::parse(&parts[..3].join(".")).ok()
}

impl Op {
    fn holds(&self, value: Option<&Value>) -> bool {
        let Some(value) = value else {
            return matches!(self, Op::Exists(false));
        };
        match self {
            Op::Exists(want) => *want,
            Op::Equals(v) => loosely_equal(value, v),
            Op::NotEquals(v) => !loosely_equal(value, v),
            Op::In(vs) => vs.iter().any(|v| loosely_equal(value, v)),
            Op::NotIn(vs) => !vs.iter().any(|v| loosely_equal(value, v)),
            Op::Contains(needle) => match (value, needle) {
                (Value::Array(items), _) => items.iter().any(|i| loosely_equal(i, needle)),
                (Value::String(s), Value::String(n)) => s.contains(n.as_str()),
                _ => false,
            },
            Op::Version(req) => value.as_str().and_then(parse_version).is_some_and(|v| req.matches(&v)),
            Op::AtLeast(n) => match value {
                Value::Array(items) => items.len() as f64 >= *n,
                Value::Number(x) => x.as_f64().is_some_and(|x| x >= *n),
                _ => false,
            },
        }
    }
}
