//! Where a removed operation went: a path that gained (or lost) a module prefix
//! (`/v1/items/{id}` → `/v1/catalog/items/{id}`), or an alias dropped while its twin (the same
//! operation, published at another path in the old document) remains.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ops::Operation;

/// The key of an operation: `(method, route key)`.
pub(super) type Key = (String, String);

/// Where a removed operation went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Move {
    /// The new operation's key.
    pub(super) to: Key,
    /// The target existed in the old document already (the removed one was its alias).
    pub(super) twin: bool,
}

/// The segments of a route key (`/a/{}/b` → `a`, `{}`, `b`).
fn segments(route: &str) -> Vec<&str> {
    route.split('/').filter(|s| !s.is_empty()).collect()
}

/// Two literal segments name the same resource: equal, or one is the other with a `-` affix
/// (`product-items` / `items`, `terms-and-conditions` / `terms`).
fn same_resource(a: &str, b: &str) -> bool {
    let affix = |long: &str, short: &str| {
        long.strip_suffix(short).is_some_and(|r| r.ends_with('-'))
            || long.strip_prefix(short).is_some_and(|r| r.starts_with('-'))
    };
    a == b || affix(a, b) || affix(b, a)
}

/// Whether `old` and `new` (route keys) are one route with at most one literal segment added or
/// removed (a module prefix) and literal segments that name the same resources; `Some(exact)`
/// counts the literal segments that are equal.
fn aligned(old: &str, new: &str) -> Option<usize> {
    let (o, n) = (segments(old), segments(new));
    let pairwise = |a: &[&str], b: &[&str]| -> Option<usize> {
        let mut exact = 0;
        for (x, y) in a.iter().zip(b) {
            match (*x == "{}", *y == "{}") {
                (true, true) => {}
                (false, false) if same_resource(x, y) => exact += usize::from(x == y),
                _ => return None,
            }
        }
        Some(exact)
    };
    let without = |long: &[&str], short: &[&str]| {
        (0..long.len())
            // A module prefix comes before a resource name: never last, never before a parameter.
            .filter(|&i| long[i] != "{}" && long.get(i + 1).is_some_and(|next| *next != "{}"))
            .filter_map(|i| {
                let mut rest = long.to_vec();
                rest.remove(i);
                pairwise(&rest, short)
            })
            .max()
    };
    match n.len() as isize - o.len() as isize {
        0 => pairwise(&o, &n),
        1 => without(&n, &o),
        -1 => without(&o, &n),
        _ => None,
    }
}

/// An operation with what does not change what is sent or read left out (summary, description,
/// tags, `deprecated`, operationId, extensions): two equal signatures are one operation.
fn signature(op: &Value) -> Value {
    let mut op = op.clone();
    if let Some(obj) = op.as_object_mut() {
        obj.retain(|k, _| {
            !matches!(
                k.as_str(),
                "summary" | "description" | "tags" | "deprecated" | "operationId"
            ) && !k.starts_with("x-")
        });
    }
    op
}

/// Where each operation of `removed` (old keys absent from `new_ops`) went, when one place is
/// clearly best: an added operation whose path aligns (its module prefix added or dropped), or
/// an operation of both documents whose old definition is the same as the removed one's.
pub(super) fn path_moves(
    removed: &[&Key],
    old_ops: &BTreeMap<Key, Operation<'_>>,
    new_ops: &BTreeMap<Key, Operation<'_>>,
) -> BTreeMap<Key, Move> {
    let mut out = BTreeMap::new();
    let mut claims: BTreeMap<Key, usize> = BTreeMap::new();
    for key in removed {
        let old = &old_ops[*key];
        let mut best: Option<((bool, usize), Move)> = None;
        let mut tie = false;
        for (to, _) in new_ops.iter().filter(|(k, _)| k.0 == key.0) {
            let Some(exact) = aligned(&key.1, &to.1) else {
                continue;
            };
            let twin = old_ops.get(to);
            let same = twin.is_some_and(|t| signature(t.op) == signature(old.op));
            if twin.is_some() && !same {
                continue;
            }
            let score = (same, exact);
            let candidate = Move {
                to: to.clone(),
                twin: twin.is_some(),
            };
            match &best {
                Some((s, _)) if *s > score => {}
                Some((s, _)) if *s == score => tie = true,
                _ => {
                    best = Some((score, candidate));
                    tie = false;
                }
            }
        }
        if let (Some((_, m)), false) = (best, tie) {
            if !m.twin {
                *claims.entry(m.to.clone()).or_default() += 1;
            }
            out.insert((*key).clone(), m);
        }
    }
    // An added operation two removed ones could have become is neither's: ambiguous.
    out.retain(|_, m| m.twin || claims.get(&m.to) == Some(&1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_prefix_or_a_resource_affix_aligns_and_other_routes_do_not() {
        assert_eq!(
            aligned("/public/v1/items/{}", "/public/v1/catalog/items/{}"),
            Some(3)
        );
        assert_eq!(
            aligned("/public/v1/product-items/{}", "/public/v1/catalog/items/{}"),
            Some(2)
        );
        assert_eq!(
            aligned(
                "/v1/products/{}/terms-and-conditions",
                "/v1/products/{}/terms"
            ),
            Some(2)
        );
        assert_eq!(aligned("/v1/items/{}", "/v1/items/{}/publish"), None);
        assert_eq!(aligned("/v1/items/{}", "/v1/orders/{}"), None);
        assert_eq!(aligned("/v1/items", "/v1/catalog/listings/items"), None);
    }
}
