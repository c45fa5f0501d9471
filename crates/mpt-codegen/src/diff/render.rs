//! What a report says: a summary, text, JSON, Markdown with version advice, a CHANGELOG
//! draft, and the semver bumps.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::model::{Change, Level, Report};

/// `GET /a: ` or `GET /a (+3 more): `.
fn ops_prefix(operations: &[String]) -> String {
    match operations {
        [] => String::new(),
        [one] => format!("{one}: "),
        [first, rest @ ..] => format!("{first} (+{} more): ", rest.len()),
    }
}

/// The semver bump a report asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    /// Nothing that users see changed.
    None,
    /// Fixes only.
    Patch,
    /// Additions.
    Minor,
    /// Something breaks.
    Major,
}

impl Bump {
    /// The next version after `version` (`0.x` counts minor as major and patch as minor, as
    /// cargo does).
    pub fn apply(self, version: &str) -> String {
        let parts: Vec<u64> = version
            .split(['.', '-', '+'])
            .take(3)
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        let (major, minor, patch) = (
            parts.first().copied().unwrap_or(0),
            parts.get(1).copied().unwrap_or(0),
            parts.get(2).copied().unwrap_or(0),
        );
        match self {
            Bump::None => format!("{major}.{minor}.{patch}"),
            Bump::Patch => format!("{major}.{minor}.{}", patch + 1),
            Bump::Minor if major == 0 => format!("0.{minor}.{}", patch + 1),
            Bump::Minor => format!("{major}.{}.0", minor + 1),
            Bump::Major if major == 0 => format!("0.{}.0", minor + 1),
            Bump::Major => format!("{}.0.0", major + 1),
        }
    }

    /// `major`, `minor`, `patch` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

impl Report {
    /// How many changes have this level.
    pub fn count(&self, level: Level) -> usize {
        self.changes.iter().filter(|c| c.level == level).count()
    }

    /// Whether anything breaks.
    pub fn is_breaking(&self) -> bool {
        self.count(Level::Breaking) > 0
    }

    /// The bump of `mpt-api` (the generated client): major for a breaking change, minor for
    /// anything else.
    pub fn api_bump(&self) -> Bump {
        self.bump(self.is_breaking(), Bump::Minor)
    }

    /// Major when something breaks the crate, none when nothing changed, else `otherwise`.
    fn bump(&self, breaks: bool, otherwise: Bump) -> Bump {
        if breaks {
            Bump::Major
        } else if self.changes.is_empty() {
            Bump::None
        } else {
            otherwise
        }
    }

    /// The report with the schemas the facade exposes ([`facade_exposure`](super::facade_exposure)).
    pub fn with_facade_exposure(mut self, exposed: BTreeSet<String>) -> Report {
        self.facade_exposes = Some(exposed);
        self
    }

    /// The bump of `mpt` (the facade): major when a breaking change touches a schema its public
    /// API exposes ([`Report::facade_exposes`]; all of them when unknown) or an operation,
    /// else patch (it is rebuilt on the new client) or none.
    pub fn facade_bump(&self) -> Bump {
        let exposed = |c: &Change| {
            [&c.old, &c.new].into_iter().flatten().any(|p| {
                let Some(rest) = p.strip_prefix("/components/schemas/") else {
                    return false;
                };
                let name = rest.split('/').next().unwrap_or("");
                let name = name.replace("~1", "/").replace("~0", "~");
                self.facade_exposes
                    .as_ref()
                    .is_none_or(|set| set.contains(&name))
            })
        };
        let breaks = self.changes.iter().any(|c| {
            c.level == Level::Breaking && (exposed(c) || c.rule.starts_with("operation-"))
        });
        self.bump(breaks, Bump::Patch)
    }

    /// One line: `3 breaking, 1 potentially breaking, 12 non-breaking changes`.
    pub fn summary(&self) -> String {
        let unjudged = match self.not_judged.len() {
            0 => String::new(),
            n => format!("; {n} keyword(s) not judged"),
        };
        if self.changes.is_empty() {
            return format!(
                "no API changes ({} → {}){unjudged}",
                self.old_version, self.new_version
            );
        }
        let judged = format!(
            "{} → {}: {} breaking, {} potentially breaking, {} non-breaking change(s)",
            self.old_version,
            self.new_version,
            self.count(Level::Breaking),
            self.count(Level::PotentiallyBreaking),
            self.count(Level::NonBreaking)
        );
        format!("{judged}{unjudged}")
    }

    fn tolerance_line(&self) -> String {
        format!(
            "judged for this SDK's generated types: unknown response fields {}, string enums {} (openapi/amendments.json, tolerantReading)",
            if self.tolerance.unknown_fields {
                "ignored"
            } else {
                "refused"
            },
            if self.tolerance.open_enums {
                "open"
            } else {
                "closed"
            }
        )
    }

    /// Plain text, a line per change, most severe first.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n{}\n", self.summary(), self.tolerance_line());
        for c in self.sorted() {
            out.push_str(&format!(
                "  {:<20} {}{}{}\n",
                c.level.as_str(),
                ops_prefix(&c.operations),
                c.message,
                c.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ));
            for also in &c.also {
                out.push_str(&format!("  {:<20}   also {also}\n", ""));
            }
        }
        for n in &self.not_judged {
            out.push_str(&format!(
                "  {:<20} `{}` {} at {} (no rule reads it)\n",
                "not judged", n.keyword, n.how, n.pointer
            ));
        }
        out
    }

    fn sorted(&self) -> Vec<&Change> {
        let mut all: Vec<&Change> = self.changes.iter().collect();
        all.sort_by_key(|c| c.level);
        all
    }

    /// The report as JSON (stable field names).
    pub fn json(&self) -> Value {
        json!({
            "oldVersion": self.old_version,
            "newVersion": self.new_version,
            "tolerance": {
                "unknownFields": self.tolerance.unknown_fields,
                "openEnums": self.tolerance.open_enums,
            },
            "summary": {
                "breaking": self.count(Level::Breaking),
                "potentiallyBreaking": self.count(Level::PotentiallyBreaking),
                "nonBreaking": self.count(Level::NonBreaking),
            },
            "changes": self.changes.iter().map(|c| json!({
                "rule": c.rule,
                "oasdiffId": c.oasdiff_id(),
                "level": c.level.as_str(),
                "operations": c.operations,
                "message": c.message,
                "oldPointer": c.old,
                "newPointer": c.new,
                "note": c.note,
                "also": c.also,
                "movedFrom": c.moved_from,
            })).collect::<Vec<_>>(),
            "notJudged": self.not_judged.iter().map(|n| json!({
                "keyword": n.keyword,
                "how": n.how,
                "pointer": n.pointer,
            })).collect::<Vec<_>>(),
        })
    }

    /// A Markdown report: summary, version advice, a table of every change, and a CHANGELOG
    /// draft. `api_version` and `facade_version` are the crates' current versions.
    pub fn markdown(&self, api_version: &str, facade_version: &str) -> String {
        let mut out = format!(
            "# API changes {} → {}\n\n{}.\n\nLevels are {}.\n\n",
            self.old_version,
            self.new_version,
            self.summary(),
            self.tolerance_line()
        );
        out.push_str(&self.advice(api_version, facade_version));
        out.push_str("\n## Changes\n\n");
        if self.changes.is_empty() {
            out.push_str("None.\n");
        } else {
            out.push_str(
                "| level | operation | change | old | new |\n| --- | --- | --- | --- | --- |\n",
            );
            for c in self.sorted() {
                let cell = |s: &str| s.replace('|', "\\|");
                let also: String = c
                    .also
                    .iter()
                    .map(|a| format!("<br>also {}", cell(a)))
                    .collect();
                out.push_str(&format!(
                    "| {} | {} | {}{also}{} | {} | {} |\n",
                    c.level,
                    cell(&c.operations.join(", ")),
                    cell(&c.message),
                    c.note
                        .as_deref()
                        .map(|n| format!(" *({})*", cell(n)))
                        .unwrap_or_default(),
                    c.old
                        .as_deref()
                        .map(|p| format!("`{}`", cell(p)))
                        .unwrap_or_default(),
                    c.new
                        .as_deref()
                        .map(|p| format!("`{}`", cell(p)))
                        .unwrap_or_default(),
                ));
            }
        }
        if !self.not_judged.is_empty() {
            out.push_str(
                "\n## Not judged\n\nNo rule reads these keywords; review them by hand.\n\n",
            );
            for n in &self.not_judged {
                out.push_str(&format!("* `{}` {} at `{}`\n", n.keyword, n.how, n.pointer));
            }
        }
        out.push_str("\n## CHANGELOG draft\n\n```markdown\n");
        out.push_str(&self.changelog());
        out.push_str("```\n");
        out
    }

    /// The suggested versions, in Markdown.
    pub fn advice(&self, api_version: &str, facade_version: &str) -> String {
        let (api, facade) = (self.api_bump(), self.facade_bump());
        format!(
            "## Version advice\n\n* `mpt-api` {api_version} → **{}** ({} bump: {}).\n* `mpt` {facade_version} → **{}** ({} bump: {}).\n",
            api.apply(api_version),
            api.as_str(),
            match api {
                Bump::Major => "a breaking change to the generated client",
                Bump::Minor => "additions or non-breaking changes to the generated client",
                _ => "nothing changed",
            },
            facade.apply(facade_version),
            facade.as_str(),
            match facade {
                Bump::Major =>
                    "a breaking change reaches types the facade exposes (`Token::raw`, `Problem`) or removes an operation",
                Bump::Patch => "rebuilt on the new client; its own API is unchanged by the spec",
                _ => "nothing changed",
            },
        )
    }

    /// A CHANGELOG entry (Keep a Changelog sections) the maintainer can paste.
    pub fn changelog(&self) -> String {
        let mut out = format!(
            "### Changed (API {} → {})\n",
            self.old_version, self.new_version
        );
        for (title, level) in [
            ("Breaking", Level::Breaking),
            ("Potentially breaking", Level::PotentiallyBreaking),
            ("Non-breaking", Level::NonBreaking),
        ] {
            let items: Vec<&Change> = self.changes.iter().filter(|c| c.level == level).collect();
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("- {title}:\n"));
            for c in items {
                out.push_str(&format!("  - {}{}\n", ops_prefix(&c.operations), c.message));
            }
        }
        out
    }
}
