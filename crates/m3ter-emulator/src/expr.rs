//! Arithmetic over named values (`requests*2`, `(a + b) / 3`,
//! `aggregation.calls - 1`): the formulas of derived fields and compound
//! aggregations. Only + − × ÷, unary minus, parentheses, numbers and names.

/// Why a formula could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    #[error("formula {0:?}: unexpected {1} at character {2}")]
    Syntax(String, String, usize),
    /// A name without a value (e.g. a data field the measurement lacks).
    #[error("formula names `{0}`, which has no value")]
    Unknown(String),
    #[error("formula divides by zero")]
    DivideByZero,
}

/// Evaluates `formula`, looking names up with `value_of`.
pub fn eval(formula: &str, value_of: &dyn Fn(&str) -> Option<f64>) -> Result<f64, ExprError> {
    let mut p = Parser {
        src: formula,
        chars: formula.char_indices().collect(),
        pos: 0,
        value_of,
    };
    let v = p.sum()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(v),
        Some(c) => Err(p.unexpected(&c.to_string())),
    }
}

struct Parser<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
    value_of: &'a dyn Fn(&str) -> Option<f64>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|(_, c)| *c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, what: &str) -> ExprError {
        ExprError::Syntax(self.src.to_owned(), what.to_owned(), self.pos + 1)
    }

    /// sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<f64, ExprError> {
        let mut v = self.product()?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some('+') => {
                    self.pos += 1;
                    v += self.product()?;
                }
                Some('-') => {
                    self.pos += 1;
                    v -= self.product()?;
                }
                _ => return Ok(v),
            }
        }
    }

    /// product := unary (('*' | '/') unary)*
    fn product(&mut self) -> Result<f64, ExprError> {
        let mut v = self.unary()?;
        loop {
            self.skip_ws();
            match self.peek() {
                Some('*') => {
                    self.pos += 1;
                    v *= self.unary()?;
                }
                Some('/') => {
                    self.pos += 1;
                    let d = self.unary()?;
                    if d == 0.0 {
                        return Err(ExprError::DivideByZero);
                    }
                    v /= d;
                }
                _ => return Ok(v),
            }
        }
    }

    /// unary := '-' unary | atom
    fn unary(&mut self) -> Result<f64, ExprError> {
        self.skip_ws();
        if self.peek() == Some('-') {
            self.pos += 1;
            return Ok(-self.unary()?);
        }
        self.atom()
    }

    /// atom := number | name | '(' sum ')'
    fn atom(&mut self) -> Result<f64, ExprError> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let v = self.sum()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.unexpected("end, expected `)`"));
                }
                self.pos += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let text = self.take_while(|c| c.is_ascii_digit() || c == '.');
                text.parse().map_err(|_| self.unexpected(&text))
            }
            Some(c) if c.is_alphabetic() || c == '_' || c == '$' => {
                let name = self.take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'));
                (self.value_of)(&name).ok_or(ExprError::Unknown(name))
            }
            Some(c) => Err(self.unexpected(&c.to_string())),
            None => Err(self.unexpected("end")),
        }
    }

    fn take_while(&mut self, ok: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().map(|(_, c)| c).collect()
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
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            eval("cpu * 2", &vars),
            Err(ExprError::Unknown("cpu".into()))
        );
        assert_eq!(
            eval("1 / (memory - 4)", &vars),
            Err(ExprError::DivideByZero)
        );
        assert!(matches!(eval("1 +", &vars), Err(ExprError::Syntax(..))));
        assert!(matches!(eval("(1", &vars), Err(ExprError::Syntax(..))));
        assert!(matches!(eval("2 % 3", &vars), Err(ExprError::Syntax(..))));
    }
}
