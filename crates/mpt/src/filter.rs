//! RQL filters: built from typed parts, each value quoted as RQL allows, refused before sending
//! when RQL cannot express it.

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::error::Error;
use crate::name_match::Exact;
use crate::status::TokenStatus;

/// Characters escaped in query values (RQL keeps its `( ) , * '` readable).
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'/')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

pub(crate) fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY).to_string()
}

/// An RQL filter, built from typed parts so values are always quoted correctly.
///
/// ```
/// use mpt::{Filter, TokenStatus};
/// let f = Filter::status(TokenStatus::Active).and(Filter::account("ACC-1234-5678"));
/// assert_eq!(f.to_string(), "and(eq(status,'Active'),eq(account.id,'ACC-1234-5678'))");
/// ```
///
/// RQL quotes a value in `'...'` or `"..."` and has no escape, so a value holding both kinds of
/// quote cannot be written in RQL. A *name* holding both (`It's a "quoted" job`, which the
/// platform accepts) still works with [`Filter::name`] and [`Filter::name_like`]: the platform
/// is asked for a `like`/`ilike` pattern with `*` where each `'` stands (a superset), and each
/// token of the answer is compared with the name or pattern on the client. Such a filter can be
/// combined with others by [`Filter::and`] / [`Filter::all`] (and [`ListRequest::filter`]);
/// under [`Filter::or`], [`Filter::any`] or [`Filter::not`] the client could not tell which
/// tokens to drop, so that combination is *invalid*, as is any other value holding both quotes
/// (an id, an account, a status) and an empty [`Filter::any`] (it would match nothing). A list
/// using an invalid filter fails with [`Error::InvalidRequest`] before any request is sent. An
/// empty [`Filter::all`] matches every token and adds nothing to the query.
///
/// ```
/// use mpt::Filter;
/// let f = Filter::name(r#"It's a "quoted" job"#);
/// assert_eq!(f.to_string(), r#"like(name,'It*s a "quoted" job')"#);
/// assert!(f.clone().not().to_rql().is_err());
/// ```
///
/// [`ListRequest::filter`]: crate::ListRequest::filter
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    rql: Rql,
    /// Checks made on the client, all of which a token must pass: the parts RQL cannot write.
    exact: Vec<Exact>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rql {
    /// Matches every token: no filter at all.
    Everything,
    /// An expression, sent as it is.
    Expr(String),
    /// Cannot be expressed in RQL; why.
    Invalid(String),
}

/// A value RQL cannot quote: it holds both `'` and `"`.
#[derive(Debug, thiserror::Error)]
#[error("the value {0:?} holds both ' and \", which an RQL value cannot quote")]
struct Unquotable(String);

/// Quotes an RQL value: single quotes, or double quotes if it holds a single quote; a value
/// holding both cannot be quoted.
fn quote(value: &str) -> Result<String, Unquotable> {
    let mut quoted = String::with_capacity(value.len() + 2);
    push_quoted(&mut quoted, value)?;
    Ok(quoted)
}

/// Appends `value` in the quotes RQL can use for it: `'` unless it holds one, else `"`.
fn push_quoted(out: &mut String, value: &str) -> Result<(), Unquotable> {
    let mark = match (value.contains('\''), value.contains('"')) {
        (false, _) => '\'',
        (true, false) => '"',
        (true, true) => return Err(Unquotable(value.to_string())),
    };
    out.push(mark);
    out.push_str(value);
    out.push(mark);
    Ok(())
}

/// Why a part checked on the client cannot stand under `or` or `not`.
const UNDER_OR_NOT: &str = "{op}() of a name holding both ' and \" cannot be sent: RQL cannot quote such a name, so it is matched on the client, which works only in and()";

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Filter {
    fn of(rql: Rql) -> Filter {
        Filter {
            rql,
            exact: Vec::new(),
        }
    }

    fn cmp(op: &str, field: &str, value: &str) -> Filter {
        match quote(value) {
            Ok(quoted) => Filter::of(Rql::Expr(format!("{op}({field},{quoted})"))),
            Err(why) => Filter::of(Rql::Invalid(format!("{op}({field},...): {why}"))),
        }
    }

    /// A name filter for a value RQL cannot quote (it holds both `'` and `"`): the platform is
    /// asked for `<op>(name,'<value, each ' as *>')`, a superset, and `exact` decides on the
    /// client.
    fn name_by_pattern(op: &str, value: &str, exact: Exact) -> Filter {
        let pattern = value.replace('\'', "*");
        Filter {
            rql: Rql::Expr(format!("{op}(name,'{pattern}')")),
            exact: vec![exact],
        }
    }

    /// Whether a token of the platform's answer passes the checks made on the client (always,
    /// for a filter RQL could write whole).
    pub(crate) fn passes(&self, name: Option<&str>) -> bool {
        self.exact.iter().all(|e| e.passes(name))
    }

    /// Whether tokens of the answer may be dropped on the client (so a count must be counted).
    pub(crate) fn checks_on_client(&self) -> bool {
        !self.exact.is_empty()
    }

    /// `eq(status,<status>)`.
    pub fn status(status: TokenStatus) -> Filter {
        Filter::cmp("eq", "status", status.as_str())
    }

    /// `in(<field>,(...))`; with no values, an invalid filter (it would match nothing).
    fn within<'v>(field: &str, made_by: &str, values: impl Iterator<Item = &'v str>) -> Filter {
        // One string, written in place: bulk reads build this for 100 ids at a time.
        let mut expr = format!("in({field},(");
        let mut any = false;
        for value in values {
            if any {
                expr.push(',');
            }
            any = true;
            if let Err(why) = push_quoted(&mut expr, value) {
                return Filter::of(Rql::Invalid(format!("in({field},...): {why}")));
            }
        }
        if !any {
            return Filter::of(Rql::Invalid(format!(
                "{made_by}() of nothing matches nothing, which RQL cannot express"
            )));
        }
        expr.push_str("))");
        Filter::of(Rql::Expr(expr))
    }

    /// `in(status,(...))`; with no statuses, an invalid filter (it would match nothing).
    pub fn status_in(statuses: impl IntoIterator<Item = TokenStatus>) -> Filter {
        let statuses: Vec<TokenStatus> = statuses.into_iter().collect();
        Filter::within(
            "status",
            "status_in",
            statuses.iter().map(TokenStatus::as_str),
        )
    }

    /// `eq(id,<id>)`.
    pub fn id(id: impl AsRef<str>) -> Filter {
        Filter::cmp("eq", "id", id.as_ref())
    }

    /// `in(id,(...))`; with no ids, an invalid filter (it would match nothing).
    pub fn id_in<I: IntoIterator<Item = S>, S: AsRef<str>>(ids: I) -> Filter {
        let ids: Vec<S> = ids.into_iter().collect();
        Filter::within("id", "id_in", ids.iter().map(AsRef::as_ref))
    }

    /// `eq(name,<name>)`. A name holding both `'` and `"` is asked for as a `like` pattern and
    /// compared exactly on the client (see [`Filter`]).
    pub fn name(name: impl AsRef<str>) -> Filter {
        let name = name.as_ref();
        if quote(name).is_ok() {
            Filter::cmp("eq", "name", name)
        } else {
            Filter::name_by_pattern("like", name, Exact::Name(name.to_string()))
        }
    }

    /// `ilike(name,<pattern>)`: case-insensitive, `*` matches any run of characters. A pattern
    /// holding both `'` and `"` is asked for with `*` for each `'` and matched on the client
    /// (see [`Filter`]).
    pub fn name_like(pattern: impl AsRef<str>) -> Filter {
        let pattern = pattern.as_ref();
        if quote(pattern).is_ok() {
            Filter::cmp("ilike", "name", pattern)
        } else {
            Filter::name_by_pattern("ilike", pattern, Exact::NameLike(pattern.to_string()))
        }
    }

    /// `eq(account.id,<id>)`.
    pub fn account(account_id: impl AsRef<str>) -> Filter {
        Filter::cmp("eq", "account.id", account_id.as_ref())
    }

    /// `lt(lastAccessAt,<at>)`: last used before `at` (never-used tokens do not match).
    pub fn last_access_before(at: DateTime<Utc>) -> Filter {
        Filter::cmp("lt", "lastAccessAt", &time(at))
    }

    /// `ge(lastAccessAt,<at>)`: used at or after `at`.
    pub fn last_access_since(at: DateTime<Utc>) -> Filter {
        Filter::cmp("ge", "lastAccessAt", &time(at))
    }

    /// `eq(lastAccessAt,null())`: never used.
    pub fn never_used() -> Filter {
        Filter::of(Rql::Expr("eq(lastAccessAt,null())".into()))
    }

    /// `and(self,other)`.
    pub fn and(self, other: Filter) -> Filter {
        Filter::all([self, other])
    }

    /// `or(self,other)`.
    pub fn or(self, other: Filter) -> Filter {
        Filter::any([self, other])
    }

    /// `not(self)`. The negation of a filter matching everything matches nothing, which RQL
    /// cannot express: it is invalid; so is the negation of a filter checked on the client.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Filter {
        if self.checks_on_client() {
            return Filter::of(Rql::Invalid(UNDER_OR_NOT.replace("{op}", "not")));
        }
        Filter::of(match self.rql {
            Rql::Expr(e) => Rql::Expr(format!("not({e})")),
            Rql::Everything => {
                Rql::Invalid("not() of a filter that matches everything matches nothing".into())
            }
            invalid => invalid,
        })
    }

    /// `and(...)` of all of them. With none, it matches every token (no filter is sent).
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Filter {
        let mut parts = Vec::new();
        let mut exact = Vec::new();
        for f in filters {
            match f.rql {
                Rql::Everything => {}
                Rql::Expr(e) => parts.push(e),
                invalid => return Filter::of(invalid),
            }
            exact.extend(f.exact);
        }
        let mut joined = Filter::join("and", parts).unwrap_or(Filter::of(Rql::Everything));
        joined.exact = exact;
        joined
    }

    /// `or(...)` of all of them. With none, it would match nothing, which RQL cannot express:
    /// the filter is invalid; so is one with a part checked on the client.
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Filter {
        let mut parts = Vec::new();
        let mut everything = false;
        for f in filters {
            if f.checks_on_client() {
                return Filter::of(Rql::Invalid(UNDER_OR_NOT.replace("{op}", "or")));
            }
            match f.rql {
                Rql::Everything => everything = true,
                Rql::Expr(e) => parts.push(e),
                invalid => return Filter::of(invalid),
            }
        }
        if everything {
            return Filter::of(Rql::Everything);
        }
        Filter::join("or", parts).unwrap_or_else(|| {
            Filter::of(Rql::Invalid(
                "any() of no filters matches nothing, which RQL cannot express".into(),
            ))
        })
    }

    fn join(op: &str, mut parts: Vec<String>) -> Option<Filter> {
        match parts.len() {
            0 => None,
            1 => parts.pop().map(|e| Filter::of(Rql::Expr(e))),
            _ => Some(Filter::of(Rql::Expr(format!("{op}({})", parts.join(","))))),
        }
    }

    /// An RQL expression written by hand, sent as it is (an empty one matches everything).
    pub fn raw(rql: impl Into<String>) -> Filter {
        let rql = rql.into();
        Filter::of(if rql.trim().is_empty() {
            Rql::Everything
        } else {
            Rql::Expr(rql)
        })
    }

    /// The RQL expression to send: `None` when the filter matches every token, an
    /// [`Error::InvalidRequest`] when it cannot be expressed.
    /// A filter with a part checked on the client sends its superset pattern here.
    pub fn to_rql(&self) -> Result<Option<&str>, Error> {
        match &self.rql {
            Rql::Everything => Ok(None),
            Rql::Expr(e) => Ok(Some(e)),
            Rql::Invalid(why) => Err(Error::InvalidRequest(format!("filter: {why}"))),
        }
    }
}

impl std::fmt::Display for Filter {
    /// The RQL expression; empty for a filter matching everything, and `<invalid filter: why>`
    /// for one RQL cannot express.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rql {
            Rql::Everything => Ok(()),
            Rql::Expr(e) => f.write_str(e),
            Rql::Invalid(why) => write!(f, "<invalid filter: {why}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_render_rql_with_quoted_values() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let f = Filter::all([
            Filter::status(TokenStatus::Active),
            Filter::last_access_before(at).or(Filter::never_used()),
            Filter::name("it's").not(),
        ]);
        assert_eq!(
            f.to_string(),
            "and(eq(status,'Active'),or(lt(lastAccessAt,'2026-01-02T03:04:05.000Z'),eq(lastAccessAt,null())),not(eq(name,\"it's\")))"
        );
        assert_eq!(
            Filter::status_in([TokenStatus::Active, TokenStatus::Disabled]).to_string(),
            "in(status,('Active','Disabled'))"
        );
        assert_eq!(encode("eq(name,'a b&c')"), "eq(name,'a%20b%26c')");
    }

    #[test]
    fn values_rql_cannot_quote_and_empty_combinations_are_handled() {
        // Both quotes: no quoting keeps it inside its string, so the filter is refused.
        let f = Filter::id("x'\"),or(ne(name,\"");
        let err = f.to_rql().unwrap_err();
        assert!(err.to_string().contains("holds both"), "{err}");
        assert!(
            Filter::status(TokenStatus::Active)
                .and(f.clone())
                .to_rql()
                .is_err()
        );
        assert!(f.clone().or(Filter::never_used()).to_rql().is_err());
        assert!(f.not().to_rql().is_err());
        // One kind of quote is fine.
        assert_eq!(Filter::name("it's").to_string(), "eq(name,\"it's\")");
        assert_eq!(
            Filter::name("say \"hi\"").to_string(),
            "eq(name,'say \"hi\"')"
        );
        // and() of nothing matches everything; or() of nothing is refused.
        assert_eq!(Filter::all([]).to_rql().unwrap(), None);
        assert_eq!(
            Filter::all([]).and(Filter::id("TKN-1")).to_string(),
            "eq(id,'TKN-1')"
        );
        assert!(Filter::any([]).to_rql().is_err());
        assert!(Filter::all([]).not().to_rql().is_err());
        assert_eq!(
            Filter::any([Filter::all([]), Filter::id("a")])
                .to_rql()
                .unwrap(),
            None
        );
        assert!(Filter::status_in([]).to_rql().is_err());
        assert!(Filter::id_in([] as [&str; 0]).to_rql().is_err());
        assert_eq!(
            Filter::id_in(["TKN-1", "it's", "say \"hi\""]).to_string(),
            "in(id,('TKN-1',\"it's\",'say \"hi\"'))"
        );
        let err = Filter::id_in(["TKN-1", "x'\""]).to_rql().unwrap_err();
        assert!(err.to_string().contains("in(id,...)"), "{err}");
    }

    #[test]
    fn names_rql_cannot_quote_are_asked_as_patterns_and_checked_on_the_client() {
        let name = "x'\"),or(ne(name,\"";
        let f = Filter::account("ACC-1").and(Filter::name(name));
        // The quote RQL cannot write becomes a wildcard: nothing leaves the quoted value.
        assert_eq!(
            f.to_rql().unwrap(),
            Some("and(eq(account.id,'ACC-1'),like(name,'x*\"),or(ne(name,\"'))")
        );
        assert!(f.passes(Some(name)));
        assert!(!f.passes(Some("x\"\"),or(ne(name,\"")));
        assert!(!f.passes(None));
        assert!(f.checks_on_client());
        assert!(!Filter::name("plain").checks_on_client());
        // Under or/not the client could not tell which tokens to drop.
        for bad in [
            f.clone().not(),
            f.clone().or(Filter::never_used()),
            Filter::never_used().or(f.clone()),
        ] {
            let err = bad.to_rql().unwrap_err().to_string();
            assert!(err.contains("matched on the client"), "{err}");
        }
        // Patterns: ilike with the same substitution, matched case-insensitively.
        let like = Filter::name_like("IT'S A \"Q*");
        assert_eq!(like.to_string(), "ilike(name,'IT*S A \"Q*')");
        assert!(like.passes(Some("it's a \"quoted\" job")));
        assert!(!like.passes(Some("its a \"quoted\" job")));
    }
}
