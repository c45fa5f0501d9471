//! The commands, a file per group, each command's arguments a clap `Args` struct beside the
//! code that runs it: `read` (list, count, get), `write` (create, update), `bulk` (delete,
//! enable, disable, ensure-*), `whoami`, `rotate` (the rotation steps) and `policy` (plan,
//! apply).

pub mod bulk;
mod ids;
mod policy;
mod progress;
mod read;
mod rotate;
mod whoami;
mod write;

pub use bulk::{BulkArgs, Kind};
pub use policy::{ApplyArgs, PlanArgs};
pub use read::{CountArgs, GetArgs, ListArgs};
pub use rotate::RotateCmd;
pub use whoami::WhoamiArgs;
pub use write::{CreateArgs, UpdateArgs};

use mpt::Client;

use crate::exit::Failure;
use crate::output::Format;
use crate::signals::Signals;

/// What a command runs with.
pub struct Ctx<'a> {
    /// The client, configured from flags, environment and profile (none without an API token).
    pub client: Option<&'a Client>,
    /// The platform's base URL, when one was set.
    pub base_url: Option<&'a str>,
    /// How to print results.
    pub format: Format,
    /// Interrupts.
    pub signals: &'a Signals,
}

impl Ctx<'_> {
    /// The client; without an API token, a usage error saying how to give one.
    pub fn client(&self) -> Result<&Client, Failure> {
        self.client.ok_or_else(|| {
            Failure::Usage(
                "no API token: set MPT_API_TOKEN, or `secret_command` in a profile of the config file"
                    .into(),
            )
        })
    }
}

/// A command: its arguments, run with the client.
#[allow(async_fn_in_trait)]
pub trait RunCommand {
    /// Runs the command; what it prints goes through `output`.
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure>;
}
