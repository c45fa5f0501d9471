//! RQL filters: the parser (depth-bounded), the compiled [`Filter`] and its evaluation on a token.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use crate::problem::Problem;
use crate::store::Token;

/// Fields a filter may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `id`
    Id,
    /// `name`
    Name,
    /// `description`
    Description,
    /// `status`
    Status,
    /// `account.id`
    AccountId,
    /// `lastAccessAt`
    LastAccessAt,
}

impl Field {
    fn parse(s: &str) -> Result<Field, Problem> {
        Ok(match s {
            "id" => Field::Id,
            "name" => Field::Name,
            "description" => Field::Description,
            "status" => Field::Status,
            "account.id" => Field::AccountId,
            "lastAccessAt" => Field::LastAccessAt,
            other => {
                return Err(Problem::query(
                    format!(
                        "Filtering on '{other}' is not supported; use id, name, description, status, account.id or lastAccessAt."
                    ),
                    &[other],
                ));
            }
        })
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
}

/// A compiled filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All must hold.
    And(Vec<Filter>),
    /// One must hold.
    Or(Vec<Filter>),
    /// Must not hold.
    Not(Box<Filter>),
    /// `field op value` (`None` is `null()`).
    Compare(Cmp, Field, Option<String>),
    /// `in` (or `out` when negated).
    In(Field, Vec<String>, bool),
    /// `like` / `ilike` (case-insensitive) with `*` wildcards.
    Like(Field, String, bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Call(String, Vec<Node>),
    Group(Vec<Node>),
    Value(String),
}

/// Deepest nesting of calls and groups a filter may have. Deeper filters are refused with 400
/// before anything recursive runs, so no query can exhaust the server's stack.
pub const MAX_RQL_DEPTH: usize = 32;

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Calls and groups open at `pos`.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> Problem {
        Problem::query(
            format!(
                "Invalid RQL at character {} of '{}': {message}",
                self.pos + 1,
                shortened(self.text)
            ),
            &[],
        )
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Opens one level of nesting, refusing to go deeper than [`MAX_RQL_DEPTH`].
    fn descend(&mut self) -> Result<(), Problem> {
        self.depth += 1;
        if self.depth > MAX_RQL_DEPTH {
            return Err(self.error(&format!(
                "the expression is nested more than {MAX_RQL_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    fn node(&mut self) -> Result<Node, Problem> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                self.descend()?;
                let items = self.list()?;
                self.depth -= 1;
                Ok(Node::Group(items))
            }
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                let start = self.pos;
                let Some(len) = self.text[start..].find(q) else {
                    return Err(self.error("unterminated quoted value"));
                };
                self.pos = start + len + 1;
                Ok(Node::Value(self.text[start..start + len].to_string()))
            }
            Some(_) => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if matches!(c, ',' | ')' | '(') {
                        break;
                    }
                    self.pos += c.len_utf8();
                }
                let word = self.text[start..self.pos].to_string();
                if self.eat('(') {
                    if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphabetic()) {
                        return Err(self.error("expected an operator name before '('"));
                    }
                    self.descend()?;
                    let args = self.list()?;
                    self.depth -= 1;
                    Ok(Node::Call(word, args))
                } else {
                    Ok(Node::Value(word))
                }
            }
            None => Err(self.error("unexpected end")),
        }
    }

    /// Items up to and including the closing `)`.
    fn list(&mut self) -> Result<Vec<Node>, Problem> {
        let mut items = Vec::new();
        if self.eat(')') {
            return Ok(items);
        }
        loop {
            items.push(self.node()?);
            if self.eat(')') {
                return Ok(items);
            }
            if !self.eat(',') {
                return Err(self.error("expected ',' or ')'"));
            }
        }
    }
}

/// Most characters of a query quoted back in a problem.
const QUOTED_CHARS: usize = 200;

fn shortened(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn parse(text: &str) -> Result<Node, Problem> {
    let mut p = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    let node = p.node()?;
    if p.pos != text.len() {
        return Err(p.error("unexpected text after the expression"));
    }
    Ok(node)
}

fn value(node: &Node) -> Result<Option<String>, Problem> {
    match node {
        Node::Value(v) => Ok(Some(v.clone())),
        Node::Call(name, args) if name == "null" && args.is_empty() => Ok(None),
        other => Err(Problem::query(
            format!("Expected a value, found {other:?}."),
            &[],
        )),
    }
}

fn compile(node: &Node) -> Result<Filter, Problem> {
    let Node::Call(op, args) = node else {
        return Err(Problem::query(
            format!("Expected an RQL operator, found {node:?}."),
            &[],
        ));
    };
    let field = |i: usize| -> Result<Field, Problem> {
        match args.get(i) {
            Some(Node::Value(f)) => Field::parse(f),
            _ => Err(Problem::query(
                format!("{op}() needs a field name first."),
                &[],
            )),
        }
    };
    let arity = |n: usize| -> Result<(), Problem> {
        if args.len() == n {
            Ok(())
        } else {
            Err(Problem::query(
                format!("{op}() takes {n} arguments, got {}.", args.len()),
                &[],
            ))
        }
    };
    Ok(match op.as_str() {
        "and" | "or" => {
            if args.is_empty() {
                return Err(Problem::query(
                    format!("{op}() needs at least one argument."),
                    &[],
                ));
            }
            let parts = args.iter().map(compile).collect::<Result<Vec<_>, _>>()?;
            if op == "and" {
                Filter::And(parts)
            } else {
                Filter::Or(parts)
            }
        }
        "not" => {
            arity(1)?;
            Filter::Not(Box::new(compile(&args[0])?))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(2)?;
            let cmp = match op.as_str() {
                "eq" => Cmp::Eq,
                "ne" => Cmp::Ne,
                "lt" => Cmp::Lt,
                "le" => Cmp::Le,
                "gt" => Cmp::Gt,
                _ => Cmp::Ge,
            };
            let f = field(0)?;
            let v = value(&args[1])?;
            if f == Field::LastAccessAt
                && let Some(text) = &v
                && text.parse::<DateTime<Utc>>().is_err()
            {
                return Err(Problem::query(
                    format!("'{text}' is not a date-time (RFC 3339) for lastAccessAt."),
                    &["lastAccessAt"],
                ));
            }
            Filter::Compare(cmp, f, v)
        }
        "like" | "ilike" => {
            arity(2)?;
            let pattern = value(&args[1])?
                .ok_or_else(|| Problem::query(format!("{op}() needs a pattern."), &[]))?;
            Filter::Like(field(0)?, pattern, op == "ilike")
        }
        "in" | "out" => {
            let f = field(0)?;
            let values: Vec<String> = match &args[1..] {
                [Node::Group(items)] => items.iter().map(value).collect::<Result<Vec<_>, _>>()?,
                rest => rest.iter().map(value).collect::<Result<Vec<_>, _>>()?,
            }
            .into_iter()
            .flatten()
            .collect();
            Filter::In(f, values, op == "out")
        }
        other => {
            return Err(Problem::query(
                format!(
                    "Unknown RQL operator '{other}'; use eq, ne, lt, le, gt, ge, like, ilike, in, out, and, or, not."
                ),
                &[],
            ));
        }
    })
}

fn field_value(token: &Token, field: Field) -> Option<String> {
    match field {
        Field::Id => Some(token.id.clone()),
        Field::Name => Some(token.name.clone()),
        Field::Description => token.description.clone(),
        Field::Status => Some(token.status.as_str().to_string()),
        Field::AccountId => Some(token.account_id.clone()),
        Field::LastAccessAt => token.last_access_at.map(|t| t.to_rfc3339()),
    }
}

fn compare(token: &Token, field: Field, other: &str) -> Option<Ordering> {
    if field == Field::LastAccessAt {
        let mine = token.last_access_at?;
        let theirs = other.parse::<DateTime<Utc>>().ok()?;
        return Some(mine.cmp(&theirs));
    }
    field_value(token, field).map(|v| v.as_str().cmp(other))
}

/// Glob match with `*` as "any run of characters".
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

impl Filter {
    /// Whether the filter asks for tokens in `status` by name (`eq(status,…)` or
    /// `in(status,(…))` holding it, anywhere but under `not`).
    pub fn names_status(&self, status: &str) -> bool {
        match self {
            Filter::And(parts) | Filter::Or(parts) => parts.iter().any(|f| f.names_status(status)),
            Filter::Compare(Cmp::Eq, Field::Status, Some(v)) => v == status,
            Filter::In(Field::Status, values, false) => values.iter().any(|v| v == status),
            _ => false,
        }
    }

    /// Whether `token` passes.
    pub fn matches(&self, token: &Token) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|f| f.matches(token)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(token)),
            Filter::Not(inner) => !inner.matches(token),
            Filter::Compare(cmp, field, None) => {
                let missing = field_value(token, *field).is_none();
                match cmp {
                    Cmp::Eq => missing,
                    Cmp::Ne => !missing,
                    _ => false,
                }
            }
            Filter::Compare(cmp, field, Some(v)) => {
                let Some(ord) = compare(token, *field, v) else {
                    return *cmp == Cmp::Ne;
                };
                match cmp {
                    Cmp::Eq => ord == Ordering::Equal,
                    Cmp::Ne => ord != Ordering::Equal,
                    Cmp::Lt => ord == Ordering::Less,
                    Cmp::Le => ord != Ordering::Greater,
                    Cmp::Gt => ord == Ordering::Greater,
                    Cmp::Ge => ord != Ordering::Less,
                }
            }
            Filter::In(field, values, negate) => {
                let found = field_value(token, *field).is_some_and(|v| values.contains(&v));
                found != *negate
            }
            Filter::Like(field, pattern, insensitive) => match field_value(token, *field) {
                Some(v) if *insensitive => glob(&pattern.to_lowercase(), &v.to_lowercase()),
                Some(v) => glob(pattern, &v),
                None => false,
            },
        }
    }
}

/// Parses and compiles one filter expression (already percent-decoded).
pub(super) fn filter(text: &str) -> Result<Filter, Problem> {
    compile(&parse(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_anywhere() {
        assert!(glob("*sync*", "nightly sync job"));
        assert!(glob("night*", "nightly"));
        assert!(!glob("*x*", "nightly"));
        assert!(glob("a*b*c", "a--b--c"));
        assert!(!glob("ab*ba", "aba"));
    }
}
