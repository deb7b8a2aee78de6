//! The formulas of derived fields and compound aggregations
//! (`memory*duration`, `(a + b) / 3`, `aggregation.calls - 1`): parsed once
//! into an [`Expr`], whose names the rules check and whose value rating
//! computes.
//!
//! The grammar is the arithmetic core of m3ter's calculation engine: `+ - * /`,
//! unary minus, parentheses, numbers (`2`, `0.5`, `1e3`) and names (letters,
//! digits, `_`, `$`, `.`; not starting with a digit). m3ter documents more
//! (functions such as `Math.max`, comparisons, ternaries); a formula using
//! them is refused here rather than silently rated as 0.

use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::str::FromStr;

/// A parsed formula.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A number literal, kept as written so that an exact number type reads
    /// it without a detour through `f64`.
    Number(String),
    /// A field, aggregation or custom-field name, dots included.
    Name(String),
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// Why a formula does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected {found} at character {at}{}", expected.map(|e| format!(", expected {e}")).unwrap_or_default())]
pub struct ParseError {
    /// What was found (`` `%` ``, `end`).
    pub found: String,
    /// 1-based character position.
    pub at: usize,
    /// What would have been accepted there, when one thing would.
    pub expected: Option<&'static str>,
}

/// Why a parsed formula has no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A name without a value (e.g. a data field the measurement lacks).
    #[error("formula names `{0}`, which has no value")]
    Unknown(String),
    #[error("formula divides by zero")]
    DivideByZero,
    /// A literal the number type cannot represent.
    #[error("number `{0}` cannot be read")]
    Number(String),
}

/// A parse or evaluation failure of [`eval`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("formula {formula:?}: {source}")]
    Parse {
        formula: String,
        #[source]
        source: ParseError,
    },
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// The arithmetic a value type needs for [`Expr::eval`]; `Default` is zero.
/// Both `f64` and exact decimal types qualify.
pub trait Number:
    Clone
    + PartialEq
    + Default
    + FromStr
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
}

impl<T> Number for T where
    T: Clone
        + PartialEq
        + Default
        + FromStr
        + Add<Output = T>
        + Sub<Output = T>
        + Mul<Output = T>
        + Div<Output = T>
        + Neg<Output = T>
{
}

/// Parses `formula`.
pub fn parse(formula: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        chars: formula.chars().collect(),
        pos: 0,
    };
    let e = p.sum()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(e),
        Some(c) => Err(p.unexpected(&format!("`{c}`"), None)),
    }
}

/// Parses and evaluates `formula`, looking names up with `value_of`.
pub fn eval<T: Number>(formula: &str, value_of: &dyn Fn(&str) -> Option<T>) -> Result<T, Error> {
    let expr = parse(formula).map_err(|source| Error::Parse {
        formula: formula.to_owned(),
        source,
    })?;
    Ok(expr.eval(value_of)?)
}

impl Expr {
    /// Every name the formula uses, in order of first appearance, once each.
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Number(_) => {}
            Expr::Name(n) => {
                if !out.contains(&n.as_str()) {
                    out.push(n);
                }
            }
            Expr::Neg(e) => e.collect_names(out),
            Expr::Binary(_, l, r) => {
                l.collect_names(out);
                r.collect_names(out);
            }
        }
    }

    /// The value of the formula, looking names up with `value_of`.
    pub fn eval<T: Number>(&self, value_of: &dyn Fn(&str) -> Option<T>) -> Result<T, EvalError> {
        Ok(match self {
            Expr::Number(text) => text.parse().map_err(|_| EvalError::Number(text.clone()))?,
            Expr::Name(n) => value_of(n).ok_or_else(|| EvalError::Unknown(n.clone()))?,
            Expr::Neg(e) => -e.eval(value_of)?,
            Expr::Binary(op, l, r) => {
                let (l, r) = (l.eval(value_of)?, r.eval(value_of)?);
                match op {
                    Op::Add => l + r,
                    Op::Sub => l - r,
                    Op::Mul => l * r,
                    // Checked before dividing: exact decimal types panic
                    // on a zero divisor where f64 would give infinity.
                    Op::Div if r == T::default() => return Err(EvalError::DivideByZero),
                    Op::Div => l / r,
                }
            }
        })
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) | Expr::Name(n) => f.write_str(n),
            Expr::Neg(e) => write!(f, "-({e})"),
            Expr::Binary(op, l, r) => {
                let sym = match op {
                    Op::Add => '+',
                    Op::Sub => '-',
                    Op::Mul => '*',
                    Op::Div => '/',
                };
                write!(f, "({l} {sym} {r})")
            }
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

/// A name starts with a letter, `_` or `$` (shared with `crate::condition`).
pub(crate) fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

/// A name goes on with letters, digits, `_`, `$` and `.`.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '.')
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, found: &str, expected: Option<&'static str>) -> ParseError {
        ParseError {
            found: found.to_owned(),
            at: self.pos + 1,
            expected,
        }
    }

    /// sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.product()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some('+') => Op::Add,
                Some('-') => Op::Sub,
                _ => return Ok(e),
            };
            self.pos += 1;
            e = Expr::Binary(op, Box::new(e), Box::new(self.product()?));
        }
    }

    /// product := unary (('*' | '/') unary)*
    fn product(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.unary()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some('*') => Op::Mul,
                Some('/') => Op::Div,
                _ => return Ok(e),
            };
            self.pos += 1;
            e = Expr::Binary(op, Box::new(e), Box::new(self.unary()?));
        }
    }

    /// unary := '-' unary | atom
    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        if self.peek() == Some('-') {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    /// atom := number | name | '(' sum ')'
    fn atom(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let e = self.sum()?;
                self.skip_ws();
                match self.peek() {
                    Some(')') => {
                        self.pos += 1;
                        Ok(e)
                    }
                    Some(c) => Err(self.unexpected(&format!("`{c}`"), Some("`)`"))),
                    None => Err(self.unexpected("end", Some("`)`"))),
                }
            }
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) if is_name_start(c) => {
                let start = self.pos;
                let name = self.take_while(is_name_char);
                let bad_dot = name
                    .find("..")
                    .or_else(|| name.ends_with('.').then(|| name.len() - 1));
                if let Some(i) = bad_dot {
                    self.pos = start + name[..i].chars().count();
                    return Err(self.unexpected("`.`", Some("a name after the dot")));
                }
                Ok(Expr::Name(name))
            }
            Some(c) => Err(self.unexpected(&format!("`{c}`"), Some("a number, a name or `(`"))),
            None => Err(self.unexpected("end", Some("a number, a name or `(`"))),
        }
    }

    /// number := digits ('.' digits)? (('e' | 'E') ('+' | '-')? digits)?
    fn number(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let mut text = self.take_while(|c| c.is_ascii_digit() || c == '.');
        if matches!(self.peek(), Some('e' | 'E')) {
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            let exp = self.take_while(|c| c.is_ascii_digit());
            if exp.is_empty() {
                self.pos = mark;
            } else {
                text = self.chars[start..self.pos].iter().collect();
            }
        }
        if text.parse::<f64>().is_err() {
            self.pos = start;
            return Err(self.unexpected(&format!("`{text}`"), Some("a number")));
        }
        Ok(Expr::Number(text))
    }

    fn take_while(&mut self, ok: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<f64> {
        match name {
            "memory" => Some(4.0),
            "duration" => Some(2.5),
            "aggregation.calls" => Some(10.0),
            _ => None,
        }
    }

    #[test]
    fn precedence_parentheses_and_unary_minus() {
        assert_eq!(eval("memory*duration", &vars), Ok(10.0));
        assert_eq!(eval("1 + 2 * 3", &vars), Ok(7.0));
        assert_eq!(eval("(1 + 2) * 3", &vars), Ok(9.0));
        assert_eq!(eval("-memory + 10 / 4", &vars), Ok(-1.5));
        assert_eq!(eval("aggregation.calls - 1", &vars), Ok(9.0));
        assert_eq!(eval("1e3 / 4", &vars), Ok(250.0));
        assert_eq!(eval("8 - 2 - 1", &vars), Ok(5.0));
    }

    #[test]
    fn names_in_order_once() {
        let e = parse("a * b + aggregation.c - a / 2").unwrap();
        assert_eq!(e.names(), ["a", "b", "aggregation.c"]);
        assert_eq!(e.to_string(), "(((a * b) + aggregation.c) - (a / 2))");
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            eval("cpu * 2", &vars),
            Err(Error::Eval(EvalError::Unknown("cpu".into())))
        );
        assert_eq!(
            eval("1 / (memory - 4)", &vars),
            Err(Error::Eval(EvalError::DivideByZero))
        );
        let msg = |f: &str| parse(f).unwrap_err().to_string();
        assert_eq!(
            msg("1 +"),
            "unexpected end at character 4, expected a number, a name or `(`"
        );
        assert_eq!(msg("(1"), "unexpected end at character 3, expected `)`");
        assert_eq!(msg("2 % 3"), "unexpected `%` at character 3");
        assert_eq!(
            msg("1.2.3"),
            "unexpected `1.2.3` at character 1, expected a number"
        );
        assert_eq!(
            msg("a. + 1"),
            "unexpected `.` at character 2, expected a name after the dot"
        );
        assert_eq!(msg("Math.max(a, b)"), "unexpected `(` at character 9");
    }

    /// An exact type evaluates literals without passing through f64.
    #[test]
    fn evaluates_over_any_number_type() {
        #[derive(Debug, Clone, Copy, PartialEq, Default)]
        struct Cents(i64);
        impl FromStr for Cents {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                s.parse().map(Cents).map_err(|_| ())
            }
        }
        impl Add for Cents {
            type Output = Cents;
            fn add(self, o: Cents) -> Cents {
                Cents(self.0 + o.0)
            }
        }
        impl Sub for Cents {
            type Output = Cents;
            fn sub(self, o: Cents) -> Cents {
                Cents(self.0 - o.0)
            }
        }
        impl Mul for Cents {
            type Output = Cents;
            fn mul(self, o: Cents) -> Cents {
                Cents(self.0 * o.0)
            }
        }
        impl Div for Cents {
            type Output = Cents;
            fn div(self, o: Cents) -> Cents {
                Cents(self.0 / o.0)
            }
        }
        impl Neg for Cents {
            type Output = Cents;
            fn neg(self) -> Cents {
                Cents(-self.0)
            }
        }
        let v = |n: &str| (n == "x").then_some(Cents(7));
        assert_eq!(eval("x * 3 - 1", &v), Ok(Cents(20)));
        assert_eq!(eval("x / 0", &v), Err(Error::Eval(EvalError::DivideByZero)));
        assert_eq!(
            eval("x * 0.5", &v),
            Err(Error::Eval(EvalError::Number("0.5".into())))
        );
    }
}
