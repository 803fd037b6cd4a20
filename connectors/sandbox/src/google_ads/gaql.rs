//! A small GAQL parser: `SELECT fields FROM resource [WHERE cond AND …] [ORDER BY …]
//! [LIMIT n] [PARAMETERS …]`, enough for reporting queries.

use chrono::{Duration, NaiveDate};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub(crate) fields: Vec<String>,
    pub(crate) resource: String,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) limit: Option<u64>,
}

/// One `WHERE` condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub(crate) field: String,
    pub(crate) op: Op,
}

/// A condition's operator and operands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Cmp(&'static str, Value),
    Between(Value, Value),
    In(Vec<Value>, bool),
    During(String),
    Like(String, bool),
    IsNull(bool),
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    Ident(String),
}

impl Value {
    pub(crate) fn as_text(&self) -> String {
        match self {
            Value::Str(s) | Value::Ident(s) => s.clone(),
            Value::Num(n) => n.to_string(),
            Value::Bool(b) => b.to_string().to_uppercase(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'\'' || c == b'"' {
            let end = q[i + 1..]
                .find(c as char)
                .ok_or_else(|| "unterminated string literal".to_string())?;
            out.push(Tok::Str(q[i + 1..i + 1 + end].to_string()));
            i += end + 2;
        } else if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Num(
                q[start..i]
                    .parse()
                    .map_err(|_| format!("bad number `{}`", &q[start..i]))?,
            ));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Word(q[start..i].to_string()));
        } else {
            let two = q.get(i..i + 2).unwrap_or("");
            let sym: &'static str = match two {
                "!=" => "!=",
                ">=" => ">=",
                "<=" => "<=",
                _ => match c {
                    b'=' => "=",
                    b'>' => ">",
                    b'<' => "<",
                    b',' => ",",
                    b'(' => "(",
                    b')' => ")",
                    _ => return Err(format!("unexpected character `{}`", c as char)),
                },
            };
            i += sym.len();
            out.push(Tok::Sym(sym));
        }
    }
    Ok(out)
}

fn kw(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect_kw(&mut self, word: &str) -> Result<(), String> {
        if kw(self.peek(), word) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {word}"))
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => Err(format!("expected a field name, found {other:?}")),
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::Str(s)),
            Some(Tok::Num(n)) => Ok(Value::Num(n)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            Some(Tok::Word(w)) => Ok(Value::Ident(w)),
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
}

/// Parses a GAQL query.
pub(crate) fn parse(q: &str) -> Result<Query, String> {
    let mut p = Parser {
        toks: tokenize(q)?,
        pos: 0,
    };
    p.expect_kw("SELECT")?;
    let mut fields = vec![p.ident()?];
    while p.peek() == Some(&Tok::Sym(",")) {
        p.pos += 1;
        fields.push(p.ident()?);
    }
    p.expect_kw("FROM")?;
    let resource = p.ident()?;
    let mut conditions = Vec::new();
    let mut limit = None;
    if kw(p.peek(), "WHERE") {
        p.pos += 1;
        loop {
            let field = p.ident()?;
            let op = match p.next() {
                Some(Tok::Sym(s)) if ["=", "!=", ">", "<", ">=", "<="].contains(&s) => {
                    Op::Cmp(s, p.value()?)
                }
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("BETWEEN") => {
                    let a = p.value()?;
                    p.expect_kw("AND")?;
                    Op::Between(a, p.value()?)
                }
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("DURING") => Op::During(p.ident()?),
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("IS") => {
                    let not = kw(p.peek(), "NOT");
                    if not {
                        p.pos += 1;
                    }
                    p.expect_kw("NULL")?;
                    Op::IsNull(!not)
                }
                Some(Tok::Word(w))
                    if w.eq_ignore_ascii_case("NOT")
                        || w.eq_ignore_ascii_case("IN")
                        || w.eq_ignore_ascii_case("LIKE") =>
                {
                    let negated = w.eq_ignore_ascii_case("NOT");
                    let which = if negated { p.ident()? } else { w };
                    if which.eq_ignore_ascii_case("LIKE") {
                        Op::Like(p.value()?.as_text(), !negated)
                    } else if which.eq_ignore_ascii_case("IN") {
                        if p.next() != Some(Tok::Sym("(")) {
                            return Err("expected ( after IN".into());
                        }
                        let mut vals = vec![p.value()?];
                        while p.peek() == Some(&Tok::Sym(",")) {
                            p.pos += 1;
                            vals.push(p.value()?);
                        }
                        if p.next() != Some(Tok::Sym(")")) {
                            return Err("expected ) after the IN list".into());
                        }
                        Op::In(vals, !negated)
                    } else {
                        return Err(format!("unexpected NOT {which}"));
                    }
                }
                other => {
                    return Err(format!(
                        "expected an operator after {field}, found {other:?}"
                    ));
                }
            };
            conditions.push(Condition { field, op });
            if kw(p.peek(), "AND") {
                p.pos += 1;
                continue;
            }
            break;
        }
    }
    if kw(p.peek(), "ORDER") {
        p.pos += 1;
        p.expect_kw("BY")?;
        loop {
            p.ident()?;
            if kw(p.peek(), "ASC") || kw(p.peek(), "DESC") {
                p.pos += 1;
            }
            if p.peek() == Some(&Tok::Sym(",")) {
                p.pos += 1;
                continue;
            }
            break;
        }
    }
    if kw(p.peek(), "LIMIT") {
        p.pos += 1;
        match p.next() {
            Some(Tok::Num(n)) if n >= 0.0 => limit = Some(n as u64),
            _ => return Err("expected a number after LIMIT".into()),
        }
    }
    if kw(p.peek(), "PARAMETERS") {
        p.pos = p.toks.len();
    }
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?}"));
    }
    Ok(Query {
        fields,
        resource,
        conditions,
        limit,
    })
}

/// The date range a query's `segments.date` conditions allow, relative to `today`;
/// `Ok(None)` if there is no date condition.
pub(crate) fn date_range(
    q: &Query,
    today: NaiveDate,
) -> Result<Option<(NaiveDate, NaiveDate)>, String> {
    let mut lo: Option<NaiveDate> = None;
    let mut hi: Option<NaiveDate> = None;
    let date = |v: &Value| {
        NaiveDate::parse_from_str(&v.as_text(), "%Y-%m-%d")
            .map_err(|_| format!("`{}` is not a date as YYYY-MM-DD", v.as_text()))
    };
    let mut narrow = |a: NaiveDate, b: NaiveDate| {
        lo = Some(lo.map_or(a, |l| l.max(a)));
        hi = Some(hi.map_or(b, |h| h.min(b)));
    };
    let far_past = NaiveDate::from_ymd_opt(2000, 1, 1).expect("date");
    let far_future = NaiveDate::from_ymd_opt(2100, 1, 1).expect("date");
    let mut any = false;
    for c in q.conditions.iter().filter(|c| c.field == "segments.date") {
        any = true;
        match &c.op {
            Op::Between(a, b) => narrow(date(a)?, date(b)?),
            Op::Cmp("=", v) => {
                let d = date(v)?;
                narrow(d, d)
            }
            Op::Cmp(">=", v) => narrow(date(v)?, far_future),
            Op::Cmp(">", v) => narrow(date(v)? + Duration::days(1), far_future),
            Op::Cmp("<=", v) => narrow(far_past, date(v)?),
            Op::Cmp("<", v) => narrow(far_past, date(v)? - Duration::days(1)),
            Op::During(p) => {
                let (a, b) = match p.as_str() {
                    "TODAY" => (today, today),
                    "YESTERDAY" => (today - Duration::days(1), today - Duration::days(1)),
                    "LAST_7_DAYS" => (today - Duration::days(7), today - Duration::days(1)),
                    "LAST_14_DAYS" => (today - Duration::days(14), today - Duration::days(1)),
                    "LAST_30_DAYS" => (today - Duration::days(30), today - Duration::days(1)),
                    other => return Err(format!("unsupported date range {other}")),
                };
                narrow(a, b)
            }
            other => return Err(format!("unsupported operator on segments.date: {other:?}")),
        }
    }
    if !any {
        return Ok(None);
    }
    match (lo, hi) {
        (Some(a), Some(b)) if a != far_past && b != far_future => Ok(Some((a, b))),
        _ => Err("segments.date needs a finite range".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reporting_queries() {
        let q = parse(
            "SELECT customer.id, campaign.id, metrics.cost_micros, segments.date FROM campaign \
             WHERE segments.date BETWEEN '2024-05-01' AND '2024-05-07' AND campaign.status != 'REMOVED' \
             AND campaign.status IN ('ENABLED', 'PAUSED') ORDER BY segments.date LIMIT 10",
        )
        .unwrap();
        assert_eq!(q.fields.len(), 4);
        assert_eq!(q.resource, "campaign");
        assert_eq!(q.conditions.len(), 3);
        assert_eq!(q.limit, Some(10));
        let today = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
        assert_eq!(
            date_range(&q, today).unwrap(),
            Some((
                NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
                NaiveDate::from_ymd_opt(2024, 5, 7).unwrap()
            ))
        );
        let q = parse("select customer_client.id from customer_client where customer_client.level <= 1 and customer_client.manager = FALSE").unwrap();
        assert_eq!(q.conditions[1].op, Op::Cmp("=", Value::Bool(false)));
        assert!(parse("SELECT FROM campaign").is_err());
        assert!(parse("SELECT campaign.id FROM campaign WHERE").is_err());
        let open =
            parse("SELECT campaign.id FROM campaign WHERE segments.date >= '2024-01-01'").unwrap();
        assert!(date_range(&open, today).is_err());
    }
}
