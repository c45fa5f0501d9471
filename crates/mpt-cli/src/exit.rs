//! How a run ends: its exit code, and every text written to stderr, which goes through
//! redaction first (by shape, and by value for every secret this run has read).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;

use mpt::Error;
use serde::Serialize;

/// Exit codes (documented in `--help` and the README).
pub mod code {
    /// The operation failed, or some ids of a bulk command failed.
    pub const FAILED: u8 = 1;
    /// Usage or configuration error: nothing was sent.
    pub const USAGE: u8 = 2;
    /// Not found.
    pub const NOT_FOUND: u8 = 3;
    /// Authentication refused (401) or not allowed (403).
    pub const AUTH: u8 = 4;
    /// The platform is unreachable or timing out.
    pub const UNREACHABLE: u8 = 5;
    /// `tokens plan --exit-code`: the accounts differ from the policy.
    pub const CHANGES_PENDING: u8 = 6;
    /// Rate limited: the platform asks to wait longer than allowed, so ids were not attempted.
    pub const RATE_LIMITED: u8 = 7;
    /// Interrupted by SIGINT.
    pub const SIGINT: u8 = 130;
    /// Interrupted by SIGTERM.
    pub const SIGTERM: u8 = 143;
    /// stdout was closed under a bulk command or an apply (128 + SIGPIPE, as a shell reports a
    /// command a closed pipe ended): it stopped beginning changes, and rows were lost.
    pub const CLOSED_STDOUT: u8 = 141;
}

/// Why a command did not succeed.
pub enum Failure {
    /// Usage or configuration: nothing was sent (2).
    Usage(String),
    /// An error of the platform or the client.
    Api(Error),
    /// A bulk command's or an apply's results are printed already, and some failed; the code
    /// says how ([`rows_code`]), the line why ([`rows_why`]): said on stderr, as every other
    /// failure is (with `-o json` the rows hold the reasons, and stderr was empty); `None` when
    /// stderr said it already (an apply's summary with `-o jsonl`).
    Rows(u8, Option<String>),
    /// `tokens plan --exit-code`: the accounts differ from the policy (6).
    Drift,
    /// Interrupted by this signal's exit code (130, 143), everything finished printed.
    Interrupted(u8),
    /// Something the run needs cannot be reached (the state store's database) (5).
    Unreachable(String),
    /// Something else failed after work was done (1); the message says what is safe.
    Other(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Api(e)
    }
}

/// The exit code for an error of the facade.
pub fn code_of(e: &Error) -> u8 {
    match e {
        Error::NotFound(_) => code::NOT_FOUND,
        Error::Unauthorized(_) | Error::Forbidden(_) => code::AUTH,
        Error::Config(_) | Error::FixedPaceOverCap { .. } | Error::InvalidRequest(_) => code::USAGE,
        e if unreachable(e) => code::UNREACHABLE,
        Error::NotAttempted { .. } | Error::RateLimited { .. } => code::RATE_LIMITED,
        _ => code::FAILED,
    }
}

/// Whether the error says the platform could not be reached or did not answer in time.
pub fn unreachable(e: &Error) -> bool {
    match e {
        Error::Timeout | Error::Transport(_) => true,
        // 408 Request Timeout: the platform timed out waiting for the request.
        Error::NotProcessed(p) => p.status == 408,
        Error::OutcomeUnknown { source, .. } => unreachable(source),
        // Not sent: the job's last requests all timed out, none answered.
        Error::NotAttempted {
            cause: mpt::WaitCause::Unanswered { .. },
            ..
        } => true,
        _ => false,
    }
}

/// A word for the kind of error, stable for scripts (`error.kind` in JSON output).
pub fn kind_of(e: &Error) -> &'static str {
    match e {
        Error::NotFound(_) => "not-found",
        Error::InvalidTransition { .. } => "invalid-transition",
        Error::BadRequest(_) => "bad-request",
        Error::Unauthorized(_) => "unauthorized",
        Error::Forbidden(_) => "forbidden",
        Error::Conflict(_) => "conflict",
        Error::RateLimited { .. } => "rate-limited",
        Error::Server(_) => "server-error",
        Error::Timeout => "timeout",
        // 408 Request Timeout is a timeout; 425 Too Early, the server would not risk a replay.
        Error::NotProcessed(p) if p.status == 408 => "timeout",
        Error::NotProcessed(_) => "too-early",
        Error::Transport(_) => "unreachable",
        Error::ResponseTooLarge { .. } => "response-too-large",
        Error::Decode { .. } => "bad-answer",
        Error::ForeignAnswer { .. } => "foreign-answer",
        Error::UnexpectedState { .. } => "unexpected-state",
        Error::CreateUnconfirmed { .. } => "create-unconfirmed",
        Error::EarlierRunInterrupted { .. } => "earlier-run-interrupted",
        Error::OutcomeUnknown { .. } => "outcome-unknown",
        Error::RotationOutOfOrder { .. } => "rotation-out-of-order",
        Error::RotationPlanMismatch { .. } => "rotation-plan-mismatch",
        Error::PlanNotSaved { .. } => "plan-not-saved",
        Error::StillInUse { .. } => "still-in-use",
        Error::Cancelled | Error::NotAttempted { .. } => "not-attempted",
        Error::InvalidRequest(_) => "invalid-request",
        Error::Config(_) | Error::FixedPaceOverCap { .. } => "config",
        Error::RotationIncomplete { .. } => "rotation-incomplete",
        _ => "error",
    }
}

/// An error as a result row shows it (`error` in JSON: `kind`, `httpStatus`, `traceId`,
/// `message`), with the exit code it means.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorRow {
    /// [`kind_of`] the error.
    pub kind: &'static str,
    /// The HTTP status of the answer, if one was read.
    pub http_status: Option<u16>,
    /// The platform's trace id, if it gave one.
    pub trace_id: Option<String>,
    /// What went wrong (redacted).
    pub message: String,
    /// The exit code it means for a bulk command: 5 (unreachable or timing out, or not
    /// attempted after the job's requests timed out, none answered), 4 (refused
    /// with 401 or 403), 7 (rate limited, or not attempted: the platform asks to wait too
    /// long), else 1.
    #[serde(skip)]
    pub code: u8,
}

impl ErrorRow {
    /// The row of an error of the facade.
    pub fn of(e: &Error) -> ErrorRow {
        ErrorRow {
            kind: kind_of(e),
            http_status: e.status(),
            trace_id: e.problem().and_then(|p| p.trace_id.clone()),
            message: redact(&e.to_string()),
            code: match e {
                // A timeout, a transport failure, or not sent after the job's requests timed out.
                e if unreachable(e) && !matches!(e, Error::OutcomeUnknown { .. }) => {
                    code::UNREACHABLE
                }
                Error::Unauthorized(_) | Error::Forbidden(_) => code::AUTH,
                Error::NotAttempted { .. } | Error::RateLimited { .. } => code::RATE_LIMITED,
                _ => code::FAILED,
            },
        }
    }

    /// An id whose request was still in flight when the grace after an interrupt was over.
    pub fn in_flight() -> ErrorRow {
        ErrorRow {
            kind: "outcome-unknown",
            http_status: None,
            trace_id: None,
            message: "in flight when interrupted; it may have happened".into(),
            code: code::FAILED,
        }
    }

    /// The row of an id read and not attempted when the command was interrupted: nothing was
    /// sent for it.
    pub fn interrupted() -> ErrorRow {
        ErrorRow {
            kind: "not-attempted",
            http_status: None,
            trace_id: None,
            message: "not attempted: interrupted (nothing was sent for it)".into(),
            code: code::FAILED,
        }
    }

    /// An id already in the wanted state, for `enable` and `disable`.
    pub fn already(id: &str, status: &mpt::TokenStatus) -> ErrorRow {
        ErrorRow {
            kind: "invalid-transition",
            http_status: None,
            trace_id: None,
            message: redact(&format!("API token {id} is already {status}")),
            code: code::FAILED,
        }
    }
}

/// The exit code of a bulk command whose `failed` rows (of `rows` in all) are these: none when
/// none failed; 5 when one could not reach the platform (or was not attempted because the
/// job's requests timed out, none answered); 7 when one was rate limited or not
/// attempted because the platform asks to wait too long; 4 when every row was refused with 401 or 403 (the
/// credentials, not the ids); else 1.
pub fn rows_code(failed: &[&ErrorRow], rows: usize) -> Option<u8> {
    if failed.is_empty() {
        None
    } else if failed.iter().any(|e| e.code == code::UNREACHABLE) {
        Some(code::UNREACHABLE)
    } else if failed.iter().any(|e| e.code == code::RATE_LIMITED) {
        Some(code::RATE_LIMITED)
    } else if failed.len() == rows && failed.iter().all(|e| e.code == code::AUTH) {
        Some(code::AUTH)
    } else {
        Some(code::FAILED)
    }
}

/// Why a bulk command's `failed` rows (of `rows` in all) end it with `code`, in one line: how
/// many failed, of which kinds (the most first), and the first message of a row that decided
/// the code (`3 of 40 ids failed (2 not-attempted, 1 rate-limited): not attempted: the platform
/// asks to wait 1h; over the 30 s cap`).
pub fn rows_why(failed: &[&ErrorRow], rows: usize, code: u8) -> String {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for e in failed {
        match kinds.iter_mut().find(|(kind, _)| *kind == e.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((e.kind, 1)),
        }
    }
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let first = failed.iter().find(|e| e.code == code).or(failed.first());
    let why = first.and_then(|e| e.message.lines().next()).unwrap_or("");
    format!(
        "{} of {rows} id{} failed ({}): {why}",
        failed.len(),
        if rows == 1 { "" } else { "s" },
        kinds.join(", ")
    )
}

/// Secrets this run has read (the API token, a new token's secret, a secret to check): texts
/// on stderr never show them.
static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remembers a secret, so that no text on stderr shows it.
pub fn remember(secret: &str) {
    let secret = secret.trim();
    // Nor in a sink command's environment.
    mpt_policy::withhold_from_sinks(secret);
    if secret.chars().count() >= 4 {
        let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
        if !known.iter().any(|k| k == secret) {
            known.push(secret.to_string());
        }
    }
}

/// Calls `f` with each secret remembered so far.
pub fn each_known(mut f: impl FnMut(&str)) {
    let known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    known.iter().for_each(|secret| f(secret));
}

/// `text` without any secret: by value (every remembered one, plain, percent-encoded or
/// JSON-escaped: [`mpt::redact_secret`]), then by shape ([`mpt::redact`]).
pub fn redact(text: &str) -> String {
    let known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for secret in known.iter() {
        // Plain, percent-encoded or JSON-escaped: the facade's matcher.
        out = mpt::redact_secret(&out, secret);
    }
    mpt::redact(&out)
}

/// Writes `text` (redacted) to stderr; a closed stderr is ignored.
pub fn eprint(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(redact(text).as_bytes());
    let _ = err.flush();
}

/// Writes `error: <message>` (redacted) to stderr.
pub fn error(message: &str) {
    eprint(&format!("error: {message}\n"));
}

/// Ends the run: says why on stderr and returns the code.
pub fn finish(result: Result<(), Failure>) -> ExitCode {
    ExitCode::from(match result {
        Ok(()) => 0,
        // Its line was said when the signal came.
        Err(Failure::Interrupted(code)) => code,
        Err(Failure::Rows(code, why)) => {
            if let Some(why) = why {
                error(&why);
            }
            code
        }
        Err(Failure::Drift) => {
            error("changes pending: the accounts differ from the policy (--exit-code)");
            code::CHANGES_PENDING
        }
        Err(Failure::Usage(message)) => {
            error(&message);
            code::USAGE
        }
        Err(Failure::Other(message)) => {
            error(&message);
            code::FAILED
        }
        Err(Failure::Unreachable(message)) => {
            error(&message);
            code::UNREACHABLE
        }
        Err(Failure::Api(e)) => {
            error(&e.to_string());
            code_of(&e)
        }
    })
}

/// A parse error's message (serde, TOML) without the values it quotes: a quoted part that is
/// not a plain word (a key or variant name) is shown as `…`, so a secret in a file never
/// reaches stderr through it.
pub fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('`') else {
            out.push_str("`…");
            return out;
        };
        let quoted = &after[..end];
        let word = !quoted.is_empty()
            && quoted.len() <= 24
            && quoted.chars().all(|c| c.is_ascii_alphabetic() || c == '_');
        out.push('`');
        out.push_str(if word { quoted } else { "…" });
        out.push('`');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_left_out_of_parse_errors() {
        assert_eq!(
            without_quoted_values("unknown variant `idt:TKN-1:abc`, expected `planned`"),
            "unknown variant `…`, expected `planned`"
        );
        assert_eq!(without_quoted_values("cut `S3CR3T"), "cut `…");
        remember("plain-secret-value");
        assert_eq!(redact("x plain-secret-value y"), "x [REDACTED] y");
    }
}
