//! Notification calculations (`new.amountSpent >= new.amount * 0.9 AND
//! old.amountSpent < old.amount * 0.9`): a boolean expression over an
//! event's fields, parsed into a [`Cond`] whose names the rule
//! `notificationConfiguration.calculation` checks against the event.
//!
//! The grammar is what m3ter's calculation engine documents for
//! notification rules: arithmetic (`+ - * / % ^`, unary `+ -`),
//! comparisons (`== != < > <= >=`), `AND`, `OR`, the ternary `? :`,
//! parentheses, numbers, strings (`"…"` or `'…'`), `true`, `false`, `null`,
//! the constants `Math.PI` and `DateTime.TS_FMT`, and the functions
//! `Math.max`, `Math.min`, `Math.floor`, `Math.ceil`, `Math.round`,
//! `Math.pow`, `Math.abs`, `isnull` and `IN`. Names and numbers are read as
//! the derived-field formulas read them ([`crate::calc`]), and errors have
//! the same shape ([`ParseError`]). Anything else is refused rather than
//! guessed at.

use crate::calc::{ParseError, is_name_char, is_name_start};

/// A parsed calculation.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Number(String),
    Str(String),
    Bool(bool),
    Null,
    /// An event field (`new.amount`) or a constant (`Math.PI`).
    Name(String),
    /// A function and its arguments.
    Call(&'static str, Vec<Cond>),
    /// Unary minus or plus.
    Unary(char, Box<Cond>),
    Binary(BinOp, Box<Cond>, Box<Cond>),
    /// `condition ? then : else`.
    Ternary(Box<Cond>, Box<Cond>, Box<Cond>),
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

/// The constants of the calculation engine: names that are not fields.
pub const CONSTANTS: &[&str] = &["Math.PI", "DateTime.TS_FMT"];

/// The functions, with their smallest and largest number of arguments.
pub const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("Math.max", 2, usize::MAX),
    ("Math.min", 2, usize::MAX),
    ("Math.floor", 1, 2),
    ("Math.ceil", 1, 2),
    ("Math.round", 1, 2),
    ("Math.pow", 2, 2),
    ("Math.abs", 1, 1),
    ("isnull", 2, 2),
    ("IN", 1, usize::MAX),
];

/// What a calculation evaluates to, as far as the parse tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Boolean,
    Number,
    String,
    Null,
    /// Depends on the data (a map field, a ternary with mixed branches).
    Unknown,
}

/// Parses `calculation`.
pub fn parse(calculation: &str) -> Result<Cond, ParseError> {
    let mut p = Parser {
        chars: calculation.chars().collect(),
        pos: 0,
    };
    let c = p.ternary()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(c),
        Some(c) => Err(p.unexpected(&format!("`{c}`"), None)),
    }
}

impl Cond {
    /// Every field name the calculation uses (constants left out), in order
    /// of first appearance, once each.
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |c| {
            if let Cond::Name(n) = c
                && !CONSTANTS.contains(&n.as_str())
                && !out.contains(&n.as_str())
            {
                out.push(n.as_str());
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Cond)) {
        f(self);
        match self {
            Cond::Call(_, args) => args.iter().for_each(|a| a.walk(f)),
            Cond::Unary(_, e) => e.walk(f),
            Cond::Binary(_, l, r) => {
                l.walk(f);
                r.walk(f);
            }
            Cond::Ternary(c, t, e) => {
                c.walk(f);
                t.walk(f);
                e.walk(f);
            }
            _ => {}
        }
    }

    /// What the calculation evaluates to, given the type of each name
    /// (`None`: unknown).
    pub fn value(&self, type_of: &dyn Fn(&str) -> Option<Value>) -> Value {
        match self {
            Cond::Number(_) => Value::Number,
            Cond::Str(_) => Value::String,
            Cond::Bool(_) => Value::Boolean,
            Cond::Null => Value::Null,
            Cond::Name(n) if n == "Math.PI" => Value::Number,
            Cond::Name(n) if n == "DateTime.TS_FMT" => Value::String,
            Cond::Name(n) => type_of(n).unwrap_or(Value::Unknown),
            Cond::Call("IN", _) => Value::Boolean,
            Cond::Call("isnull", _) => Value::Unknown,
            Cond::Call(..) | Cond::Unary(..) => Value::Number,
            Cond::Binary(op, l, r) => match op {
                BinOp::Or | BinOp::And => Value::Boolean,
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
                    Value::Boolean
                }
                // `+` also joins strings.
                BinOp::Add
                    if l.value(type_of) == Value::String || r.value(type_of) == Value::String =>
                {
                    Value::String
                }
                _ => Value::Number,
            },
            Cond::Ternary(_, t, e) => {
                let (t, e) = (t.value(type_of), e.value(type_of));
                if t == e { t } else { Value::Unknown }
            }
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
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

    /// Whether the input at the cursor (after spaces) is `s`; consumed if so.
    fn eat(&mut self, s: &str) -> bool {
        self.skip_ws();
        let n = s.chars().count();
        let matches = self.chars.len() >= self.pos + n
            && self.chars[self.pos..self.pos + n]
                .iter()
                .copied()
                .eq(s.chars());
        if matches {
            self.pos += n;
        }
        matches
    }

    /// A keyword (`AND`) that is not the start of a longer name.
    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_ws();
        let end = self.pos + word.len();
        let is_word = self.chars.len() >= end
            && self.chars[self.pos..end].iter().copied().eq(word.chars())
            && !self.chars.get(end).copied().is_some_and(is_name_char);
        if is_word {
            self.pos = end;
        }
        is_word
    }

    /// ternary := or ('?' ternary ':' ternary)?
    fn ternary(&mut self) -> Result<Cond, ParseError> {
        let c = self.or()?;
        if !self.eat("?") {
            return Ok(c);
        }
        let t = self.ternary()?;
        if !self.eat(":") {
            return Err(self.found(Some("`:`")));
        }
        let e = self.ternary()?;
        Ok(Cond::Ternary(Box::new(c), Box::new(t), Box::new(e)))
    }

    /// or := and ('OR' and)*
    fn or(&mut self) -> Result<Cond, ParseError> {
        let mut l = self.and()?;
        while self.eat_word("OR") {
            l = Cond::Binary(BinOp::Or, Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }

    /// and := compare ('AND' compare)*
    fn and(&mut self) -> Result<Cond, ParseError> {
        let mut l = self.compare()?;
        while self.eat_word("AND") {
            l = Cond::Binary(BinOp::And, Box::new(l), Box::new(self.compare()?));
        }
        Ok(l)
    }

    /// compare := sum (('==' | '!=' | '<=' | '>=' | '<' | '>') sum)?
    fn compare(&mut self) -> Result<Cond, ParseError> {
        let l = self.sum()?;
        let op = [
            ("==", BinOp::Eq),
            ("!=", BinOp::Ne),
            ("<=", BinOp::Le),
            (">=", BinOp::Ge),
            ("<", BinOp::Lt),
            (">", BinOp::Gt),
        ]
        .into_iter()
        .find(|(s, _)| self.eat(s));
        let Some((_, op)) = op else {
            return Ok(l);
        };
        Ok(Cond::Binary(op, Box::new(l), Box::new(self.sum()?)))
    }

    /// sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<Cond, ParseError> {
        let mut l = self.product()?;
        loop {
            let op = if self.eat("+") {
                BinOp::Add
            } else if self.eat("-") {
                BinOp::Sub
            } else {
                return Ok(l);
            };
            l = Cond::Binary(op, Box::new(l), Box::new(self.product()?));
        }
    }

    /// product := power (('*' | '/' | '%') power)*
    fn product(&mut self) -> Result<Cond, ParseError> {
        let mut l = self.power()?;
        loop {
            let op = if self.eat("*") {
                BinOp::Mul
            } else if self.eat("/") {
                BinOp::Div
            } else if self.eat("%") {
                BinOp::Mod
            } else {
                return Ok(l);
            };
            l = Cond::Binary(op, Box::new(l), Box::new(self.power()?));
        }
    }

    /// power := unary ('^' power)?  (right-associative)
    fn power(&mut self) -> Result<Cond, ParseError> {
        let base = self.unary()?;
        if self.eat("^") {
            return Ok(Cond::Binary(
                BinOp::Pow,
                Box::new(base),
                Box::new(self.power()?),
            ));
        }
        Ok(base)
    }

    /// unary := ('-' | '+') unary | atom
    fn unary(&mut self) -> Result<Cond, ParseError> {
        for sign in ['-', '+'] {
            if self.eat(&sign.to_string()) {
                return Ok(Cond::Unary(sign, Box::new(self.unary()?)));
            }
        }
        self.atom()
    }

    fn found(&self, expected: Option<&'static str>) -> ParseError {
        match self.peek() {
            Some(c) => self.unexpected(&format!("`{c}`"), expected),
            None => self.unexpected("end", expected),
        }
    }

    /// atom := number | string | name | name '(' args ')' | '(' ternary ')'
    fn atom(&mut self) -> Result<Cond, ParseError> {
        const ATOM: Option<&str> = Some("a number, a string, a name or `(`");
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let c = self.ternary()?;
                if !self.eat(")") {
                    return Err(self.found(Some("`)`")));
                }
                Ok(c)
            }
            Some(q @ ('"' | '\'')) => self.string(q),
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) if is_name_start(c) => self.name(),
            _ => Err(self.found(ATOM)),
        }
    }

    fn name(&mut self) -> Result<Cond, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let bad_dot = name
            .find("..")
            .or_else(|| name.ends_with('.').then(|| name.len() - 1));
        if let Some(i) = bad_dot {
            self.pos = start + name[..i].chars().count();
            return Err(self.unexpected("`.`", Some("a name after the dot")));
        }
        match name.as_str() {
            "true" => return Ok(Cond::Bool(true)),
            "false" => return Ok(Cond::Bool(false)),
            "null" => return Ok(Cond::Null),
            // A keyword where an operand belongs (`a >= AND b`).
            "AND" | "OR" => {
                self.pos = start;
                return Err(self.unexpected(
                    &format!("`{name}`"),
                    Some("a number, a string, a name or `(`"),
                ));
            }
            _ => {}
        }
        self.skip_ws();
        if self.peek() != Some('(') {
            return Ok(Cond::Name(name));
        }
        let Some(&(function, min, max)) = FUNCTIONS.iter().find(|(f, _, _)| *f == name) else {
            self.pos = start;
            return Err(ParseError {
                found: format!("function `{name}`"),
                at: start + 1,
                expected: Some(
                    "one of Math.max, Math.min, Math.floor, Math.ceil, Math.round, Math.pow, Math.abs, isnull, IN",
                ),
            });
        };
        self.pos += 1;
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.ternary()?);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.found(Some("`,` or `)`")));
                }
            }
        }
        if args.len() < min || args.len() > max {
            return Err(ParseError {
                found: format!("{} argument(s) to `{function}`", args.len()),
                at: start + 1,
                expected: Some(match (min, max) {
                    (1, 1) => "exactly 1",
                    (2, 2) => "exactly 2",
                    (1, 2) => "1 or 2",
                    (1, _) => "at least 1",
                    _ => "at least 2",
                }),
            });
        }
        Ok(Cond::Call(function, args))
    }

    fn string(&mut self, quote: char) -> Result<Cond, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.unexpected("an unterminated string", Some("a closing quote")));
                }
                Some('\\') => {
                    self.pos += 1;
                    if let Some(c) = self.peek() {
                        text.push(c);
                        self.pos += 1;
                    }
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(Cond::Str(text));
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// number := digits ('.' digits)? (('e' | 'E') ('+' | '-')? digits)?
    fn number(&mut self) -> Result<Cond, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
            self.pos += 1;
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            let digits = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == digits {
                self.pos = mark;
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if text.parse::<f64>().is_err() {
            self.pos = start;
            return Err(self.unexpected(&format!("`{text}`"), Some("a number")));
        }
        Ok(Cond::Number(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_parses_and_names_its_fields() {
        let c = parse(
            "(new.amountSpent >= ((new.amount*90)/100)) \nAND ((old.amountSpent <= ((old.amount*90)/100)) OR (old.amountSpent == null))",
        )
        .expect("parses");
        assert_eq!(
            c.names(),
            [
                "new.amountSpent",
                "new.amount",
                "old.amountSpent",
                "old.amount"
            ]
        );
        assert_eq!(c.value(&|_| None), Value::Boolean);
    }

    #[test]
    fn operators_functions_strings_and_precedence() {
        let c = parse("new.a + 2 * 3 > 1 AND new.b == 'x' OR NOT_A_KEYWORD").expect("parses");
        let Cond::Binary(BinOp::Or, l, r) = c else {
            panic!("OR binds loosest: {c:?}")
        };
        assert!(matches!(*l, Cond::Binary(BinOp::And, ..)), "{l:?}");
        assert_eq!(*r, Cond::Name("NOT_A_KEYWORD".into()));
        // `ANDroid` is a name, not `AND` followed by `roid`.
        assert_eq!(
            parse("ANDroid").expect("parses"),
            Cond::Name("ANDroid".into())
        );
        for ok in [
            "Math.max(new.a, old.a, 3) > Math.PI",
            "isnull(old.amount, 0) != new.amount",
            "new.status == \"ACTIVE\" ? true : false",
            "2 ^ 3 ^ 2 % 5 == -1",
            "IN(\"completed\", \"succeeded\")",
            "Math.round(new.amount / 3, 2) <= 1e3",
        ] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok));
        }
        assert_eq!(
            parse("new.a + 1")
                .expect("parses")
                .value(&|_| Some(Value::Number)),
            Value::Number
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |f: &str| parse(f).unwrap_err().to_string();
        assert_eq!(
            msg("new.amount >"),
            "unexpected end at character 13, expected a number, a string, a name or `(`"
        );
        assert_eq!(
            msg("(new.a == 1"),
            "unexpected end at character 12, expected `)`"
        );
        assert_eq!(msg("new.a && new.b"), "unexpected `&` at character 7");
        assert_eq!(
            msg("Math.sqrt(new.a) > 1"),
            "unexpected function `Math.sqrt` at character 1, expected one of Math.max, Math.min, Math.floor, Math.ceil, Math.round, Math.pow, Math.abs, isnull, IN"
        );
        assert_eq!(
            msg("Math.pow(new.a) > 1"),
            "unexpected 1 argument(s) to `Math.pow` at character 1, expected exactly 2"
        );
        assert_eq!(
            msg("new.a == 'x"),
            "unexpected an unterminated string at character 10, expected a closing quote"
        );
        assert_eq!(
            msg("new.a ? 1"),
            "unexpected end at character 10, expected `:`"
        );
        assert_eq!(
            msg("new. == 1"),
            "unexpected `.` at character 4, expected a name after the dot"
        );
    }
}
