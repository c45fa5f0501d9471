//! `mpt tokens create` and `update`, and handing a new secret over (to a file, else stdout).

use std::path::PathBuf;

use clap::Args;
use mpt::{NewToken, TokenSecret, TokenUpdate};
use serde_json::Value;

use super::{Ctx, RunCommand};
use crate::exit::{self, Failure};
use crate::files::SecretFile;
use crate::output;
use crate::output::Format;

/// Where a new secret goes.
#[derive(Args)]
pub struct SecretOut {
    /// Write the secret to this new file (mode 0600) instead of stdout. An existing file is
    /// refused unless --force; the path is checked before anything is made.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Replace an existing --secret-file.
    #[arg(long, requires = "secret_file")]
    pub force: bool,
}

impl SecretOut {
    /// The secret file of `--secret-file`, checked and made ready before anything is made;
    /// without one, stdout is checked to keep what it is given (not `/dev/null`, nor closed).
    pub fn prepare(&self) -> Result<Option<SecretFile>, Failure> {
        self.prepare_ours(|_| false)
    }

    /// [`SecretOut::prepare`], replacing without `--force` a file there that holds the secret
    /// of a token `ours` says is the one this run hands over (a resumed rotation's
    /// replacement, whose secret an interrupted start wrote already).
    pub fn prepare_ours(&self, ours: impl Fn(&str) -> bool) -> Result<Option<SecretFile>, Failure> {
        if self.secret_file.is_none() && output::stdout_discards() {
            return Err(Failure::Usage(
                "stdout is /dev/null (or was closed): the new secret would be thrown away; give --secret-file FILE, or send stdout where it is kept".into(),
            ));
        }
        let held = |path: &std::path::Path| {
            mpt_policy::files::read_small(path, 4096)
                .ok()
                .and_then(|text| TokenSecret::new(text.trim()).token_id().map(str::to_string))
        };
        self.secret_file
            .as_deref()
            .map(|path| {
                SecretFile::prepare(path, self.force || held(path).is_some_and(|id| ours(&id)))
            })
            .transpose()
            .map_err(|e| Failure::Usage(e.to_string()))
    }
}

/// `mpt tokens create`.
#[derive(Args)]
pub struct CreateArgs {
    /// The account it belongs to.
    #[arg(long, value_name = "ACC-ID")]
    account: String,
    /// Its name.
    #[arg(long)]
    name: String,
    /// A module it may use (repeat for more).
    #[arg(long = "module", value_name = "MOD-ID", required = true)]
    modules: Vec<String>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    out: SecretOut,
}

impl RunCommand for CreateArgs {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let mut new = NewToken::new(self.account, self.name).modules(self.modules);
        if let Some(d) = self.description {
            new = new.description(d);
        }
        let client = ctx.client()?;
        let file = self.out.prepare()?;
        let created = client.create(&new).await?;
        exit::remember(created.secret.expose_secret());
        match hand_over(&created.token, &created.secret, file, ctx.format) {
            Ok(None) => Ok(()),
            Ok(Some(warning)) => Err(Failure::Other(warning)),
            Err(lost) => Err(Failure::Other(lost.to_string())),
        }
    }
}

/// A new token's secret that neither its file nor stdout took.
#[derive(Debug, thiserror::Error)]
#[error(
    "the secret of the new token {id} could not be handed over ({source}); it can be read again only with a read that asks for the secret"
)]
pub struct SecretLost {
    /// The new token.
    pub id: String,
    /// Why stdout did not take it.
    #[source]
    pub source: output::StdoutError,
}

/// Hands a new secret over: into the prepared file, else on stdout. `Ok(None)`: done as asked;
/// `Ok(Some(why))`: the file could not be written after all, so the secret went to stdout
/// instead (`why` names the token); `Err(why)`: stdout could not take it either.
pub fn hand_over(
    token: &mpt::Token,
    secret: &TokenSecret,
    file: Option<SecretFile>,
    format: Format,
) -> Result<Option<String>, SecretLost> {
    let on_stdout = || {
        let shown = Value::String(secret.expose_secret().to_string());
        output::print_secret(&output::token(token, format, &[("secret", shown)])).map_err(
            |source| SecretLost {
                id: token.id().to_string(),
                source,
            },
        )
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
#[derive(Args)]
pub struct UpdateArgs {
    /// The token id.
    id: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// A new description.
    #[arg(long, conflicts_with = "clear_description")]
    description: Option<String>,
    /// Remove the description.
    #[arg(long)]
    clear_description: bool,
    /// Replace the modules (repeat for more).
    #[arg(long = "module", value_name = "MOD-ID")]
    modules: Vec<String>,
}

impl RunCommand for UpdateArgs {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let client = ctx.client()?;
        let mut update = TokenUpdate::new();
        if let Some(name) = self.name {
            update = update.name(name);
        }
        if let Some(d) = self.description {
            update = update.description(d);
        }
        if self.clear_description {
            update = update.clear_description();
        }
        if !self.modules.is_empty() {
            update = update.modules(self.modules);
        }
        if update.is_empty() {
            return Err(Failure::Usage(
                "nothing to change: give --name, --description, --clear-description or --module"
                    .into(),
            ));
        }
        let token = client.update(self.id.as_str(), update).await?;
        output::print(&output::token(&token, ctx.format, &[]))
    }
}
