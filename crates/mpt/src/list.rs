//! Listing: RQL filters, ordering, `select`, and a lazy stream over the pages.

use chrono::{DateTime, SecondsFormat, Utc};
use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt, stream};
use mpt_api::types::ApiTokenListResponse;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::Method;

use crate::client::{Call, Client, decode};
use crate::error::Error;
use crate::token::{Token, TokenStatus};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter(String);

/// Quotes an RQL value: single quotes, or double quotes if it holds a single quote.
fn quote(value: &str) -> String {
    if value.contains('\'') {
        format!("\"{value}\"")
    } else {
        format!("'{value}'")
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Filter {
    fn cmp(op: &str, field: &str, value: &str) -> Filter {
        Filter(format!("{op}({field},{})", quote(value)))
    }

    /// `eq(status,<status>)`.
    pub fn status(status: TokenStatus) -> Filter {
        Filter::cmp("eq", "status", status.as_str())
    }

    /// `in(status,(...))`.
    pub fn status_in(statuses: impl IntoIterator<Item = TokenStatus>) -> Filter {
        let values: Vec<String> = statuses.into_iter().map(|s| quote(s.as_str())).collect();
        Filter(format!("in(status,({}))", values.join(",")))
    }

    /// `eq(id,<id>)`.
    pub fn id(id: &str) -> Filter {
        Filter::cmp("eq", "id", id)
    }

    /// `eq(name,<name>)`.
    pub fn name(name: &str) -> Filter {
        Filter::cmp("eq", "name", name)
    }

    /// `ilike(name,<pattern>)`: case-insensitive, `*` matches any run of characters.
    pub fn name_like(pattern: &str) -> Filter {
        Filter::cmp("ilike", "name", pattern)
    }

    /// `eq(account.id,<id>)`.
    pub fn account(account_id: &str) -> Filter {
        Filter::cmp("eq", "account.id", account_id)
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
        Filter("eq(lastAccessAt,null())".into())
    }

    /// `and(self,other)`.
    pub fn and(self, other: Filter) -> Filter {
        Filter::all([self, other])
    }

    /// `or(self,other)`.
    pub fn or(self, other: Filter) -> Filter {
        Filter::any([self, other])
    }

    /// `not(self)`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Filter {
        Filter(format!("not({})", self.0))
    }

    /// `and(...)` of all of them.
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::join("and", filters)
    }

    /// `or(...)` of all of them.
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Filter {
        Filter::join("or", filters)
    }

    fn join(op: &str, filters: impl IntoIterator<Item = Filter>) -> Filter {
        let parts: Vec<String> = filters.into_iter().map(|f| f.0).collect();
        if parts.len() == 1 {
            return Filter(parts.into_iter().next().unwrap_or_default());
        }
        Filter(format!("{op}({})", parts.join(",")))
    }

    /// An RQL expression written by hand, sent as it is.
    pub fn raw(rql: impl Into<String>) -> Filter {
        Filter(rql.into())
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Fields a list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SortField {
    /// `name`
    Name,
    /// `status`
    Status,
    /// `lastAccessAt`
    LastAccessAt,
    /// `audit.created.at`
    Created,
    /// `audit.updated.at`
    Updated,
    /// `id`
    Id,
}

impl SortField {
    fn path(self) -> &'static str {
        match self {
            SortField::Name => "name",
            SortField::Status => "status",
            SortField::LastAccessAt => "lastAccessAt",
            SortField::Created => "audit.created.at",
            SortField::Updated => "audit.updated.at",
            SortField::Id => "id",
        }
    }
}

/// The largest page the platform serves.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A list query; [`ListRequest::stream`] pages through the results lazily.
#[derive(Debug, Clone)]
pub struct ListRequest {
    client: Client,
    filter: Option<Filter>,
    order: Vec<String>,
    select: Vec<String>,
    page_size: u32,
}

impl ListRequest {
    pub(crate) fn new(client: Client) -> ListRequest {
        ListRequest {
            client,
            filter: None,
            order: Vec::new(),
            select: Vec::new(),
            page_size: MAX_PAGE_SIZE,
        }
    }

    /// Only tokens matching `filter` (and-ed with an earlier one).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(previous) => previous.and(filter),
            None => filter,
        });
        self
    }

    /// Order by `field`, ascending; call again for tie-breakers.
    pub fn order_by(mut self, field: SortField) -> Self {
        self.order.push(field.path().to_string());
        self
    }

    /// Order by `field`, descending.
    pub fn order_by_desc(mut self, field: SortField) -> Self {
        self.order.push(format!("-{}", field.path()));
        self
    }

    /// `select` items such as `-audit` or `+modules`.
    pub fn select<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.select.extend(fields.into_iter().map(Into::into));
        self
    }

    /// Tokens per page, 1 to 100 (default 100).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    fn query(&self, limit: u32, offset: u64) -> String {
        let mut q = format!("limit={limit}&offset={offset}");
        if !self.order.is_empty() {
            q.push_str("&order=");
            q.push_str(&encode(&self.order.join(",")));
        }
        if !self.select.is_empty() {
            q.push_str("&select=");
            q.push_str(&encode(&self.select.join(",")));
        }
        if let Some(filter) = &self.filter {
            q.push('&');
            q.push_str(&encode(&filter.0));
        }
        q
    }

    async fn page(&self, limit: u32, offset: u64) -> Result<ApiTokenListResponse, Error> {
        let call = Call {
            op: "list_api_tokens",
            method: Method::GET,
            path: String::new(),
            query: self.query(limit, offset),
            body: None,
            token_id: None,
            idempotent: true,
        };
        let (status, body) = self.client.execute(call).await?;
        decode(status, &body)
    }

    /// How many tokens match (one request with `limit=0`).
    pub async fn count(&self) -> Result<u64, Error> {
        let page = self.page(0, 0).await?;
        let total = page.meta.and_then(|m| m.pagination).and_then(|p| p.total);
        total
            .and_then(|t| u64::try_from(t).ok())
            .ok_or_else(|| Error::Decode {
                status: 200,
                message: "the count answer has no $meta.pagination.total".into(),
                snippet: String::new(),
            })
    }

    /// Every matching token, fetched a page at a time as the stream is read (one page in
    /// memory). Stops after the last page; an error ends the stream after being yielded.
    pub fn stream(self) -> impl Stream<Item = Result<Token, Error>> + Send + 'static {
        stream::try_unfold((self, 0u64, false), |(req, offset, done)| async move {
            if done {
                return Ok(None);
            }
            let page = req.page(req.page_size, offset).await?;
            let count = page.data.len() as u64;
            let total = page
                .meta
                .as_ref()
                .and_then(|m| m.pagination.as_ref())
                .and_then(|p| p.total);
            let next = offset + count;
            let finished = count == 0
                || count < u64::from(req.page_size)
                || total.is_some_and(|t| next >= u64::try_from(t).unwrap_or(0));
            let tokens: Vec<Result<Token, Error>> = page
                .data
                .into_iter()
                .map(|t| Ok(Token::from_api(t)))
                .collect();
            Ok(Some((stream::iter(tokens), (req, next, finished))))
        })
        .try_flatten()
        .boxed()
    }

    /// Every matching token, collected.
    pub async fn collect(self) -> Result<Vec<Token>, Error> {
        self.stream().try_collect().await
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
}
