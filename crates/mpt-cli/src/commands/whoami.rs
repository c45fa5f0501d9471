//! `mpt tokens whoami`: which token a secret belongs to, and whether it authenticates now.

use std::path::PathBuf;

use clap::Args;
use mpt::{Client, Error};

use super::{Ctx, RunCommand};
use crate::exit::Failure;
use crate::files;
use crate::output::{self, Whoami};

/// `mpt tokens whoami`.
#[derive(Args)]
pub struct WhoamiArgs {
    /// The file holding the secret (else it is read from stdin).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

impl RunCommand for WhoamiArgs {
    /// Its status and last access are read with the configured API token first, when there is
    /// one, so that the check's own access does not hide the last one.
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let secret = files::read_secret(self.secret_file.as_deref(), "the secret to check")?;
        let Some(id) = secret.token_id().map(String::from) else {
            return Err(Failure::Usage(
                "that is not a token secret: a token secret starts with `idt:`, then the token's id (TKN-…) and a colon".into(),
            ));
        };
        let before = match ctx.client {
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
        if let Some(url) = ctx.base_url {
            builder = builder.base_url(url);
        }
        let itself = builder.build()?;
        let (authenticates, refused, seen) = match itself.get(id.as_str()).await {
            Ok(token) => (true, None, Some(token)),
            Err(e @ (Error::Unauthorized(_) | Error::Forbidden(_))) => {
                (false, Some(e.to_string()), None)
            }
            Err(e) => return Err(e.into()),
        };
        let answer = Whoami {
            id,
            authenticates,
            refused,
            token: before.or(seen),
        };
        output::print(&output::whoami(&answer, ctx.format))
    }
}
