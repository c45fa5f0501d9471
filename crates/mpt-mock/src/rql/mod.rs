//! The list query: RQL filters written in the query string, plus `limit`, `offset`, `order` and
//! `select`.
//!
//! Supported: `eq ne lt le gt ge like ilike in out` on `id`, `name`, `description`, `status`,
//! `account.id` and `lastAccessAt`; `and or not`; values bare or quoted (`'...'`, `"..."`),
//! `null()` for a missing value, `in(field,(a,b))` or `in(field,a,b)`; `*` as the `like` wildcard.
//! Several expressions in one query string are and-ed.
//!
//! Its modules: `filter` (the RQL parser and evaluator) and, here, the query string: paging,
//! `order` and `select`.

mod filter;

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;

pub use filter::{Cmp, Field, Filter, MAX_RQL_DEPTH};

use crate::problem::Problem;
use crate::store::Token;

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

/// Fields `select` may name (the platform's rule, shared with the facade's CLI).
pub use mpt_api::rules::SELECTABLE;

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
                q.filters.push(filter::filter(&decode(part)?)?);
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
}
