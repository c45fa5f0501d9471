//! Names matched on the client: the parts of a filter RQL cannot write (a value holding both
//! `'` and `"`), checked on each token of the platform's answer.

/// A check of a token's name made on the client, for a value RQL cannot quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exact {
    /// The name is exactly this.
    Name(String),
    /// The name matches this pattern, case-insensitively (`*`: any run of characters).
    NameLike(String),
}

impl Exact {
    pub(crate) fn passes(&self, name: Option<&str>) -> bool {
        let Some(name) = name else { return false };
        match self {
            Exact::Name(want) => name == want,
            Exact::NameLike(pattern) => glob_ci(pattern, name),
        }
    }
}

/// Whether `text` matches `pattern` case-insensitively, `*` matching any run of characters.
fn glob_ci(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // Greedy with backtracking to the last star: linear in practice, never exponential.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_rql() {
        assert!(glob_ci("a*c", "ABC"));
        assert!(glob_ci("*", ""));
        assert!(glob_ci("a**", "a"));
        assert!(glob_ci("*b*b*", "abcbd"));
        assert!(!glob_ci("a*c", "abd"));
        assert!(!glob_ci("abc", "abcd"));
        assert!(glob_ci("ä*", "Äpfel"));
    }
}
