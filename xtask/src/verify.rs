//! `cargo xtask regen --verify`: build what regen generated, every module on, and name the
//! operation (or the type) of each error.

use std::path::Path;
use std::process::{Command, ExitCode};

use crate::error::{Error, Result};

/// The command that builds the generated client with every module.
pub const CHECK: [&str; 6] = [
    "check",
    "-p",
    "mpt-api",
    "--features",
    "full",
    "--message-format=short",
];

/// Runs `cargo check` of `mpt-api --features full`; exit 1 naming what does not compile.
pub fn run(root: &Path) -> Result<ExitCode> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("verify: cargo {}", CHECK.join(" "));
    let out = Command::new(&cargo)
        .args(CHECK)
        .current_dir(root)
        .output()
        .map_err(Error::spawn(&cargo))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains(": error"))
        .map(|l| located(root, l))
        .collect();
    if out.status.success() && errors.is_empty() {
        println!("verify: the generated client compiles with every module");
        return Ok(ExitCode::SUCCESS);
    }
    for e in &errors {
        println!("does not compile: {e}");
    }
    if errors.is_empty() {
        print!("{stderr}");
    }
    eprintln!(
        "the generated client does not compile ({} error(s)): fix the fragments or amendments and run `cargo xtask regen`",
        errors.len().max(1)
    );
    Ok(ExitCode::from(1))
}

/// `path:line:col: error...` with the operation (or type) whose generated code holds the line.
fn located(root: &Path, line: &str) -> String {
    let mut parts = line.splitn(3, ':');
    let (Some(file), Some(number)) = (parts.next(), parts.next()) else {
        return line.to_string();
    };
    let Ok(number) = number.parse::<usize>() else {
        return line.to_string();
    };
    let Ok(text) = std::fs::read_to_string(root.join(file)) else {
        return line.to_string();
    };
    match owner(&text, number) {
        Some(owner) => format!("{line} (in {owner})"),
        None => line.to_string(),
    }
}

/// The operation whose builder holds line `number` (1-based) of a generated file, else the
/// type defined above it.
pub fn owner(text: &str, number: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = number.saturating_sub(1).min(lines.len().saturating_sub(1));
    // An operation's `send` names it in its OperationInfo, a few lines on from its start.
    let below = lines[at..].iter().take(400);
    let above = lines[..=at].iter().rev();
    let in_impl = lines[..=at]
        .iter()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("impl<'a> "))
        .is_some();
    if in_impl {
        for l in below {
            if let Some(id) = quoted_after(l, "operation_id: \"") {
                return Some(format!("operation {id}"));
            }
            if l.trim_start().starts_with("impl") {
                break;
            }
        }
    }
    for l in above {
        let t = l.trim_start();
        for prefix in ["pub struct ", "pub enum "] {
            if let Some(rest) = t.strip_prefix(prefix) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return Some(format!("type {name} (schema {name})"));
            }
        }
    }
    None
}

fn quoted_after(line: &str, prefix: &str) -> Option<String> {
    let start = line.find(prefix)? + prefix.len();
    let rest = &line[start..];
    Some(rest[..rest.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::owner;

    #[test]
    fn an_error_is_named_by_its_operation_or_type() {
        let code = "pub mod types {\n    pub struct Thing {\n        x: Bad,\n    }\n}\nimpl<'a> GetThing<'a> {\n    pub async fn send(self) {\n        let x: Bad = 1;\n        let info = OperationInfo {\n            operation_id: \"get_thing\",\n        };\n    }\n}\n";
        assert_eq!(owner(code, 3).as_deref(), Some("type Thing (schema Thing)"));
        assert_eq!(owner(code, 8).as_deref(), Some("operation get_thing"));
    }
}
