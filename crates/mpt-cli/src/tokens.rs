//! `mpt tokens list|count|get|create|update|whoami`, and handing a new secret over.

use std::path::Path;

use mpt::prelude::*;
use mpt::{Client, Error, Filter, NewToken, TokenSecret, TokenStatus, TokenUpdate};
use serde_json::{Value, json};

use crate::cli::{FilterArgs, Order, SecretOut};
use crate::exit::{self, Failure};
use crate::files::{self, SecretFile};
use crate::output::{self, Format};

/// The filter of `--status`, `--account`, `--name`, `--name-like` and `--stale-since`.
pub fn filter_of(args: &FilterArgs) -> Result<Filter, Failure> {
    let mut parts = Vec::new();
    if let Some(status) = &args.status {
        parts.push(Filter::status(status.clone()));
    }
    if let Some(account) = &args.account {
        parts.push(Filter::account(account));
    }
    if let Some(name) = &args.name {
        parts.push(Filter::name(name));
    }
    if let Some(pattern) = &args.name_like {
        parts.push(Filter::name_like(pattern));
    }
    if let Some(age) = args.stale_since {
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

/// `mpt tokens list`.
pub async fn list(
    client: &Client,
    filter: &FilterArgs,
    order: Option<Order>,
    select: Option<String>,
    limit: Option<u32>,
    format: Format,
) -> Result<(), Failure> {
    // The platform leaves `audit` (creation and change times) out unless asked for.
    let mut request = client.list().filter(filter_of(filter)?).select(["+audit"]);
    for (field, descending) in order.map(|o| o.0).unwrap_or_default() {
        request = if descending {
            request.order_by_desc(field)
        } else {
            request.order_by(field)
        };
    }
    if let Some(select) = select {
        request = request.select(select.split(',').map(str::trim));
    }
    if let Some(limit) = limit {
        request = request.page_size(limit.min(mpt::MAX_PAGE_SIZE));
    }
    let wanted = limit.map_or(usize::MAX, |l| l as usize);
    let list: Vec<mpt::Token> = request.stream().take(wanted).try_collect().await?;
    output::print(&output::tokens(&list, format))
}

/// `mpt tokens count`.
pub async fn count(client: &Client, filter: &FilterArgs, format: Format) -> Result<(), Failure> {
    let n = client.list().filter(filter_of(filter)?).count().await?;
    match format {
        Format::Table => output::print(&format!("{n}\n")),
        _ => output::print(&format!("{}\n", json!({ "count": n }))),
    }
}

/// `mpt tokens get`.
pub async fn get(client: &Client, id: &str, format: Format) -> Result<(), Failure> {
    let token = client.get_with_select(id, ["+audit"]).await?;
    output::print(&output::token(&token, format, &[]))
}

/// The secret file of `--secret-file`, checked and made ready before anything is made.
pub fn prepare(out: &SecretOut) -> Result<Option<SecretFile>, Failure> {
    out.secret_file
        .as_deref()
        .map(|path| SecretFile::prepare(path, out.force))
        .transpose()
        .map_err(Failure::Usage)
}

/// `mpt tokens create`.
pub async fn create(
    client: &Client,
    new: NewToken,
    out: &SecretOut,
    format: Format,
) -> Result<(), Failure> {
    let file = prepare(out)?;
    let created = client.create(&new).await?;
    exit::remember(created.secret.expose_secret());
    match hand_over(&created.token, &created.secret, file, format) {
        Ok(None) => Ok(()),
        Ok(Some(warning)) | Err(warning) => Err(Failure::Other(warning)),
    }
}

/// Hands a new secret over: into the prepared file, else on stdout. `Ok(None)`: done as asked;
/// `Ok(Some(why))`: the file could not be written after all, so the secret went to stdout
/// instead (`why` names the token); `Err(why)`: stdout could not take it either.
pub fn hand_over(
    token: &mpt::Token,
    secret: &TokenSecret,
    file: Option<SecretFile>,
    format: Format,
) -> Result<Option<String>, String> {
    let on_stdout = || {
        let shown = Value::String(secret.expose_secret().to_string());
        output::print_secret(&output::token(token, format, &[("secret", shown)])).map_err(|e| {
            format!(
                "the secret of the new token {} could not be handed over ({e}); it can be read again only with a read that asks for the secret",
                token.id()
            )
        })
    };
    let Some(file) = file else {
        return on_stdout().map(|()| None);
    };
    let path = file.path().to_path_buf();
    match file.commit(secret.expose_secret()) {
        Ok(()) => {
            let shown = Value::String(path.display().to_string());
            // The secret is in its file; the summary on stdout may be cut by a closed pipe.
            let _ = output::print(&output::token(token, format, &[("secretFile", shown)]));
            Ok(None)
        }
        Err(why) => {
            on_stdout()?;
            Ok(Some(format!(
                "could not write the secret file ({why}); the secret of the new token {} was printed on stdout instead",
                token.id()
            )))
        }
    }
}

/// `mpt tokens update`.
pub async fn update(
    client: &Client,
    id: &str,
    update: TokenUpdate,
    format: Format,
) -> Result<(), Failure> {
    if update.is_empty() {
        return Err(Failure::Usage(
            "nothing to change: give --name, --description, --clear-description or --module".into(),
        ));
    }
    let token = client.update(id, &update).await?;
    output::print(&output::token(&token, format, &[]))
}

/// Reads a secret from a regular file, or from stdin (at most 64 KiB).
pub fn read_secret(file: Option<&Path>, what: &str) -> Result<TokenSecret, Failure> {
    let text = match file {
        Some(file) => files::read_regular(file).map_err(Failure::Usage)?,
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(std::io::stdin(), 64 * 1024),
                &mut text,
            )
            .map_err(|e| Failure::Usage(format!("stdin: {e}")))?;
            text
        }
    };
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err(Failure::Usage(format!("{what} is empty")));
    }
    exit::remember(secret);
    Ok(TokenSecret::new(secret))
}

/// `mpt tokens whoami`: which token a secret belongs to, whether it authenticates now, and its
/// status and last access (read with the configured API token first, when there is one, so
/// that the check's own access does not hide the last one).
pub async fn whoami(
    admin: Option<&Client>,
    base_url: Option<&str>,
    secret: TokenSecret,
    format: Format,
) -> Result<(), Failure> {
    let Some(id) = secret.token_id().map(String::from) else {
        return Err(Failure::Usage(
            "that is not a token secret: a token secret starts with `idt:`, then the token's id (TKN-…) and a colon".into(),
        ));
    };
    let before = match admin {
        Some(admin) => match admin.get(id.as_str()).await {
            Ok(token) => Some(token),
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let mut builder = Client::builder()
        .api_token(secret.expose_secret())
        .retry(mpt::RetryPolicy::attempts(2));
    if let Some(url) = base_url {
        builder = builder.base_url(url);
    }
    let itself = builder.build()?;
    let (authenticates, why, seen) = match itself.get(id.as_str()).await {
        Ok(token) => (true, None, Some(token)),
        Err(e @ (Error::Unauthorized(_) | Error::Forbidden(_))) => {
            (false, Some(e.to_string()), None)
        }
        Err(e) => return Err(e.into()),
    };
    let token = before.or(seen);
    let value = json!({
        "id": id,
        "authenticates": authenticates,
        "refused": why.map(|w| exit::redact(&w)),
        "found": token.is_some(),
        "status": token.as_ref().map(|t| t.status().as_str().to_string()),
        "name": token.as_ref().and_then(|t| t.name().map(String::from)),
        "accountId": token.as_ref().and_then(|t| t.account_id().map(String::from)),
        "lastAccessAt": token.as_ref().and_then(|t| t.last_access_at()).map(|t| t.to_rfc3339()),
    });
    let text = match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        Format::Jsonl => format!("{value}\n"),
        Format::Table => {
            let field = |k: &str| match &value[k] {
                Value::Null => "-".to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            [
                "id",
                "authenticates",
                "status",
                "name",
                "accountId",
                "lastAccessAt",
                "refused",
            ]
            .iter()
            .map(|k| format!("{k:<14} {}\n", field(k)))
            .collect()
        }
    };
    output::print(&text)
}
