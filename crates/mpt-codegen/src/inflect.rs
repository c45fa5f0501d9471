//! English plurals and singulars of path segments, for the naming rule ([`crate::naming`]):
//! rules for the regular plurals, a table for the irregular ones, and the uncountable words that
//! name a collection as they are.

/// Words whose plural is the word itself (a collection all the same).
pub const UNCOUNTABLE: [&str; 8] = [
    "media",
    "data",
    "metadata",
    "feedback",
    "information",
    "news",
    "series",
    "species",
];

/// Plurals the rules below would get wrong: `(plural, singular)`.
pub const IRREGULAR: [(&str, &str); 21] = [
    ("analyses", "analysis"),
    ("indices", "index"),
    ("movies", "movie"),
    ("cookies", "cookie"),
    ("caches", "cache"),
    ("gases", "gas"),
    ("aliases", "alias"),
    ("heroes", "hero"),
    ("quizzes", "quiz"),
    ("matrices", "matrix"),
    ("vertices", "vertex"),
    ("theses", "thesis"),
    ("crises", "crisis"),
    ("diagnoses", "diagnosis"),
    ("knives", "knife"),
    ("wolves", "wolf"),
    ("children", "child"),
    ("people", "person"),
    ("criteria", "criterion"),
    ("men", "man"),
    ("women", "woman"),
];

/// Whether a path segment names a collection: its last word is an English plural.
pub fn is_plural(segment: &str) -> bool {
    let last = segment.rsplit('-').next().unwrap_or(segment);
    let first = segment.split('-').next().unwrap_or(segment);
    if UNCOUNTABLE.contains(&last)
        || IRREGULAR.iter().any(|(plural, _)| *plural == last)
        || segment.contains("-of-") && is_plural(first)
    {
        return true;
    }
    last.len() > 2 && last.ends_with('s') && !last.ends_with("ss") && !last.ends_with("us")
}

/// The English singular of one word: `policies` → `policy`, `addresses` → `address`,
/// `batches` → `batch`, `orders` → `order`; uncountable words and non-plurals stay.
pub fn singular_word(word: &str) -> String {
    if UNCOUNTABLE.contains(&word) || word.len() <= 2 {
        return word.to_string();
    }
    if let Some((_, one)) = IRREGULAR.iter().find(|(plural, _)| *plural == word) {
        return one.to_string();
    }
    if let Some(stem) = word.strip_suffix("yses") {
        return format!("{stem}ysis");
    }
    if let Some(stem) = word.strip_suffix("zzes") {
        return format!("{stem}z");
    }
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["sses", "xes", "ches", "shes", "uses"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            return format!("{stem}{}", &suffix[..suffix.len() - 2]);
        }
    }
    match word.strip_suffix('s') {
        Some(stem) if !stem.ends_with('s') && !stem.ends_with('u') => stem.to_string(),
        _ => word.to_string(),
    }
}

/// The singular of a segment, in snake case: the last word made singular
/// (`pricing-policies` → `pricing_policy`), or the first of an `X-of-Y` name
/// (`units-of-measure` → `unit_of_measure`).
pub fn singular(segment: &str) -> String {
    let words: Vec<&str> = segment.split('-').collect();
    let at = match words.iter().position(|w| *w == "of") {
        Some(of) if of > 0 => of - 1,
        _ => words.len() - 1,
    };
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == at {
                singular_word(&w.to_ascii_lowercase())
            } else {
                w.to_ascii_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singulars() {
        for (plural, one) in [
            ("policies", "policy"),
            ("categories", "category"),
            ("queries", "query"),
            ("addresses", "address"),
            ("batches", "batch"),
            ("statuses", "status"),
            ("media", "media"),
            ("orders", "order"),
            ("process", "process"),
            ("analyses", "analysis"),
            ("news", "news"),
            ("series", "series"),
            ("species", "species"),
            ("indices", "index"),
            ("movies", "movie"),
            ("cookies", "cookie"),
            ("caches", "cache"),
            ("gases", "gas"),
            ("aliases", "alias"),
            ("heroes", "hero"),
            ("quizzes", "quiz"),
            ("matrices", "matrix"),
            ("vertices", "vertex"),
            ("theses", "thesis"),
            ("crises", "crisis"),
            ("diagnoses", "diagnosis"),
            ("knives", "knife"),
            ("wolves", "wolf"),
            ("children", "child"),
            ("people", "person"),
            ("criteria", "criterion"),
            ("men", "man"),
            ("feedback", "feedback"),
            ("information", "information"),
            ("data", "data"),
            ("invoices", "invoice"),
            ("licenses", "license"),
            ("archives", "archive"),
            ("batches", "batch"),
        ] {
            assert_eq!(singular_word(plural), one);
        }
        assert!(is_plural("pricing-policies") && is_plural("media"));
        for collection in [
            "children", "people", "criteria", "men", "feedback", "news", "series",
        ] {
            assert!(is_plural(collection), "{collection}");
        }
        assert!(!is_plural("process") && !is_plural("publish") && !is_plural("status"));
    }
}
