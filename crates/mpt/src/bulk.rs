//! Bulk work: a result per id, bounded concurrency, states read 100 at a time, and scheduling
//! that stops when the client's [`Cancel`](crate::Cancel) flag is set.

use std::collections::HashMap;

use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::client::Client;
use crate::error::Error;
use crate::filter::Filter;
use crate::lifecycle::Switch;
use crate::outcome::Outcome;
use crate::status::TokenStatus;
use crate::token::{Token, TokenRef};

mod window;
use window::Window;

impl Client {
    /// Makes sure each token is Active ([`Client::ensure_active`]), `concurrency` at a time; one
    /// result per token, in the given order. Takes ids or tokens (`&str`, `String`, `Token`,
    /// `&Token`, ...). The states are read first, up to 100 tokens with one list request (a
    /// token the list does not show is read on its own); a change is sent only for tokens not
    /// in the wanted state yet.
    pub async fn ensure_active_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.ensure_many(tokens, concurrency, Switch::Enable).await
    }

    /// Makes sure each token is Disabled ([`Client::ensure_disabled`]); see
    /// [`Client::ensure_active_many`].
    pub async fn ensure_disabled_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.ensure_many(tokens, concurrency, Switch::Disable).await
    }

    async fn ensure_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
        switch: Switch,
    ) -> BulkReport<Outcome> {
        let ids: Vec<String> = tokens
            .into_iter()
            .map(|t| t.token_id().to_string())
            .collect();
        let results = self
            .ensure_stream(stream::iter(ids), concurrency, switch)
            .collect()
            .await;
        BulkReport::in_order(results)
    }

    /// Makes sure each token of `ids` is Active, like [`Client::ensure_active_many`], but takes
    /// the ids as a stream (a channel fed while the work runs, a file read line by line) and
    /// yields each result as it finishes: `(n, id, result)`, `n` numbering the ids from 0 in
    /// the order they came. One sliding window of reads and changes runs across all the ids
    /// (no barrier per 100), and no more than about `concurrency + 200` ids are held at once,
    /// however many the stream gives. Once the client's [`Cancel`](crate::Cancel) flag is set,
    /// nothing more is sent and no more ids are taken from the stream; the reads under way are
    /// given up, and each id taken whose change was not sent ends at once (not when the changes
    /// in flight end): [`Outcome::Unchanged`] when a served read showed it in the wanted
    /// state, else [`Error::Cancelled`]. Only the ids whose change is in flight are left.
    pub fn ensure_active_stream<'a, St>(
        &'a self,
        ids: St,
        concurrency: usize,
    ) -> impl Stream<Item = (usize, String, Result<Outcome, Error>)> + Send + 'a
    where
        St: Stream<Item = String> + Send + 'a,
    {
        self.ensure_stream(ids, concurrency, Switch::Enable)
    }

    /// Makes sure each token of `ids` is Disabled; see [`Client::ensure_active_stream`].
    pub fn ensure_disabled_stream<'a, St>(
        &'a self,
        ids: St,
        concurrency: usize,
    ) -> impl Stream<Item = (usize, String, Result<Outcome, Error>)> + Send + 'a
    where
        St: Stream<Item = String> + Send + 'a,
    {
        self.ensure_stream(ids, concurrency, Switch::Disable)
    }

    fn ensure_stream<'a, St>(
        &'a self,
        ids: St,
        concurrency: usize,
        switch: Switch,
    ) -> impl Stream<Item = (usize, String, Result<Outcome, Error>)> + Send + 'a
    where
        St: Stream<Item = String> + Send + 'a,
    {
        let client = self.in_job(concurrency);
        let ids = until_cancelled(ids, client.cancel.clone());
        let window = Window::new(Box::pin(ids), concurrency);
        stream::unfold(window, move |mut w| {
            let client = client.clone();
            async move {
                let done = w.next(&client, switch).await?;
                Some((done, w))
            }
        })
    }
    /// The states of one chunk of ids, read with one list request (none once cancelled).
    async fn read_states(&self, chunk: &[String]) -> HashMap<String, Token> {
        if self.cancelled() {
            return HashMap::new();
        }
        self.states_of(chunk).await
    }

    /// The current states of these tokens, read with one list request; empty when that fails
    /// (each token is then read on its own).
    async fn states_of(&self, ids: &[String]) -> HashMap<String, Token> {
        let valid: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| self.check_id(id).is_ok())
            .collect();
        if valid.is_empty() {
            return HashMap::new();
        }
        // Into the map as they come, sized for the chunk (no list collected first, no rehash).
        let states = HashMap::with_capacity(valid.len());
        let listing = self.list().filter(Filter::id_in(valid)).stream();
        listing
            .try_fold(states, |mut states, t| async move {
                states.insert(t.id().to_string(), t);
                Ok(states)
            })
            .await
            .unwrap_or_default()
    }

    /// Deletes each token unless already gone, `concurrency` at a time; `Ok(true)` where this
    /// call deleted it.
    pub async fn delete_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<bool> {
        self.bulk(tokens, concurrency, |c, token| async move {
            c.delete_if_exists(&token).await
        })
        .await
    }

    /// Deletes each token of `ids` unless already gone, like [`Client::delete_many`], but takes
    /// the ids as a stream and yields each result as it finishes: `(n, id, result)`, `n`
    /// numbering the ids from 0 in the order they came; `Ok(true)` where this call deleted it.
    /// At most `concurrency` ids are held at once. Once the client's [`Cancel`](crate::Cancel)
    /// flag is set, nothing more is sent and no more ids are taken from the stream.
    pub fn delete_stream<'a, St>(
        &'a self,
        ids: St,
        concurrency: usize,
    ) -> impl Stream<Item = (usize, String, Result<bool, Error>)> + Send + 'a
    where
        St: Stream<Item = String> + Send + 'a,
    {
        let client = self.in_job(concurrency);
        let scheduling = client.clone();
        until_cancelled(ids, client.cancel.clone())
            .enumerate()
            .take_while(move |_| std::future::ready(!scheduling.cancelled()))
            .map(move |(i, id)| {
                let client = client.clone();
                async move {
                    // Checked as the request is scheduled: once cancelled, nothing more is sent.
                    let result = if client.cancelled() {
                        Err(Error::Cancelled)
                    } else {
                        client.delete_if_exists(id.as_str()).await
                    };
                    (i, id, result)
                }
            })
            .buffer_unordered(concurrency.max(1))
    }

    async fn bulk<T, I, S, F, Fut>(&self, tokens: I, concurrency: usize, f: F) -> BulkReport<T>
    where
        I: IntoIterator<Item = S>,
        S: TokenRef,
        F: Fn(Client, Known) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let known: Vec<Known> = tokens
            .into_iter()
            .map(|t| Known {
                id: t.token_id().to_string(),
                status: t.known_status(),
            })
            .collect();
        let job = self.in_job(concurrency);
        let results: Vec<(usize, String, Result<T, Error>)> =
            stream::iter(known.into_iter().enumerate())
                .map(|(i, token)| {
                    let id = token.id.clone();
                    let fut = f(job.clone(), token);
                    async move {
                        // Checked as the request is scheduled: once cancelled, nothing more is
                        // sent.
                        let result = if self.cancelled() {
                            Err(Error::Cancelled)
                        } else {
                            fut.await
                        };
                        (i, id, result)
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        BulkReport::in_order(results)
    }
}

/// A token as a bulk call got it: its id, and its state if known.
pub(crate) struct Known {
    id: String,
    status: Option<TokenStatus>,
}

impl TokenRef for Known {
    fn token_id(&self) -> &str {
        &self.id
    }

    fn known_status(&self) -> Option<TokenStatus> {
        self.status.clone()
    }
}

/// The ids a bulk operation failed for, with their errors: an error type, so that
/// [`BulkReport::into_result`] works with `?` in a function returning
/// `Result<_, Box<dyn std::error::Error>>` (or `anyhow::Result`).
#[derive(Debug)]
pub struct Failures(pub Vec<(String, Error)>);

impl Failures {
    /// The failed ids with their errors, in the order the ids were given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.0.iter().map(|(id, e)| (id.as_str(), e))
    }

    /// How many ids failed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none failed (never, for a value from [`BulkReport::into_result`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Failures {
    /// `2 ids failed: TKN-1: 404 Not Found ...; TKN-2: ...` (the first five).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        write!(f, "{n} id{} failed: ", if n == 1 { "" } else { "s" })?;
        for (i, (id, e)) in self.0.iter().take(5).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{id}: {e}")?;
        }
        if n > 5 {
            write!(f, "; and {} more", n - 5)?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

impl IntoIterator for Failures {
    type Item = (String, Error);
    type IntoIter = std::vec::IntoIter<(String, Error)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// What a bulk operation did to each id. Partial failure is normal: every id has its result.
/// Iterating it (owned or borrowed) yields `(id, result)` in the order the ids were given.
#[derive(Debug)]
pub struct BulkReport<T> {
    /// `(id, result)` in the order the ids were given.
    pub results: Vec<(String, Result<T, Error>)>,
}

impl<T> BulkReport<T> {
    /// The report of results numbered in the order their ids were given.
    fn in_order(mut numbered: Vec<(usize, String, Result<T, Error>)>) -> BulkReport<T> {
        numbered.sort_by_key(|r| r.0);
        BulkReport {
            results: numbered
                .into_iter()
                .map(|(_, id, result)| (id, result))
                .collect(),
        }
    }

    /// Whether every id succeeded.
    pub fn is_complete(&self) -> bool {
        self.results.iter().all(|(_, r)| r.is_ok())
    }

    /// `(id, result)` in the order the ids were given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Result<T, Error>)> {
        self.results.iter().map(|(id, r)| (id.as_str(), r))
    }

    /// The ids that succeeded, with their results.
    pub fn succeeded(&self) -> impl Iterator<Item = (&str, &T)> {
        self.results
            .iter()
            .filter_map(|(id, r)| r.as_ref().ok().map(|t| (id.as_str(), t)))
    }

    /// The ids that failed, with their errors.
    pub fn failed(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.results
            .iter()
            .filter_map(|(id, r)| r.as_ref().err().map(|e| (id.as_str(), e)))
    }

    /// Every result when all succeeded, else every failure ([`Failures`], an error type: `?`
    /// works in a function returning `Result<_, Box<dyn std::error::Error>>`).
    pub fn into_result(self) -> Result<Vec<(String, T)>, Failures> {
        let (ok, failed): (Vec<_>, Vec<_>) = self.results.into_iter().partition(|(_, r)| r.is_ok());
        if failed.is_empty() {
            Ok(ok
                .into_iter()
                .filter_map(|(id, r)| r.ok().map(|t| (id, t)))
                .collect())
        } else {
            Err(Failures(
                failed
                    .into_iter()
                    .filter_map(|(id, r)| r.err().map(|e| (id, e)))
                    .collect(),
            ))
        }
    }
}

impl<T> IntoIterator for BulkReport<T> {
    type Item = (String, Result<T, Error>);
    type IntoIter = std::vec::IntoIter<(String, Result<T, Error>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.results.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a BulkReport<T> {
    type Item = &'a (String, Result<T, Error>);
    type IntoIter = std::slice::Iter<'a, (String, Result<T, Error>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.results.iter()
    }
}

/// `ids` until the job's `cancel` flag is set: an input waiting for more (a silent stdin, a
/// channel nobody feeds) ends at once then, not when it next gives an id (an interrupted job
/// held its whole grace waiting on it, then said requests were in flight: tester round 22, R3).
fn until_cancelled<'a, St>(
    ids: St,
    cancel: Option<crate::Cancel>,
) -> impl Stream<Item = String> + Send + 'a
where
    St: Stream<Item = String> + Send + 'a,
{
    ids.take_until(async move {
        match cancel {
            Some(cancel) => cancel.set().await,
            None => std::future::pending().await,
        }
    })
}
