//! Listing: ordering, `select`, and a lazy stream over the pages (the filters are in `filter`).

use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt, stream};
use mpt_api::types::ApiTokenListResponse;

use crate::client::Client;
use crate::error::Error;
use crate::filter::{Filter, encode};
use crate::hooks::CallState;
use crate::token::Token;

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
    secrets: bool,
    /// Where to put the server's time (`Date`) of the first page, when asked.
    server_time: Option<ServerTime>,
}

/// Where [`ListRequest::record_server_time`] puts the server's time (its `Date`) of a
/// listing's first answer.
pub type ServerTime = std::sync::Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>;

impl ListRequest {
    pub(crate) fn new(client: Client) -> ListRequest {
        ListRequest {
            client,
            filter: None,
            order: Vec::new(),
            select: Vec::new(),
            page_size: MAX_PAGE_SIZE,
            secrets: false,
            server_time: None,
        }
    }

    /// Also read each token's `audit` (its creation and last change: [`Token::created_at`],
    /// [`Token::updated_at`]), which the platform leaves out of a listing unless asked
    /// (`select=+audit`).
    pub fn with_audit(self) -> Self {
        self.select(["+audit"])
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

    /// Ask the platform for each token's secret too (left out by default: every read would
    /// otherwise carry live credentials); [`Token::secret`] then holds it.
    pub fn with_secrets(mut self) -> Self {
        self.secrets = true;
        self
    }

    /// `select` items such as `-audit` or `+modules`.
    pub fn select<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.select.extend(fields.into_iter().map(Into::into));
        self
    }

    /// Tokens per page, 1 to [`MAX_PAGE_SIZE`] (default 100). Another size fails the list with
    /// [`Error::InvalidRequest`] before anything is sent.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// Puts the server's time of the first page's answer (its `Date`, whole seconds) into
    /// `into`, for judging ages by the platform's clock, not the client's.
    pub fn record_server_time(mut self, into: ServerTime) -> Self {
        self.server_time = Some(into);
        self
    }

    async fn page(&self, limit: u32, offset: u64) -> Result<ApiTokenListResponse, Error> {
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Error::InvalidRequest(format!(
                "page_size: 1 to {MAX_PAGE_SIZE}, not {}",
                self.page_size
            )));
        }
        let rql = match &self.filter {
            Some(filter) => filter.to_rql()?.map(encode),
            None => None,
        };
        let mut request = self
            .client
            .api()
            .list_api_tokens()
            .limit(limit)
            .offset(offset);
        if !self.order.is_empty() {
            request = request.order(self.order.join(","));
        }
        let select = if self.secrets {
            self.select.clone()
        } else {
            without_secret(self.select.clone())
        };
        if !select.is_empty() {
            request = request.select(select.join(","));
        }
        let dated = self.server_time.as_ref().filter(|_| offset == 0);
        let call = CallState::list(rql).dated(dated.is_some());
        let (page, trail) = self
            .client
            .send_with_trail(call, Box::pin(request.send()))
            .await;
        if let (Some(into), Some(date)) = (dated, trail.date)
            && let Ok(mut slot) = into.lock()
        {
            *slot = Some(date);
        }
        page.map(|page| *page)
    }

    /// How many tokens match: one request with `limit=0`, or, for a filter with a part checked
    /// on the client (a name holding both quotes: see [`Filter`]), a listing counted here.
    pub async fn count(&self) -> Result<u64, Error> {
        if self.filter.as_ref().is_some_and(Filter::checks_on_client) {
            let listing = self.clone().select(["-audit"]).stream();
            return listing
                .try_fold(0u64, |n, _| async move { Ok(n + 1) })
                .await;
        }
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
    /// memory). Stops after the last page; an error ends the stream after being yielded. The
    /// stream is `Unpin`: read it with `next()` or `try_next()` from [`crate::prelude`].
    ///
    /// ```no_run
    /// use mpt::prelude::*;
    /// # async fn demo(client: mpt::Client) -> Result<(), mpt::Error> {
    /// let mut tokens = client.list().stream();
    /// while let Some(token) = tokens.try_next().await? {
    ///     println!("{} {:?}", token.id(), token.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> impl Stream<Item = Result<Token, Error>> + Send + Unpin + 'static {
        stream::try_unfold((self, 0u64, false), |(req, offset, done)| async move {
            if done {
                return Ok::<_, Error>(None);
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
            let secrets = req.secrets;
            // The parts of the filter RQL cannot write are checked here. The page's tokens are
            // converted as the stream is read: collecting them first moved the page once more
            // (`cargo xtask bench --instructions`, bulk).
            let exact = req
                .filter
                .as_ref()
                .filter(|f| f.checks_on_client())
                .cloned();
            let tokens = page
                .data
                .into_iter()
                .filter(move |t| exact.as_ref().is_none_or(|f| f.passes(t.name.as_deref())))
                .map(move |t| {
                    let token = Token::from_api(t);
                    Ok(if secrets {
                        token
                    } else {
                        token.without_secret()
                    })
                });
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

/// Whether `select` items ask for the secret.
pub(crate) fn wants_secret(fields: &[String]) -> bool {
    fields.iter().any(|f| f == "token" || f == "+token") && !fields.iter().any(|f| f == "-token")
}

/// `select` items with `-token` added, unless they ask for the secret.
pub(crate) fn without_secret(mut fields: Vec<String>) -> Vec<String> {
    if !wants_secret(&fields) && !fields.iter().any(|f| f == "-token") {
        fields.push("-token".into());
    }
    fields
}
