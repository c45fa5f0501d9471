//! `mpt tokens list`, `count` and `get`: reading tokens, never their secrets.

use std::time::Duration;

use clap::Args;
use mpt::prelude::*;
use mpt::{Filter, TokenStatus};

use super::{Ctx, RunCommand};
use crate::exit::Failure;
use crate::output;
use crate::values::{Order, Select, parse_age, parse_order, parse_select, parse_status};

/// Which tokens a list or count is about.
#[derive(Args, Clone)]
pub struct FilterArgs {
    /// Only tokens in this state: active, disabled or deleted (any case).
    #[arg(long, value_parser = parse_status)]
    pub status: Option<TokenStatus>,
    /// Only tokens of this account.
    #[arg(long, value_name = "ACC-ID")]
    pub account: Option<String>,
    /// Only tokens with exactly this name (any name the platform accepts, quotes included).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Only tokens whose name matches (case-insensitive, `*` for any run of characters).
    #[arg(long, value_name = "PATTERN")]
    pub name_like: Option<String>,
    /// Only Active tokens unused for this long (e.g. 90d, 12h; at most 36500d), or never used.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub stale_since: Option<Duration>,
}

impl FilterArgs {
    /// The filter of `--status`, `--account`, `--name`, `--name-like` and `--stale-since`.
    fn filter(&self) -> Result<Filter, Failure> {
        let mut parts = Vec::new();
        if let Some(status) = &self.status {
            parts.push(Filter::status(status.clone()));
        }
        if let Some(account) = &self.account {
            parts.push(Filter::account(account));
        }
        if let Some(name) = &self.name {
            parts.push(Filter::name(name));
        }
        if let Some(pattern) = &self.name_like {
            parts.push(Filter::name_like(pattern));
        }
        if let Some(age) = self.stale_since {
            let since = chrono::Duration::from_std(age)
                .ok()
                .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
                .ok_or_else(|| Failure::Usage("--stale-since: too far back".into()))?;
            parts.push(
                Filter::status(TokenStatus::Active)
                    .and(Filter::last_access_before(since).or(Filter::never_used())),
            );
        }
        Ok(Filter::all(parts))
    }
}

/// `mpt tokens list`.
#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// Order by fields, comma-separated, `-` for descending: name, status, lastAccessAt,
    /// created, updated, id.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_order)]
    order: Option<Order>,
    /// Fields to leave out or add (`-audit`, `+modules`): id, name, description, icon, status,
    /// revision, lastAccessAt, token, account, modules, audit, extensions, $meta.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_select)]
    select: Option<Select>,
    /// At most this many tokens (1 to 1000000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    limit: Option<u32>,
}

impl RunCommand for ListArgs {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        // The platform leaves `audit` (creation and change times) out unless asked for.
        let mut request = ctx
            .client()?
            .list()
            .filter(self.filter.filter()?)
            .with_audit();
        for (field, descending) in self.order.map(|o| o.0).unwrap_or_default() {
            request = if descending {
                request.order_by_desc(field)
            } else {
                request.order_by(field)
            };
        }
        if let Some(select) = self.select {
            request = request.select(select.0);
        }
        if let Some(limit) = self.limit {
            request = request.page_size(limit.min(mpt::MAX_PAGE_SIZE));
        }
        let wanted = self.limit.map_or(usize::MAX, |l| l as usize);
        let list: Vec<mpt::Token> = request.stream().take(wanted).try_collect().await?;
        output::print(&output::tokens(&list, ctx.format))
    }
}

/// `mpt tokens count`.
#[derive(Args)]
pub struct CountArgs {
    #[command(flatten)]
    filter: FilterArgs,
}

impl RunCommand for CountArgs {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let n = ctx
            .client()?
            .list()
            .filter(self.filter.filter()?)
            .count()
            .await?;
        output::print(&output::count(n, ctx.format))
    }
}

/// `mpt tokens get`.
#[derive(Args)]
pub struct GetArgs {
    /// The token id.
    id: String,
}

impl RunCommand for GetArgs {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let token = ctx.client()?.get_with_audit(self.id.as_str()).await?;
        output::print(&output::token(&token, ctx.format, &[]))
    }
}
