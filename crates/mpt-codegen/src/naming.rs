//! The operationId naming rule (`rest-resource`): names people would write, and never one name
//! for two operations.
//!
//! Each operation is read as a verb on a resource, from its method and path (the `/public/vN`
//! prefix and a platform module's own segment left out):
//!
//! | path | `GET` | `POST` | `PUT`/`PATCH` | `DELETE` |
//! | --- | --- | --- | --- | --- |
//! | `/things` | `list_things` | `create_thing` | `update_things` | `delete_things` |
//! | `/things/{id}` | `get_thing` | `post_thing` | `update_thing` | `delete_thing` |
//! | `/things/{id}/parts` (a plural) | `list_parts` | `create_part` | `update_thing_parts` | `delete_thing_parts` |
//! | `/things/{id}/icon` (a singular) | `get_thing_icon` | `icon_thing` (an action) | `update_thing_icon` | `delete_thing_icon` |
//! | `/things/validate` | | `validate_things` | | |
//!
//! Collections are English plurals (`policies` → `policy`, `queries` → `query`, `media` stays);
//! a segment that is not a plural is an action (`POST .../publish` → `publish_thing`) or, read
//! with `GET`, a part of the resource (`icon`), except the read verbs of [`READ_VERBS`]
//! (`GET .../render` → `render_thing`). A `-` segment stands for every id
//! (`POST /things/-/refresh` → `refresh_things`).
//!
//! When two operations get one name, each is qualified by its parent resources, nearest first,
//! as far as that tells them apart (`get_document` → `get_product_document` and
//! `get_program_document`); operations still alike after every parent get `_2`, `_3`, ... in
//! the order of their path and method. Names fixed elsewhere (overrides, published ids) are
//! never taken. The result depends only on the set of operations, never on their order.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::inflect::{IRREGULAR, UNCOUNTABLE, is_plural, singular, singular_word};

/// Segments read with `GET` as a verb rather than a part of the resource.
pub const READ_VERBS: [&str; 1] = ["render"];

/// An operation as `(method, path template)`, the method in lower case.
pub type OperationKey = (String, String);

/// One operation read as a verb on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    verb: String,
    resource: String,
    /// Parent resources, nearest first, each singular.
    parents: Vec<String>,
    /// Parents always named (a part such as `icon` says little without its resource).
    always: usize,
}

impl Shape {
    fn name(&self, level: usize) -> String {
        let level = level.max(self.always).min(self.parents.len());
        let mut words: Vec<&str> = vec![&self.verb];
        words.extend(self.parents[..level].iter().rev().map(String::as_str));
        words.push(&self.resource);
        words.retain(|w| !w.is_empty());
        words.join("_")
    }
}

/// `policy-groups` → `policy_groups`.
fn snake(word: &str) -> String {
    word.replace('-', "_").to_ascii_lowercase()
}

fn is_param(segment: &str) -> bool {
    segment == "-" || segment.starts_with('{') && segment.ends_with('}')
}

/// The path's segments without the `/public` and `/vN` prefix, nor a leading module segment
/// that is followed by a collection (`/public/v1/catalog/products` → `products`; in
/// `/public/v1/accounts/{accountId}/users` the module is also the collection).
fn segments(route: &str) -> Vec<&str> {
    let mut segs: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    if segs.first() == Some(&"public") {
        segs.remove(0);
    }
    let is_version =
        |s: &str| s.len() > 1 && s.starts_with('v') && s[1..].chars().all(|c| c.is_ascii_digit());
    if segs.first().is_some_and(|s| is_version(s)) {
        segs.remove(0);
    }
    if segs.len() > 1 && !is_param(segs[0]) && !is_param(segs[1]) {
        segs.remove(0);
    }
    segs
}

/// Reads one operation as a verb on a resource; `None` when the path names no resource.
fn shape(method: &str, route: &str) -> Option<Shape> {
    let segs = segments(route);
    let method = method.to_ascii_lowercase();
    let last_word = segs.iter().rposition(|s| !is_param(s))?;
    let parents_of = |upto: usize| -> Vec<String> {
        segs[..upto]
            .iter()
            .rev()
            .filter(|s| !is_param(s))
            .map(|s| singular(s))
            .collect()
    };
    let word = segs[last_word];
    let item = last_word + 1 < segs.len();
    let after_param = last_word > 0 && is_param(segs[last_word - 1]);
    let update = |m: &str| matches!(m, "put" | "patch");
    let shape = if item {
        let verb = match method.as_str() {
            "get" => "get",
            m if update(m) => "update",
            "delete" => "delete",
            other => other,
        };
        Shape {
            verb: verb.into(),
            resource: singular(word),
            parents: parents_of(last_word),
            always: 0,
        }
    } else if is_plural(word) {
        let (verb, resource, always) = match method.as_str() {
            "get" => ("list", snake(word), 0),
            "post" => ("create", singular(word), 0),
            m if update(m) => ("update", snake(word), usize::from(after_param)),
            other => (other, snake(word), usize::from(after_param)),
        };
        Shape {
            verb: verb.into(),
            resource,
            parents: parents_of(last_word),
            always,
        }
    } else {
        // An action or a part of the resource that precedes it.
        let owner = segs[..last_word].iter().rposition(|s| !is_param(s));
        let parents = owner.map(|o| parents_of(o + 1)).unwrap_or_default();
        let (owner_name, rest) = match (owner, parents.split_first()) {
            // `/things/-/act` acts on every thing: the plural stays.
            (Some(o), Some((_, rest))) if !after_param || segs[last_word - 1] == "-" => {
                (snake(segs[o]), rest.to_vec())
            }
            (Some(_), Some((first, rest))) => (first.clone(), rest.to_vec()),
            _ => (String::new(), Vec::new()),
        };
        let action = snake(word);
        let (verb, resource) = match method.as_str() {
            "get" if READ_VERBS.contains(&word) => (action, owner_name),
            "get" => ("get".to_string(), join(&owner_name, &action)),
            m if update(m) => ("update".to_string(), join(&owner_name, &action)),
            "delete" => ("delete".to_string(), join(&owner_name, &action)),
            _ if owner_name.is_empty() => (action, String::new()),
            _ => (action, owner_name),
        };
        Shape {
            verb,
            resource,
            parents: rest,
            always: 0,
        }
    };
    Some(shape)
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}_{b}")
    }
}

/// A collection nested under another resource's item whose name is also a top-level collection's
/// of the module (`/account-users/{id}/groups` beside `/user-groups`) is a membership: its
/// operations always say the parent (`create_account_user_group`, `delete_account_user_group`),
/// not `create_group` as if they made a group.
fn qualify_memberships(ops: &mut [(&OperationKey, Shape)]) {
    let last_word = |s: &str| s.rsplit('-').next().unwrap_or(s).to_string();
    let top: BTreeSet<String> = ops
        .iter()
        .filter_map(|(key, _)| {
            let segs = segments(&key.1);
            let first = *segs.first()?;
            (segs.len() <= 2 && !is_param(first) && is_plural(first)).then(|| last_word(first))
        })
        .collect();
    for (key, shape) in ops.iter_mut() {
        let segs = segments(&key.1);
        let Some(at) = segs.iter().rposition(|s| !is_param(s)) else {
            continue;
        };
        let nested =
            at > 0 && is_param(segs[at - 1]) && segs[..at - 1].iter().all(|s| !is_param(s));
        // `/accounts/{accountId}/users`: the parent is the module itself, not a membership.
        let under_module = crate::split::module_of(&key.1).as_deref() == Some(segs[0]);
        if nested
            && !under_module
            && at == 2
            && is_plural(segs[at])
            && top.contains(segs[at])
            && !shape.parents.is_empty()
        {
            shape.always = shape.always.max(1);
        }
    }
}

/// The rule's name for one operation on its own (no other operation to tell it from).
pub fn rest_resource_id(method: &str, route: &str) -> Option<String> {
    shape(method, route).map(|s| s.name(0))
}

/// Names every operation of `operations` by the rule, each name unique and none of `taken`
/// (names fixed elsewhere). An operation the rule cannot name is left out of the answer.
pub fn name_operations(
    operations: &[OperationKey],
    taken: &BTreeSet<String>,
) -> BTreeMap<OperationKey, String> {
    let mut ops: Vec<(&OperationKey, Shape)> = operations
        .iter()
        .filter_map(|key| shape(&key.0, &key.1).map(|s| (key, s)))
        .collect();
    ops.sort_by(|a, b| (&a.0.1, &a.0.0).cmp(&(&b.0.1, &b.0.0)));
    ops.dedup_by(|a, b| a.0 == b.0);
    qualify_memberships(&mut ops);
    let mut levels = vec![0usize; ops.len()];
    loop {
        let names: Vec<String> = ops
            .iter()
            .zip(&levels)
            .map(|((_, s), l)| s.name(*l))
            .collect();
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for name in &names {
            *count.entry(name).or_default() += 1;
        }
        let mut changed = false;
        for (i, name) in names.iter().enumerate() {
            let clash = count[name.as_str()] > 1 || taken.contains(name);
            let shape = &ops[i].1;
            if clash && levels[i].max(shape.always) < shape.parents.len() {
                levels[i] = levels[i].max(shape.always) + 1;
                changed = true;
            }
        }
        if !changed {
            return number_the_rest(&ops, &names, taken);
        }
    }
}

/// Names still shared after every parent: `_2`, `_3`, ... in the order of path and method.
fn number_the_rest(
    ops: &[(&OperationKey, Shape)],
    names: &[String],
    taken: &BTreeSet<String>,
) -> BTreeMap<OperationKey, String> {
    let mut used: BTreeSet<String> = taken.clone();
    let mut out = BTreeMap::new();
    // First the names nobody else wants, so a numbered name never takes one of them.
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for name in names {
        *count.entry(name).or_default() += 1;
    }
    for ((key, _), name) in ops.iter().zip(names) {
        if count[name.as_str()] == 1 && !taken.contains(name) {
            used.insert(name.clone());
            out.insert((*key).clone(), name.clone());
        }
    }
    for ((key, _), name) in ops.iter().zip(names) {
        if out.contains_key(*key) {
            continue;
        }
        let mut candidate = name.clone();
        let mut n = 1;
        while used.contains(&candidate) {
            n += 1;
            candidate = format!("{name}_{n}");
        }
        used.insert(candidate.clone());
        out.insert((*key).clone(), candidate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(method: &str, route: &str) -> String {
        rest_resource_id(method, route).unwrap_or_default()
    }

    #[test]
    fn english_singulars_and_verbs() {
        assert_eq!(
            one("post", "/public/v1/catalog/categories"),
            "create_category"
        );
        assert_eq!(
            one("put", "/public/v1/notifications/queries/{id}"),
            "update_query"
        );
        assert_eq!(
            one("get", "/public/v1/catalog/pricing-policies"),
            "list_pricing_policies"
        );
        assert_eq!(
            one("post", "/public/v1/catalog/pricing-policies"),
            "create_pricing_policy"
        );
        assert_eq!(one("get", "/public/v1/commerce/orders/{id}"), "get_order");
        assert_eq!(
            one("delete", "/public/v1/commerce/orders/{id}"),
            "delete_order"
        );
        assert_eq!(
            one("post", "/public/v1/commerce/orders/{id}/validate"),
            "validate_order"
        );
        assert_eq!(
            one("get", "/public/v1/accounts/users/{id}/icon"),
            "get_user_icon"
        );
        assert_eq!(
            one("get", "/public/v1/notifications/templates/{id}/render"),
            "render_template"
        );
        assert_eq!(
            one("post", "/public/v1/catalog/units-of-measure"),
            "create_unit_of_measure"
        );
        assert_eq!(one("post", "/public/v1/catalog/batches"), "create_batch");
        assert_eq!(one("get", "/public/v1/accounts/accounts"), "list_accounts");
        assert_eq!(
            one("post", "/public/v1/spotlight/objects/-/refresh"),
            "refresh_objects"
        );
        assert_eq!(
            one("post", "/public/v1/spotlight/objects/{id}/refresh"),
            "refresh_object"
        );
        assert_eq!(
            one("post", "/public/v1/program/enrollments/validate"),
            "validate_enrollments"
        );
        assert_eq!(
            one(
                "put",
                "/public/v1/accounts/{accountId}/users/{userId}/groups"
            ),
            "update_user_groups"
        );
        assert_eq!(
            one("get", "/public/v1/catalog/products/{productId}/media"),
            "list_media"
        );
    }

    #[test]
    fn the_api_tokens_keep_their_names() {
        let base = "/public/v1/accounts/api-tokens";
        assert_eq!(one("get", base), "list_api_tokens");
        assert_eq!(one("post", base), "create_api_token");
        assert_eq!(one("get", &format!("{base}/{{id}}")), "get_api_token");
        assert_eq!(one("put", &format!("{base}/{{id}}")), "update_api_token");
        assert_eq!(one("delete", &format!("{base}/{{id}}")), "delete_api_token");
        assert_eq!(
            one("post", &format!("{base}/{{id}}/enable")),
            "enable_api_token"
        );
        assert_eq!(
            one("post", &format!("{base}/{{id}}/disable")),
            "disable_api_token"
        );
    }

    fn keys(ops: &[(&str, &str)]) -> Vec<OperationKey> {
        ops.iter()
            .map(|(m, r)| (m.to_string(), r.to_string()))
            .collect()
    }

    #[test]
    fn alike_operations_are_told_apart_by_their_parents() {
        let ops = keys(&[
            (
                "get",
                "/public/v1/catalog/products/{productId}/documents/{id}",
            ),
            (
                "get",
                "/public/v1/program/programs/{programId}/documents/{id}",
            ),
            ("get", "/public/v1/catalog/items/{id}"),
        ]);
        let names = name_operations(&ops, &BTreeSet::new());
        assert_eq!(names[&ops[0]], "get_product_document");
        assert_eq!(names[&ops[1]], "get_program_document");
        assert_eq!(names[&ops[2]], "get_item");
    }

    #[test]
    fn no_two_operations_share_a_name_and_the_order_does_not_matter() {
        let ops = keys(&[
            (
                "delete",
                "/public/v1/accounts/{accountId}/users/{userId}/groups/{userGroupId}",
            ),
            ("delete", "/public/v1/accounts/user-groups/{id}"),
            ("delete", "/public/v1/accounts/groups/{id}"),
            ("get", "/public/v1/accounts/{accountId}/users/{userId}"),
            ("get", "/public/v1/accounts/account-users/{id}"),
            ("get", "/public/v1/accounts/users/{id}"),
            ("get", "/a/{x}/things"),
            ("get", "/b/{x}/things"),
            ("get", "/things"),
        ]);
        let taken = BTreeSet::from(["get_user".to_string()]);
        let names = name_operations(&ops, &taken);
        assert_eq!(names.len(), ops.len());
        let unique: BTreeSet<&String> = names.values().collect();
        assert_eq!(unique.len(), ops.len(), "{names:#?}");
        assert!(!names.values().any(|n| n == "get_user"), "{names:#?}");
        let mut reversed = ops.clone();
        reversed.reverse();
        assert_eq!(name_operations(&reversed, &taken), names);
        assert_eq!(names[&ops[1]], "delete_user_group");
        assert_eq!(names[&ops[2]], "delete_group");
    }

    #[test]
    fn uncountables_are_collections_and_a_membership_says_its_parent() {
        assert_eq!(one("get", "/public/v1/x/feedback"), "list_feedback");
        assert_eq!(one("post", "/public/v1/x/feedback"), "create_feedback");
        assert_eq!(one("get", "/public/v1/x/feedback/{id}"), "get_feedback");
        assert_eq!(one("get", "/public/v1/x/species"), "list_species");
        assert_eq!(one("post", "/public/v1/x/people"), "create_person");
        assert_eq!(one("get", "/public/v1/x/analyses/{id}"), "get_analysis");
        let ops = keys(&[
            ("post", "/public/v1/accounts/user-groups"),
            ("post", "/public/v1/accounts/account-users/{id}/groups"),
            (
                "delete",
                "/public/v1/accounts/account-users/{id}/groups/{userGroupId}",
            ),
            ("post", "/public/v1/accounts/{accountId}/users"),
        ]);
        let names = name_operations(&ops, &BTreeSet::new());
        assert_eq!(
            names[&ops[1]], "create_account_user_group",
            "a membership says its parent"
        );
        assert_eq!(names[&ops[2]], "delete_account_user_group");
        assert_eq!(names[&ops[3]], "create_user", "the module is no parent");
    }
}
