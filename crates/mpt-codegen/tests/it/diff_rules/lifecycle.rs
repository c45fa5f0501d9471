//! Issue 36 item 2: deprecation, sunset and stability, with oasdiff's rules as the reference and
//! the SDK's semver view where it differs, in 3.0 and 3.1 spellings, requests and responses.

use mpt_codegen::oas31::normalize;

use super::platform::only_change_between;
use super::*;

/// `doc` as a normalized 3.1 document (these rules read nothing 3.0 and 3.1 spell apart, so the
/// verdicts must be the same).
fn as31(doc: &Value) -> Value {
    let mut d = doc.clone();
    d["openapi"] = json!("3.1.0");
    normalize(&d)
}

fn rule_of(old: &Value, new: &Value) -> (&'static str, Level) {
    let c = only_change_between(old, new, ours());
    (c.rule, c.level)
}

#[test]
fn an_operation_deprecated_reactivated_and_its_sunset() {
    for spell in [|d: &Value| d.clone(), as31] {
        let old = spell(&base());
        let mut new = old.clone();
        at(&mut new, GET)["deprecated"] = json!(true);
        assert_eq!(
            rule_of(&old, &new),
            ("operation-deprecated", Level::NonBreaking)
        );
        assert_eq!(
            rule_of(&new, &old),
            ("operation-reactivated", Level::NonBreaking)
        );
        // With a sunset: still non-breaking, and the message names it.
        at(&mut new, GET)["x-sunset"] = json!("2999-01-31");
        let c = only_change_between(&old, &new, ours());
        assert!(c.message.contains("2999-01-31"), "{}", c.message);
        // A sunset moved earlier or deleted breaks; later does not.
        let mut earlier = new.clone();
        at(&mut earlier, GET)["x-sunset"] = json!("2998-01-31");
        assert_eq!(
            rule_of(&new, &earlier),
            ("sunset-moved-earlier", Level::Breaking)
        );
        assert!(compare(&earlier, &new, ours()).changes.is_empty());
        let mut deleted = new.clone();
        at(&mut deleted, GET)
            .as_object_mut()
            .unwrap()
            .remove("x-sunset");
        assert_eq!(rule_of(&new, &deleted), ("sunset-deleted", Level::Breaking));
        // A sunset that does not parse breaks.
        let mut bad = new.clone();
        at(&mut bad, GET)["x-sunset"] = json!("next spring");
        let report = compare(&new, &bad, ours());
        assert!(
            report
                .changes
                .iter()
                .any(|c| c.rule == "sunset-unparseable" && c.level == Level::Breaking),
            "{}",
            report.text()
        );
    }
}

#[test]
fn an_operation_removed_with_or_without_deprecation_or_before_its_sunset() {
    let gone = |d: &Value| {
        let mut d = d.clone();
        d["paths"].as_object_mut().unwrap().remove("/widgets/{id}");
        d
    };
    for spell in [|d: &Value| d.clone(), as31] {
        let old = spell(&base());
        assert_eq!(
            rule_of(&old, &gone(&old)),
            ("operation-removed", Level::Breaking)
        );
        // Deprecated first: oasdiff says INFO; a Rust method disappears, so it still breaks.
        let mut deprecated = old.clone();
        at(&mut deprecated, GET)["deprecated"] = json!(true);
        let c = only_change_between(&deprecated, &gone(&deprecated), ours());
        assert_eq!(
            (c.rule, c.level),
            ("operation-removed-after-deprecation", Level::Breaking)
        );
        assert!(c.note.as_deref().unwrap_or("").contains("SDK semver"));
        // Before its sunset.
        at(&mut deprecated, GET)["x-sunset"] = json!("2999-12-31");
        assert_eq!(
            rule_of(&deprecated, &gone(&deprecated)),
            ("operation-removed-before-sunset", Level::Breaking)
        );
        // After its sunset: as after deprecation.
        at(&mut deprecated, GET)["x-sunset"] = json!("2001-01-01T00:00:00Z");
        assert_eq!(
            rule_of(&deprecated, &gone(&deprecated)),
            ("operation-removed-after-deprecation", Level::Breaking)
        );
    }
}

#[test]
fn parameters_and_properties_deprecated_both_directions() {
    for spell in [|d: &Value| d.clone(), as31] {
        let old = spell(&base());
        let mut new = old.clone();
        at(&mut new, SELECT)["deprecated"] = json!(true);
        assert_eq!(
            rule_of(&old, &new),
            ("parameter-deprecated", Level::NonBreaking)
        );
        assert_eq!(
            rule_of(&new, &old),
            ("parameter-reactivated", Level::NonBreaking)
        );
        let mut new = old.clone();
        at(&mut new, NAME)["deprecated"] = json!(true);
        assert_eq!(
            rule_of(&old, &new),
            ("request-property-deprecated", Level::NonBreaking)
        );
        assert_eq!(
            rule_of(&new, &old),
            ("request-property-reactivated", Level::NonBreaking)
        );
        let mut new = old.clone();
        at(&mut new, ID)["deprecated"] = json!(true);
        assert_eq!(
            rule_of(&old, &new),
            ("response-property-deprecated", Level::NonBreaking)
        );
        assert_eq!(
            rule_of(&new, &old),
            ("response-property-reactivated", Level::NonBreaking)
        );
    }
}

#[test]
fn stability_levels_gate_what_breaks() {
    for spell in [|d: &Value| d.clone(), as31] {
        let old = spell(&base());
        let mut beta = old.clone();
        at(&mut beta, POST)["x-stability-level"] = json!("beta");
        // No level is stable: stable → beta decreases, back increases.
        assert_eq!(
            rule_of(&old, &beta),
            ("stability-decreased", Level::Breaking)
        );
        assert_eq!(
            rule_of(&beta, &old),
            ("stability-increased", Level::NonBreaking)
        );
        let mut bad = old.clone();
        at(&mut bad, POST)["x-stability-level"] = json!("banana");
        assert_eq!(
            rule_of(&old, &bad),
            ("stability-level-invalid", Level::Breaking)
        );
        // An alpha operation is free to change: a new required request property does not break
        // (it would on beta), nor does its removal.
        for (level, expected) in [
            ("alpha", Level::NonBreaking),
            ("draft", Level::NonBreaking),
            ("beta", Level::Breaking),
        ] {
            let mut a = old.clone();
            at(&mut a, POST)["x-stability-level"] = json!(level);
            let mut b = a.clone();
            at(&mut b, NEW_WIDGET)["required"] = json!(["name", "size"]);
            let c = only_change_between(&a, &b, ours());
            assert_eq!(
                (c.rule, c.level),
                ("request-property-became-required", expected),
                "{level}"
            );
            let mut gone = a.clone();
            gone["paths"].as_object_mut().unwrap().remove("/widgets");
            let c = only_change_between(&a, &gone, ours());
            assert_eq!(
                (c.rule, c.level),
                ("operation-removed", expected),
                "{level}"
            );
        }
    }
}

#[test]
fn x_extensible_enum_is_open_in_responses_and_judged_in_requests() {
    let state = format!("{WIDGET}/properties/state");
    let colour = format!("{NEW_WIDGET}/properties/colour");
    let mut old = base();
    for p in [&state, &colour] {
        let values = at(&mut old, p)
            .as_object_mut()
            .unwrap()
            .remove("enum")
            .unwrap();
        at(&mut old, p)["x-extensible-enum"] = values;
    }
    for old in [old.clone(), as31(&old)] {
        // Strict reading: a closed enum would break on a new response value; this one is open.
        let mut new = old.clone();
        at(&mut new, &state)["x-extensible-enum"]
            .as_array_mut()
            .unwrap()
            .push(json!("Idle"));
        let c = only_change_between(&old, &new, Tolerance::strict());
        assert_eq!(
            (c.rule, c.level),
            ("response-enum-value-added", Level::NonBreaking)
        );
        let mut new = old.clone();
        at(&mut new, &colour)["x-extensible-enum"] = json!(["red"]);
        let c = only_change_between(&old, &new, Tolerance::strict());
        assert_eq!(
            (c.rule, c.level),
            ("request-extensible-enum-value-removed", Level::Breaking)
        );
        assert_eq!(
            c.oasdiff_id(),
            Some("request-property-x-extensible-enum-value-removed")
        );
    }
}

#[test]
fn json_rows_carry_the_oasdiff_id_and_an_ignore_file_accepts_a_reviewed_break() {
    let mut new = base();
    new["paths"]
        .as_object_mut()
        .unwrap()
        .remove("/widgets/{id}");
    at(&mut new, NEW_WIDGET)["required"] = json!(["name", "size"]);
    let report = compare(&base(), &new, ours());
    let json = report.json();
    let ids: Vec<(&str, &str)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["rule"].as_str().unwrap(),
                c["oasdiffId"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        ids.contains(&("operation-removed", "api-removed-without-deprecation")),
        "{ids:?}"
    );
    assert!(
        ids.contains(&(
            "request-property-became-required",
            "request-property-became-required"
        )),
        "{ids:?}"
    );
    assert_eq!(report.count(Level::Breaking), 2);
    // oasdiff's id, any case, extra text: accepted. Our id works too.
    let ignore = "# reviewed 2026-12-05\n - In get /widgets/{id} we did API-REMOVED-WITHOUT-DEPRECATION on purpose\n";
    let (kept, accepted) = report.clone().without_ignored(ignore);
    assert_eq!(accepted, 1);
    assert_eq!(kept.count(Level::Breaking), 1);
    let (_, accepted) = report
        .clone()
        .without_ignored("POST /widgets request-property-became-required");
    assert_eq!(accepted, 1);
    // The rule without the operation, another operation, or a commented line: nothing.
    for line in [
        "api-removed-without-deprecation",
        "POST /widgets api-removed-without-deprecation",
        "# GET /widgets/{id} api-removed-without-deprecation",
        "GET /widgets/{id}",
    ] {
        let (kept, accepted) = report.clone().without_ignored(line);
        assert_eq!((accepted, kept.count(Level::Breaking)), (0, 2), "{line}");
    }
}

#[test]
fn a_grace_period_requires_a_sunset_far_enough_away() {
    let strict = Tolerance {
        deprecation_days: 180,
        ..ours()
    };
    for spell in [|d: &Value| d.clone(), as31] {
        let old = spell(&base());
        let mut new = old.clone();
        at(&mut new, GET)["deprecated"] = json!(true);
        // Without a grace period (the default, as oasdiff's): no sunset needed.
        assert_eq!(
            rule_of(&old, &new),
            ("operation-deprecated", Level::NonBreaking)
        );
        let rules = |a: &Value, b: &Value| -> Vec<(&'static str, Level)> {
            compare(a, b, strict)
                .changes
                .iter()
                .map(|c| (c.rule, c.level))
                .collect()
        };
        assert_eq!(
            rules(&old, &new),
            [
                ("sunset-missing", Level::Breaking),
                ("operation-deprecated", Level::NonBreaking)
            ]
        );
        at(&mut new, GET)["x-sunset"] = json!("2001-01-01");
        assert_eq!(
            rules(&old, &new),
            [
                ("sunset-too-soon", Level::Breaking),
                ("operation-deprecated-with-sunset", Level::NonBreaking)
            ]
        );
        at(&mut new, GET)["x-sunset"] = json!("2999-01-01");
        assert_eq!(
            rules(&old, &new),
            [("operation-deprecated-with-sunset", Level::NonBreaking)]
        );
        // A parameter too.
        let mut new = old.clone();
        at(&mut new, SELECT)["deprecated"] = json!(true);
        assert_eq!(
            rules(&old, &new),
            [
                ("sunset-missing", Level::Breaking),
                ("parameter-deprecated", Level::NonBreaking)
            ]
        );
    }
}

/// The generated client carries what the spec deprecates: today's spec deprecates
/// `ModuleSettings.sharedAccount`, and `generated.rs` (checked by `regen --check`) marks it.
#[test]
fn the_generated_client_marks_what_the_spec_deprecates() {
    let generated = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mpt-api/src/generated.rs"),
    )
    .unwrap();
    let field = generated
        .find("pub shared_account:")
        .expect("ModuleSettings.shared_account");
    let before = &generated[..field];
    let attr = before
        .rfind("#[deprecated(")
        .expect("a #[deprecated] attribute");
    assert!(
        !before[attr..].contains("pub "),
        "the attribute belongs to another item"
    );
    assert!(before[attr..].contains("the platform deprecated this field"));
}

#[test]
fn a_property_stability_level_decreased_breaks_both_directions() {
    for spell in [|d: &Value| d.clone(), as31] {
        let old = spell(&base());
        for (place, dir) in [(NAME, "request"), (ID, "response")] {
            let mut beta = old.clone();
            at(&mut beta, place)["x-stability-level"] = json!("beta");
            let c = only_change_between(&old, &beta, ours());
            assert_eq!(c.level, Level::Breaking, "{c:?}");
            assert_eq!(c.rule, format!("{dir}-property-stability-decreased"));
            let c = only_change_between(&beta, &old, ours());
            assert_eq!(c.level, Level::NonBreaking, "{c:?}");
            assert_eq!(c.rule, format!("{dir}-property-stability-increased"));
        }
    }
}

/// Adversarial case l03 (`2027-02-30`): a sunset that is shaped like a date but is no day of
/// the calendar does not parse; a leap day does.
#[test]
fn an_impossible_sunset_date_is_unparseable() {
    let mut old = base();
    at(&mut old, GET)["deprecated"] = json!(true);
    for (date, parses) in [
        ("2027-02-30", false),
        ("2027-02-29", false),
        ("2027-04-31", false),
        ("2027-13-01", false),
        ("2028-02-29", true),
        ("2027-12-31T00:00:00Z", true),
    ] {
        let mut new = old.clone();
        at(&mut new, GET)["x-sunset"] = json!(date);
        let report = compare(&old, &new, ours());
        let unparseable = report
            .changes
            .iter()
            .any(|c| c.rule == "sunset-unparseable" && c.level == Level::Breaking);
        assert_eq!(unparseable, !parses, "{date}: {}", report.text());
    }
}
