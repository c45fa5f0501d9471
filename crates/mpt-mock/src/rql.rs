//! The list query: RQL filters written in the query string, plus `limit`, `offset`, `order` and
//! `select`.
//!
//! Supported: `eq ne lt le gt ge like ilike in out` on `id`, `name`, `description`, `status`,
//! `account.id` and `lastAccessAt`; `and or not`; values bare or quoted (`'...'`, `"..."`),
//! `null()` for a missing value, `in(field,(a,b))` or `in(field,a,b)`; `*` as the `like` wildcard.
//! Several expressions in one query string are and-ed.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;

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

/// A sort key of `order`: every scalar field the spec's `order` pattern names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// `id`
    Id,
    /// `name`
    Name,
    /// `description`
    Description,
    /// `icon`
    Icon,
    /// `status`
    Status,
    /// `revision`
    Revision,
    /// `lastAccessAt`
    LastAccessAt,
    /// `account.id`
    AccountId,
    /// `account.name`
    AccountName,
    /// `audit.created.at`
    Created,
    /// `audit.updated.at`
    Updated,
}

impl SortKey {
    fn parse(name: &str) -> Option<SortKey> {
        Some(match name {
            "id" => SortKey::Id,
            "name" => SortKey::Name,
            "description" => SortKey::Description,
            "icon" => SortKey::Icon,
            "status" => SortKey::Status,
            "revision" => SortKey::Revision,
            "lastAccessAt" => SortKey::LastAccessAt,
            "account.id" => SortKey::AccountId,
            "account.name" => SortKey::AccountName,
            "audit.created.at" => SortKey::Created,
            "audit.updated.at" => SortKey::Updated,
            _ => return None,
        })
    }
}

/// A value to sort by; missing values sort first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Text(Option<String>),
    Number(i32),
    Time(Option<DateTime<Utc>>),
}

/// Fields `select` may name.
pub const SELECTABLE: [&str; 13] = [
    "id",
    "name",
    "description",
    "icon",
    "status",
    "revision",
    "lastAccessAt",
    "token",
    "account",
    "modules",
    "audit",
    "extensions",
    "$meta",
];

/// A parsed list query.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Page size (capped at 100); `Some(0)` asks for the count only.
    pub limit: Option<usize>,
    /// Items to skip.
    pub offset: usize,
    /// The and-ed filters.
    pub filters: Vec<Filter>,
    /// Sort keys with "descending" flags, in order.
    pub order: Vec<(SortKey, bool)>,
    /// `select`: fields to leave out of each item, and to put in.
    pub select: Select,
}

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest page size; larger `limit`s are capped.
pub const MAX_LIMIT: usize = 100;

fn decode(part: &str) -> Result<String, Problem> {
    percent_decode_str(&part.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            Problem::query(
                "The query string is not valid UTF-8 after percent-decoding.",
                &[],
            )
        })
}

/// A non-negative int32, as the spec declares `limit` and `offset`.
fn number(name: &str, value: &str) -> Result<usize, Problem> {
    value
        .parse::<i32>()
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            Problem::validation(&[(
                name,
                format!("The value '{value}' is not a valid non-negative integer."),
            )])
        })
}

/// What `select` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Select {
    /// `-field`: leave these out.
    pub omit: Vec<String>,
    /// `+field` or `field`: put these in (`audit` is left out unless asked for).
    pub add: Vec<String>,
}

impl Select {
    /// Whether the answer carries `audit` (only when asked for, as on the platform).
    pub fn audit(&self) -> bool {
        self.add.iter().any(|f| f == "audit") && !self.omit.iter().any(|f| f == "audit")
    }
}

/// Parses `select=+a,-b`: `-field` omits a field, `+field` and `field` ask for it.
pub fn parse_select(value: &str) -> Result<Select, Problem> {
    if value.trim().is_empty() {
        return Err(Problem::query(
            "select needs at least one field.",
            &["select"],
        ));
    }
    let mut select = Select::default();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (minus, name) = match item.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, item.strip_prefix('+').unwrap_or(item)),
        };
        if !SELECTABLE.contains(&name) {
            return Err(Problem::query(
                format!("Cannot select unknown field '{name}'."),
                &["select"],
            ));
        }
        let list = if minus {
            &mut select.omit
        } else {
            &mut select.add
        };
        if !list.iter().any(|o| o == name) {
            list.push(name.to_string());
        }
    }
    Ok(select)
}

fn parse_order(value: &str) -> Result<Vec<(SortKey, bool)>, Problem> {
    if value.trim().is_empty() {
        return Err(Problem::query(
            "order needs at least one field.",
            &["order"],
        ));
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (desc, name) = match item.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, item.strip_prefix('+').unwrap_or(item)),
            };
            let key = SortKey::parse(name).ok_or_else(|| {
                Problem::query(
                    format!("Cannot order by '{name}'; use id, name, description, icon, status, revision, lastAccessAt, account.id, account.name, audit.created.at or audit.updated.at."),
                    &["order"],
                )
            })?;
            Ok((key, desc))
        })
        .collect()
}

impl ListQuery {
    /// Parses a raw query string (without the `?`).
    pub fn parse(raw: Option<&str>) -> Result<ListQuery, Problem> {
        let mut q = ListQuery::default();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let is_rql = part
                .find('(')
                .is_some_and(|i| i > 0 && part[..i].chars().all(|c| c.is_ascii_alphabetic()));
            if is_rql {
                q.filters.push(compile(&parse(&decode(part)?)?)?);
                continue;
            }
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let value = decode(value)?;
            match decode(key)?.as_str() {
                "limit" => q.limit = Some(number("limit", &value)?.min(MAX_LIMIT)),
                "offset" => q.offset = number("offset", &value)?,
                "order" => q.order = parse_order(&value)?,
                "select" => q.select = parse_select(&value)?,
                other => {
                    return Err(Problem::query(
                        format!(
                            "Unsupported query parameter '{other}'; filters are RQL expressions such as eq(status,Active)."
                        ),
                        &[other],
                    ));
                }
            }
        }
        Ok(q)
    }

    /// The ids a filter limits the list to (`eq(id,…)` or `in(id,(…))` and-ed at the top), so
    /// the list can look them up by index instead of testing every token.
    pub fn named_ids(&self) -> Option<Vec<String>> {
        self.filters.iter().find_map(|f| match f {
            Filter::Compare(Cmp::Eq, Field::Id, Some(id)) => Some(vec![id.clone()]),
            Filter::In(Field::Id, ids, false) => Some(ids.clone()),
            Filter::And(parts) => parts.iter().find_map(|p| match p {
                Filter::Compare(Cmp::Eq, Field::Id, Some(id)) => Some(vec![id.clone()]),
                Filter::In(Field::Id, ids, false) => Some(ids.clone()),
                _ => None,
            }),
            _ => None,
        })
    }

    /// Whether a filter asks for Deleted tokens by status.
    pub fn asks_for_deleted(&self) -> bool {
        self.filters.iter().any(|f| f.names_status("Deleted"))
    }

    /// Whether `token` passes every filter.
    pub fn matches(&self, token: &Token) -> bool {
        self.filters.iter().all(|f| f.matches(token))
    }

    /// Sorts matched tokens (stable; creation order breaks ties). `account_name` looks up the
    /// name of an account id.
    pub fn sort(&self, tokens: &mut [&Token], account_name: impl Fn(&str) -> Option<String>) {
        if self.order.is_empty() {
            return;
        }
        let value = |t: &Token, key: SortKey| match key {
            SortKey::Id => SortValue::Text(Some(t.id.clone())),
            SortKey::Name => SortValue::Text(Some(t.name.clone())),
            SortKey::Description => SortValue::Text(t.description.clone()),
            SortKey::Icon => SortValue::Text(t.icon.clone()),
            SortKey::Status => SortValue::Text(Some(t.status.as_str().to_string())),
            SortKey::Revision => SortValue::Number(t.revision),
            SortKey::LastAccessAt => SortValue::Time(t.last_access_at),
            SortKey::AccountId => SortValue::Text(Some(t.account_id.clone())),
            SortKey::AccountName => SortValue::Text(account_name(&t.account_id)),
            SortKey::Created => SortValue::Time(Some(t.created.0)),
            SortKey::Updated => SortValue::Time(t.updated.as_ref().map(|u| u.0)),
        };
        tokens.sort_by(|a, b| {
            for (key, desc) in &self.order {
                let ord = value(a, *key).cmp(&value(b, *key));
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            a.seq.cmp(&b.seq)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_expressions_groups_quotes_and_null() {
        let q = ListQuery::parse(Some(
            "and(eq(status,Active),in(account.id,(ACC-1,ACC-2)),not(eq(lastAccessAt,null())))&like(name,'*a,b*')&limit=5&order=-name",
        ))
        .unwrap();
        assert_eq!(q.filters.len(), 2);
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.order, [(SortKey::Name, true)]);
        assert_eq!(
            q.filters[1],
            Filter::Like(Field::Name, "*a,b*".into(), false)
        );
    }

    #[test]
    fn malformed_and_unsupported_queries_are_problems() {
        for (raw, needle) in [
            ("eq(status,Active", "expected ',' or ')'"),
            ("eq(colour,red)", "Filtering on 'colour'"),
            ("frob(name,x)", "Unknown RQL operator 'frob'"),
            ("eq(name)", "eq() takes 2 arguments"),
            ("limit=ten", "not a valid non-negative integer"),
            ("offset=2147483648", "not a valid non-negative integer"),
            ("order=colour", "Cannot order by 'colour'"),
            ("select=-colour", "unknown field 'colour'"),
            ("select=", "select needs at least one field"),
            ("order=", "order needs at least one field"),
            ("colour=red", "Unsupported query parameter 'colour'"),
            ("gt(lastAccessAt,yesterday)", "not a date-time"),
        ] {
            let problem = ListQuery::parse(Some(raw)).unwrap_err();
            assert_eq!(problem.status, 400, "{raw}");
            assert!(
                problem.detail.contains(needle)
                    || problem
                        .errors
                        .as_ref()
                        .unwrap()
                        .to_string()
                        .contains(needle),
                "{raw}: {problem:?}"
            );
        }
    }

    #[test]
    fn limit_is_capped() {
        assert_eq!(
            ListQuery::parse(Some("limit=1000")).unwrap().limit,
            Some(MAX_LIMIT)
        );
    }

    #[test]
    fn glob_matches_stars_anywhere() {
        assert!(glob("*sync*", "nightly sync job"));
        assert!(glob("night*", "nightly"));
        assert!(!glob("*x*", "nightly"));
        assert!(glob("a*b*c", "a--b--c"));
        assert!(!glob("ab*ba", "aba"));
    }
}
