//! A SOQL subset: `SELECT f, Rel.f FROM Object [WHERE …] [ORDER BY f [ASC|DESC]
//! [NULLS FIRST|LAST], …] [LIMIT n]` with `AND`/`OR`/`NOT`, parentheses, `= != <> < <= > >=`,
//! `IN (…)`, `NOT IN (…)` and `LIKE`. Literals are typed as SOQL types them: date-times and
//! dates are unquoted ISO 8601 (`2024-05-01T00:00:00Z`, `2024-05-01`), strings are quoted, and
//! a quoted date-time is an error. Date-times compare at second precision, as stored.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate};

use super::objects::{FType, FieldDef, Rec, Val, field, object};
use crate::world::World;

/// A SOQL error: the `errorCode` and the message Salesforce would send.
#[derive(Debug, Clone, PartialEq)]
pub struct SoqlError {
    /// `MALFORMED_QUERY`, `INVALID_FIELD` or `INVALID_TYPE`.
    pub code: &'static str,
    /// The message, with the query and a pointer for parse errors.
    pub message: String,
}

/// A selected field: the object's own, or one of a related record (`Account.Website`).
#[derive(Debug, Clone, Copy)]
pub struct Sel {
    /// Relationship name (`Account`) for related fields.
    pub rel: Option<&'static str>,
    /// The field (of the related object for related fields).
    pub field: &'static FieldDef,
}

impl Sel {
    /// The value for a record.
    pub fn value<'w>(&self, w: &'w World, rec: &Rec<'w>) -> Val<'w> {
        match self.rel {
            None => rec.get(w, self.field.name),
            Some(rel) => rec
                .related(w, rel)
                .map_or(Val::Null, |r| r.get(w, self.field.name)),
        }
    }
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A quoted string.
    Str(String),
    /// A date (epoch ms at midnight UTC).
    Date(i64),
    /// A date-time (epoch ms).
    DateTime(i64),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=` / `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A condition.
#[derive(Debug, Clone)]
pub enum Expr {
    /// All of.
    And(Vec<Expr>),
    /// Any of.
    Or(Vec<Expr>),
    /// Not.
    Not(Box<Expr>),
    /// `field op literal`.
    Cmp(Sel, Op, Lit),
    /// `field [NOT] IN (…)`.
    In(Sel, Vec<Lit>, bool),
    /// `field LIKE 'pattern'`.
    Like(Sel, String),
}

/// One `ORDER BY` term.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// The field.
    pub sel: Sel,
    /// Descending.
    pub desc: bool,
    /// Nulls first (the default for ascending).
    pub nulls_first: bool,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    /// Object API name.
    pub object: &'static str,
    /// Selected fields, in order.
    pub select: Vec<Sel>,
    /// The `WHERE` clause.
    pub filter: Option<Expr>,
    /// The `ORDER BY` clause.
    pub order: Vec<Order>,
    /// The `LIMIT`.
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Date(i64),
    DateTime(i64),
    Op(&'static str),
    Comma,
    Open,
    Close,
}

fn malformed(q: &str, col: usize, what: &str) -> SoqlError {
    SoqlError {
        code: "MALFORMED_QUERY",
        message: format!(
            "\n{q}\n{}^\nERROR at Row:1:Column:{}\n{what}",
            " ".repeat(col),
            col + 1
        ),
    }
}

fn parse_datetime(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .or_else(|| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").ok())
        .map(|d| d.timestamp_millis())
}

fn tokenize(q: &str) -> Result<Vec<(Tok, usize)>, SoqlError> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'(' => {
                i += 1;
                Tok::Open
            }
            b')' => {
                i += 1;
                Tok::Close
            }
            b'\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(malformed(q, start, "unterminated string literal")),
                        Some(b'\\') => {
                            if let Some(&n) = b.get(i + 1) {
                                s.push(n as char);
                            }
                            i += 2;
                        }
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => {
                            let ch = q[i..].chars().next().expect("in bounds");
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                Tok::Str(s)
            }
            b'=' => {
                i += 1;
                Tok::Op("=")
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Op("!=")
            }
            b'<' | b'>' => {
                let two = b.get(i + 1).copied();
                i += 1;
                match (c, two) {
                    (b'<', Some(b'=')) => {
                        i += 1;
                        Tok::Op("<=")
                    }
                    (b'<', Some(b'>')) => {
                        i += 1;
                        Tok::Op("!=")
                    }
                    (b'>', Some(b'=')) => {
                        i += 1;
                        Tok::Op(">=")
                    }
                    (b'<', _) => Tok::Op("<"),
                    _ => Tok::Op(">"),
                }
            }
            b'0'..=b'9' | b'-' | b'+' => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'-' | b'+' | b':' | b'.'))
                {
                    i += 1;
                }
                let text = &q[start..i];
                if text.len() >= 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' {
                    if text.len() == 10 {
                        let d = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                            .map_err(|_| malformed(q, start, &format!("invalid date: {text}")))?;
                        Tok::Date(
                            d.and_hms_opt(0, 0, 0)
                                .expect("midnight")
                                .and_utc()
                                .timestamp_millis(),
                        )
                    } else {
                        Tok::DateTime(parse_datetime(text).ok_or_else(|| {
                            malformed(
                                q,
                                start,
                                &format!(
                                    "line 1:{start} no viable alternative at character '{text}'"
                                ),
                            )
                        })?)
                    }
                } else {
                    Tok::Num(
                        text.parse().map_err(|_| {
                            malformed(q, start, &format!("unexpected token: '{text}'"))
                        })?,
                    )
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.')) {
                    i += 1;
                }
                Tok::Word(q[start..i].to_string())
            }
            _ => {
                return Err(malformed(
                    q,
                    start,
                    &format!("unexpected token: '{}'", c as char),
                ));
            }
        };
        out.push((tok, start));
    }
    Ok(out)
}

struct Parser<'q> {
    q: &'q str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    object: &'static str,
    fields: &'static [FieldDef],
}

fn kw(t: &Tok, word: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(word))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.q.len(), |(_, c)| *c)
    }

    fn err(&self, what: &str) -> SoqlError {
        malformed(self.q, self.col(), what)
    }

    fn expect_kw(&mut self, word: &str) -> Result<(), SoqlError> {
        match self.peek() {
            Some(t) if kw(t, word) => {
                self.pos += 1;
                Ok(())
            }
            Some(t) => Err(self.err(&format!("unexpected token: '{}'", show(t)))),
            None => Err(self.err(&format!("expecting {word}, found end of query"))),
        }
    }

    fn sel(&mut self) -> Result<Sel, SoqlError> {
        let col = self.col();
        let Some(Tok::Word(name)) = self.peek().cloned() else {
            return Err(self.err("expecting a field name"));
        };
        self.pos += 1;
        let no_such = |n: &str, on: &str| SoqlError {
            code: "INVALID_FIELD",
            message: format!(
                "\n{}\n{}^\nERROR at Row:1:Column:{}\nNo such column '{n}' on entity '{on}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                self.q,
                " ".repeat(col),
                col + 1
            ),
        };
        match name.split_once('.') {
            None => field(self.fields, &name)
                .map(|f| Sel {
                    rel: None,
                    field: f,
                })
                .ok_or_else(|| no_such(&name, self.object)),
            Some((rel, fname)) => {
                let r = self
                    .fields
                    .iter()
                    .find_map(|f| {
                        f.reference
                            .filter(|(_, rn)| rn.eq_ignore_ascii_case(rel))
                    })
                    .ok_or_else(|| SoqlError {
                        code: "INVALID_FIELD",
                        message: format!(
                            "\n{}\n{}^\nERROR at Row:1:Column:{}\nDidn't understand relationship '{rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.",
                            self.q,
                            " ".repeat(col),
                            col + 1
                        ),
                    })?;
                let (to, rel_name) = r;
                let (_, to_fields) = object(to).expect("referenced objects exist");
                field(to_fields, fname)
                    .map(|f| Sel {
                        rel: Some(rel_name),
                        field: f,
                    })
                    .ok_or_else(|| no_such(fname, to))
            }
        }
    }

    fn literal(&mut self) -> Result<Lit, SoqlError> {
        let t = self
            .peek()
            .cloned()
            .ok_or_else(|| self.err("expecting a value, found end of query"))?;
        self.pos += 1;
        Ok(match t {
            Tok::Str(s) => Lit::Str(s),
            Tok::Num(n) => Lit::Num(n),
            Tok::Date(d) => Lit::Date(d),
            Tok::DateTime(d) => Lit::DateTime(d),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Lit::Null,
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Lit::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Lit::Bool(false),
            other => {
                self.pos -= 1;
                return Err(self.err(&format!("unexpected token: '{}'", show(&other))));
            }
        })
    }

    fn check(&self, sel: &Sel, lit: &Lit, col: usize) -> Result<(), SoqlError> {
        let f = sel.field;
        let wrong = |ty: &str, quotes: bool| SoqlError {
            code: "INVALID_FIELD",
            message: format!(
                "\n{}\n{}^\nERROR at Row:1:Column:{}\nvalue of filter criterion for field '{}' must be of type {ty} and should {}be enclosed in quotes",
                self.q,
                " ".repeat(col),
                col + 1,
                f.name,
                if quotes { "" } else { "not " }
            ),
        };
        let ok = match (f.ty, lit) {
            (_, Lit::Null) => true,
            (FType::DateTime, Lit::DateTime(_)) => true,
            (FType::DateTime, _) => return Err(wrong("dateTime", false)),
            (FType::Date, Lit::Date(_)) => true,
            (FType::Date, _) => return Err(wrong("date", false)),
            (FType::Boolean, Lit::Bool(_)) => true,
            (FType::Boolean, _) => return Err(wrong("boolean", false)),
            (FType::Double | FType::Currency | FType::Percent | FType::Int, Lit::Num(_)) => true,
            (FType::Double | FType::Currency | FType::Percent | FType::Int, _) => {
                return Err(wrong("double", false));
            }
            (_, Lit::Str(_)) => true,
            _ => return Err(wrong("string", true)),
        };
        debug_assert!(ok);
        Ok(())
    }

    fn factor(&mut self) -> Result<Expr, SoqlError> {
        match self.peek() {
            Some(t) if kw(t, "NOT") => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.factor()?)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.expr()?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    _ => Err(self.err("expecting a right parentheses")),
                }
            }
            _ => {
                let sel = self.sel()?;
                let col = self.col();
                match self.peek().cloned() {
                    Some(Tok::Op(op)) => {
                        self.pos += 1;
                        let col = self.col();
                        let lit = self.literal()?;
                        self.check(&sel, &lit, col)?;
                        let op = match op {
                            "=" => Op::Eq,
                            "!=" => Op::Ne,
                            "<" => Op::Lt,
                            "<=" => Op::Le,
                            ">" => Op::Gt,
                            _ => Op::Ge,
                        };
                        Ok(Expr::Cmp(sel, op, lit))
                    }
                    Some(t) if kw(&t, "LIKE") => {
                        self.pos += 1;
                        match self.literal()? {
                            Lit::Str(p) => Ok(Expr::Like(sel, p)),
                            _ => Err(malformed(self.q, col, "LIKE needs a quoted pattern")),
                        }
                    }
                    Some(t) if kw(&t, "IN") || kw(&t, "NOT") => {
                        let negated = kw(&t, "NOT");
                        self.pos += 1;
                        if negated {
                            self.expect_kw("IN")?;
                        }
                        if self.peek() != Some(&Tok::Open) {
                            return Err(self.err("expecting a left parentheses"));
                        }
                        self.pos += 1;
                        let mut lits = Vec::new();
                        loop {
                            let c = self.col();
                            let lit = self.literal()?;
                            self.check(&sel, &lit, c)?;
                            lits.push(lit);
                            match self.peek() {
                                Some(Tok::Comma) => self.pos += 1,
                                Some(Tok::Close) => {
                                    self.pos += 1;
                                    break;
                                }
                                _ => return Err(self.err("expecting a right parentheses")),
                            }
                        }
                        Ok(Expr::In(sel, lits, negated))
                    }
                    Some(t) => Err(self.err(&format!("unexpected token: '{}'", show(&t)))),
                    None => Err(self.err("expecting an operator, found end of query")),
                }
            }
        }
    }

    fn term(&mut self) -> Result<Expr, SoqlError> {
        let mut parts = vec![self.factor()?];
        while matches!(self.peek(), Some(t) if kw(t, "AND")) {
            self.pos += 1;
            parts.push(self.factor()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Expr::And(parts)
        })
    }

    fn expr(&mut self) -> Result<Expr, SoqlError> {
        let mut parts = vec![self.term()?];
        while matches!(self.peek(), Some(t) if kw(t, "OR")) {
            self.pos += 1;
            parts.push(self.term()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Expr::Or(parts)
        })
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Num(n) => n.to_string(),
        Tok::Date(_) | Tok::DateTime(_) => "date".into(),
        Tok::Op(o) => (*o).to_string(),
        Tok::Comma => ",".into(),
        Tok::Open => "(".into(),
        Tok::Close => ")".into(),
    }
}

/// Parses a query.
pub fn parse(q: &str) -> Result<Query, SoqlError> {
    let toks = tokenize(q)?;
    // SELECT list up to FROM.
    let mut p = Parser {
        q,
        toks,
        pos: 0,
        object: "",
        fields: &[],
    };
    p.expect_kw("SELECT")?;
    let select_start = p.pos;
    let mut from = None;
    for (i, (t, _)) in p.toks.iter().enumerate().skip(select_start) {
        if kw(t, "FROM") {
            from = Some(i);
            break;
        }
    }
    let Some(from) = from else {
        return Err(malformed(
            q,
            q.len(),
            "unexpected token: <EOF>, expecting FROM",
        ));
    };
    let obj_col = p.toks.get(from + 1).map_or(q.len(), |(_, c)| *c);
    let Some((Tok::Word(obj_name), _)) = p.toks.get(from + 1).cloned() else {
        return Err(malformed(q, obj_col, "expecting an object name after FROM"));
    };
    let (object, fields) = object(&obj_name).ok_or_else(|| SoqlError {
        code: "INVALID_TYPE",
        message: format!(
            "\n{q}\n{}^\nERROR at Row:1:Column:{}\nsObject type '{obj_name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
            " ".repeat(obj_col),
            obj_col + 1
        ),
    })?;
    p.object = object;
    p.fields = fields;
    let mut select = Vec::new();
    loop {
        select.push(p.sel()?);
        match p.peek() {
            Some(Tok::Comma) => p.pos += 1,
            Some(t) if kw(t, "FROM") => break,
            Some(t) => {
                let t = t.clone();
                return Err(p.err(&format!("unexpected token: '{}'", show(&t))));
            }
            None => return Err(p.err("expecting FROM")),
        }
    }
    p.pos = from + 2;
    let mut filter = None;
    if matches!(p.peek(), Some(t) if kw(t, "WHERE")) {
        p.pos += 1;
        filter = Some(p.expr()?);
    }
    let mut order = Vec::new();
    if matches!(p.peek(), Some(t) if kw(t, "ORDER")) {
        p.pos += 1;
        p.expect_kw("BY")?;
        loop {
            let sel = p.sel()?;
            let mut desc = false;
            if matches!(p.peek(), Some(t) if kw(t, "DESC")) {
                desc = true;
                p.pos += 1;
            } else if matches!(p.peek(), Some(t) if kw(t, "ASC")) {
                p.pos += 1;
            }
            let mut nulls_first = !desc;
            if matches!(p.peek(), Some(t) if kw(t, "NULLS")) {
                p.pos += 1;
                if matches!(p.peek(), Some(t) if kw(t, "FIRST")) {
                    nulls_first = true;
                } else if matches!(p.peek(), Some(t) if kw(t, "LAST")) {
                    nulls_first = false;
                } else {
                    return Err(p.err("expecting FIRST or LAST"));
                }
                p.pos += 1;
            }
            order.push(Order {
                sel,
                desc,
                nulls_first,
            });
            if p.peek() == Some(&Tok::Comma) {
                p.pos += 1;
            } else {
                break;
            }
        }
    }
    let mut limit = None;
    if matches!(p.peek(), Some(t) if kw(t, "LIMIT")) {
        p.pos += 1;
        match p.peek().cloned() {
            Some(Tok::Num(n)) if n >= 0.0 && n.fract() == 0.0 => {
                limit = Some(n as usize);
                p.pos += 1;
            }
            _ => return Err(p.err("expecting an integer after LIMIT")),
        }
    }
    if let Some(t) = p.peek().cloned() {
        return Err(p.err(&format!("unexpected token: '{}'", show(&t))));
    }
    Ok(Query {
        object,
        select,
        filter,
        order,
        limit,
    })
}

/// Date-times are stored at second precision.
fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn days(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

/// Compares a value with a literal (`None` when either is null or they do not compare).
fn compare(v: &Val<'_>, lit: &Lit) -> Option<Ordering> {
    match (v, lit) {
        (Val::Null, _) | (_, Lit::Null) => None,
        (Val::Str(a), Lit::Str(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        (Val::Num(a), Lit::Num(b)) => a.partial_cmp(b),
        (Val::Int(a), Lit::Num(b)) => (*a as f64).partial_cmp(b),
        (Val::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        (Val::DateTime(a), Lit::DateTime(b)) => Some(secs(*a).cmp(&secs(*b))),
        (Val::Date(a), Lit::Date(b)) => Some(days(*a).cmp(&days(*b))),
        _ => None,
    }
}

fn like(value: &str, pattern: &str) -> bool {
    fn go(v: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| go(&v[i..], rest)),
            Some(('_', rest)) => !v.is_empty() && go(&v[1..], rest),
            Some((c, rest)) => v.first().is_some_and(|x| x == c) && go(&v[1..], rest),
        }
    }
    let v: Vec<char> = value.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    go(&v, &p)
}

impl Expr {
    /// Whether a record matches.
    pub fn matches<'w>(&self, w: &'w World, rec: &Rec<'w>) -> bool {
        match self {
            Expr::And(parts) => parts.iter().all(|e| e.matches(w, rec)),
            Expr::Or(parts) => parts.iter().any(|e| e.matches(w, rec)),
            Expr::Not(e) => !e.matches(w, rec),
            Expr::Cmp(sel, op, lit) => {
                let v = sel.value(w, rec);
                match (op, lit, &v) {
                    (Op::Eq, Lit::Null, v) => *v == Val::Null,
                    (Op::Ne, Lit::Null, v) => *v != Val::Null,
                    _ => match compare(&v, lit) {
                        None => *op == Op::Ne && v != Val::Null,
                        Some(o) => match op {
                            Op::Eq => o == Ordering::Equal,
                            Op::Ne => o != Ordering::Equal,
                            Op::Lt => o == Ordering::Less,
                            Op::Le => o != Ordering::Greater,
                            Op::Gt => o == Ordering::Greater,
                            Op::Ge => o != Ordering::Less,
                        },
                    },
                }
            }
            Expr::In(sel, lits, negated) => {
                let v = sel.value(w, rec);
                let hit = lits.iter().any(|l| compare(&v, l) == Some(Ordering::Equal));
                hit != *negated
            }
            Expr::Like(sel, pattern) => match sel.value(w, rec) {
                Val::Str(s) => like(&s, pattern),
                _ => false,
            },
        }
    }
}

/// Orders two values of one field (nulls placed by the caller).
pub fn cmp_vals(a: &Val<'_>, b: &Val<'_>) -> Ordering {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => x.to_lowercase().cmp(&y.to_lowercase()).then(x.cmp(y)),
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        (Val::DateTime(x), Val::DateTime(y)) => secs(*x).cmp(&secs(*y)),
        (Val::Date(x), Val::Date(y)) => days(*x).cmp(&days(*y)),
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WorldConfig;
    use crate::salesforce::objects::{Key, record};

    #[test]
    fn parses_the_queries_connectors_send() {
        let q = parse(
            "SELECT Id, Name, Account.Website, SystemModstamp FROM Opportunity \
             WHERE SystemModstamp > 2024-05-01T00:00:00Z OR (SystemModstamp = 2024-05-01T00:00:00.000+00:00 AND Id > '0068W')\
             ORDER BY SystemModstamp ASC, Id ASC LIMIT 10",
        )
        .unwrap();
        assert_eq!(q.object, "Opportunity");
        assert_eq!(q.select.len(), 4);
        assert_eq!(q.select[2].rel, Some("Account"));
        assert_eq!(q.order.len(), 2);
        assert_eq!(q.limit, Some(10));
        assert!(matches!(q.filter, Some(Expr::Or(_))));
        let lower = parse("select id from lead where isdeleted = false").unwrap();
        assert_eq!(lower.object, "Lead");
    }

    #[test]
    fn errors_are_salesforce_shaped() {
        let e = parse("SELECT Id FROM Foo").unwrap_err();
        assert_eq!(e.code, "INVALID_TYPE");
        assert!(e.message.contains("sObject type 'Foo' is not supported"));
        let e = parse("SELECT Id, Foo FROM Lead").unwrap_err();
        assert_eq!(e.code, "INVALID_FIELD");
        assert!(
            e.message.contains("No such column 'Foo' on entity 'Lead'"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("ERROR at Row:1:Column:12"),
            "{}",
            e.message
        );
        let e =
            parse("SELECT Id FROM Lead WHERE SystemModstamp > '2024-05-01T00:00:00Z'").unwrap_err();
        assert_eq!(e.code, "INVALID_FIELD");
        assert!(
            e.message
                .contains("must be of type dateTime and should not be enclosed in quotes")
        );
        let e = parse("SELECT Id FROM Lead WHERE").unwrap_err();
        assert_eq!(e.code, "MALFORMED_QUERY");
        let e = parse("SELECT Id FROM Lead ORDER Id").unwrap_err();
        assert_eq!(e.code, "MALFORMED_QUERY");
    }

    #[test]
    fn evaluates_against_records() {
        let w = World::new(WorldConfig::default());
        let q = parse(
            "SELECT Id FROM Opportunity WHERE IsWon = true AND Amount > 1000 AND StageName IN ('Closed Won')",
        )
        .unwrap();
        let f = q.filter.unwrap();
        let won = (0..w.deals().len() as u64)
            .filter(|&i| f.matches(&w, &record(&w, "Opportunity", Key::Index(i)).unwrap()))
            .count();
        let want = w
            .deals()
            .iter()
            .filter(|d| d.stage == crate::world::DealStage::ClosedWon && d.amount_cents > 100_000)
            .count();
        assert_eq!(won, want);
        assert!(like("Acme Analytics", "acme%"));
        assert!(like("Acme", "_cme"));
        assert!(!like("Acme", "b%"));
    }
}
