//! Issue 35 item 7: the platform's real history. Each side's `servers` base path is joined to its
//! paths, an endpoint that moved under a module prefix (or an alias whose twin remains) is a
//! move, and a request media type the SDK never sends is not judged as if it were sent. Small
//! fixtures shaped like `marketplace-2024-10-12.json` and `marketplace-4.0.2162.json`.

use super::*;

fn item_list() -> Value {
    json!({
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}
    })
}

fn item_create() -> Value {
    json!({
        "requestBody": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Item"}},
            "text/json": {"schema": {"$ref": "#/components/schemas/Item"}},
            "application/*+json": {"schema": {"$ref": "#/components/schemas/Item"}}
        }},
        "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}
    })
}

/// The 2024 shape: `servers` ends in `/public`, paths start at `/v1/`, and the items live both
/// at a deprecated alias (`/v1/items`) and under their module (`/v1/catalog/items`).
fn old_platform() -> Value {
    let mut alias = item_list();
    alias["deprecated"] = json!(true);
    json!({
        "openapi": "3.0.1",
        "info": {"title": "Marketplace", "version": "1.0"},
        "servers": [{"url": "https://api.platform.softwareone.com/public"}],
        "paths": {
            "/v1/items": {"get": alias},
            "/v1/catalog/items": {"get": item_list(), "post": item_create()},
            "/v1/orders/{id}": {"get": item_list()}
        },
        "components": {"schemas": {"Item": {"type": "object", "properties": {"id": {"type": "string"}}}}}
    })
}

/// The 4.0 shape: no `servers`, paths start with `/public/v1/<module>/`.
fn new_platform() -> Value {
    json!({
        "openapi": "3.0.1",
        "info": {"title": "Marketplace", "version": "4.0.2162"},
        "paths": {
            "/public/v1/catalog/items": {"get": item_list(), "post": item_create()},
            "/public/v1/commerce/orders/{id}": {"get": item_list()}
        },
        "components": {"schemas": {"Item": {"type": "object", "properties": {"id": {"type": "string"}}}}}
    })
}

#[test]
fn the_servers_base_path_is_joined_to_the_paths() {
    // The same API published once with `servers: …/public` and paths at `/v1/`, once with the
    // base in every path: nothing changed.
    let mut joined = old_platform();
    joined.as_object_mut().unwrap().remove("servers");
    let paths: serde_json::Map<String, Value> = joined["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, v)| (format!("/public{p}"), v.clone()))
        .collect();
    joined["paths"] = Value::Object(paths);
    let report = compare(&old_platform(), &joined, ours());
    assert!(report.changes.is_empty(), "{}", report.text());
    // A relative server URL, a trailing slash and a server variable are joined the same way.
    for servers in [
        json!([{"url": "/public/"}]),
        json!([{"url": "https://{host}/{base}", "variables": {"host": {"default": "h"}, "base": {"default": "public"}}}]),
    ] {
        let mut old = old_platform();
        old["servers"] = servers;
        let report = compare(&old, &joined, ours());
        assert!(report.changes.is_empty(), "{}", report.text());
    }
    // Without the join every old operation would be gone: the base path is what makes them meet.
    let mut unjoined = old_platform();
    unjoined.as_object_mut().unwrap().remove("servers");
    let report = compare(&unjoined, &joined, ours());
    assert!(
        report.changes.iter().all(|c| c.rule != "operation-removed"),
        "a path that only gained the base prefix is a move, not a removal: {}",
        report.text()
    );
}

#[test]
fn an_endpoint_under_a_new_module_prefix_is_a_move_and_still_breaks() {
    let report = compare(&old_platform(), &new_platform(), ours());
    let moves: Vec<_> = report
        .changes
        .iter()
        .filter(|c| {
            c.rule == "operation-method-or-path-changed"
                || c.rule == "operation-moved-after-deprecation"
        })
        .collect();
    assert_eq!(moves.len(), 2, "{}", report.text());
    assert!(moves.iter().all(|c| c.level == Level::Breaking));
    // The orders endpoint moved under `commerce`: reported at its new place, contents compared.
    let orders = moves
        .iter()
        .find(|c| c.operations == ["GET /public/v1/commerce/orders/{id}"])
        .expect("the orders move");
    assert!(
        orders.message.contains("GET /public/v1/orders/{id}")
            && orders.message.contains("module prefix"),
        "{}",
        orders.message
    );
    assert_eq!(orders.old.as_deref(), Some("/paths/~1v1~1orders~1{id}/get"));
    assert_eq!(
        orders.new.as_deref(),
        Some("/paths/~1public~1v1~1commerce~1orders~1{id}/get")
    );
    // The deprecated alias `/v1/items` is gone; its twin under `catalog` remains.
    let alias = moves
        .iter()
        .find(|c| c.operations == ["GET /public/v1/catalog/items"])
        .expect("the alias");
    assert!(alias.message.contains("remains at"), "{}", alias.message);
    // It was deprecated: oasdiff reports a path removed with deprecation.
    assert_eq!(alias.rule, "operation-moved-after-deprecation");
    assert_eq!(
        alias.oasdiff_id(),
        Some("api-path-removed-with-deprecation")
    );
    assert_eq!(
        orders.oasdiff_id(),
        Some("api-path-removed-without-deprecation")
    );
    assert_eq!(
        orders.moved_from.as_deref(),
        Some("GET /public/v1/orders/{id}")
    );
    assert_eq!(alias.old.as_deref(), Some("/paths/~1v1~1items/get"));
    // Nothing else: no removal, no addition.
    assert!(
        report
            .changes
            .iter()
            .all(|c| moves.iter().any(|m| std::ptr::eq(*m, c))),
        "{}",
        report.text()
    );
}

#[test]
fn a_move_carries_the_changes_of_its_contents_and_ambiguous_moves_are_not_guessed() {
    let mut new = new_platform();
    new["paths"]["/public/v1/commerce/orders/{id}"]["get"]["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
               {"name": "mode", "in": "query", "required": true, "schema": {"type": "string"}}]);
    let report = compare(&old_platform(), &new, ours());
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.rule == "parameter-required-added"
                && c.operations == ["GET /public/v1/commerce/orders/{id}"]),
        "{}",
        report.text()
    );
    // Two module prefixes the old path could have gained: neither is guessed.
    let mut two = new_platform();
    two["paths"]["/public/v1/billing/orders/{id}"] = json!({"get": item_list()});
    let report = compare(&old_platform(), &two, ours());
    assert!(
        report.changes.iter().any(
            |c| c.rule == "operation-removed" && c.operations == ["GET /public/v1/orders/{id}"]
        ),
        "{}",
        report.text()
    );
    // A sub-resource is not a move: `/v1/orders/{id}` → `/v1/orders/{id}/lines`.
    let mut sub = new_platform();
    let orders = sub["paths"]
        .as_object_mut()
        .unwrap()
        .remove("/public/v1/commerce/orders/{id}")
        .unwrap();
    sub["paths"]["/public/v1/orders/{id}/lines"] = orders;
    let report = compare(&old_platform(), &sub, ours());
    assert!(
        report.changes.iter().any(|c| c.rule == "operation-removed"),
        "{}",
        report.text()
    );
}

#[test]
fn a_request_media_type_the_sdk_never_sends_is_not_judged_as_sent() {
    let mut new = old_platform();
    let content = at(
        &mut new,
        "/paths/~1v1~1catalog~1items/post/requestBody/content",
    );
    content.as_object_mut().unwrap().remove("text/json");
    let c = only_change_between(&old_platform(), &new, ours());
    assert_eq!(
        (c.rule, c.level),
        ("request-media-type-removed", Level::NonBreaking)
    );
    assert!(
        c.note
            .as_deref()
            .unwrap_or("")
            .contains("requestMediaTypes")
    );
    // A client that sends every media type (oasdiff's view): it breaks.
    let c = only_change_between(&old_platform(), &new, Tolerance::strict());
    assert_eq!(
        (c.rule, c.level),
        ("request-media-type-removed", Level::Breaking)
    );
    // The JSON one is sent: removing it breaks whatever the tolerance.
    let mut new = old_platform();
    let content = at(
        &mut new,
        "/paths/~1v1~1catalog~1items/post/requestBody/content",
    );
    content.as_object_mut().unwrap().remove("application/json");
    let c = only_change_between(&old_platform(), &new, ours());
    assert_eq!(
        (c.rule, c.level),
        ("request-media-type-removed", Level::Breaking)
    );
}

#[test]
fn an_xml_body_type_change_is_not_judged_when_the_sdk_sends_json() {
    let mut old = old_platform();
    at(
        &mut old,
        "/paths/~1v1~1catalog~1items/post/requestBody/content",
    )["application/xml"] =
        json!({"schema": {"type": "object", "properties": {"id": {"type": "string"}}}});
    let mut new = old.clone();
    at(
        &mut new,
        "/paths/~1v1~1catalog~1items/post/requestBody/content/application~1xml/schema/properties/id",
    )["type"] = json!("integer");
    let c = only_change_between(&old, &new, ours());
    assert_eq!(
        (c.rule, c.level),
        ("request-unsent-media-type-changed", Level::NonBreaking)
    );
    // A strict client sends XML too: the type change breaks it.
    let c = only_change_between(&old, &new, Tolerance::strict());
    assert_eq!((c.rule, c.level), ("type-changed", Level::Breaking));
    // The same change in the response (the SDK reads JSON only, but the rule is the JSON one's).
    let mut old = old_platform();
    let ok = "/paths/~1v1~1catalog~1items/post/responses/201/content";
    at(&mut old, ok)["application/xml"] = json!({"schema": {"type": "string"}});
    let mut new = old.clone();
    at(&mut new, &format!("{ok}/application~1xml/schema"))["type"] = json!("integer");
    let c = only_change_between(&old, &new, ours());
    assert_eq!((c.rule, c.level), ("type-changed", Level::Breaking));
}

/// `doc` as an OpenAPI 3.1 document: `nullable` spelled as a `type` list, read back.
fn as31(doc: &Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(obj) => {
                if obj.remove("nullable") == Some(json!(true))
                    && let Some(t) = obj.get("type").cloned()
                {
                    obj.insert("type".into(), json!([t, "null"]));
                }
                obj.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut d = doc.clone();
    d["openapi"] = json!("3.1.0");
    walk(&mut d);
    mpt_codegen::oas31::normalize(&d)
}

#[test]
fn base_paths_moves_and_unsent_media_types_read_the_same_in_3_1() {
    let nullable_id = |mut d: Value| {
        d["components"]["schemas"]["Item"]["properties"]["id"]["nullable"] = json!(true);
        d
    };
    let mut joined = old_platform();
    joined.as_object_mut().unwrap().remove("servers");
    let paths: serde_json::Map<String, Value> = joined["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, v)| (format!("/public{p}"), v.clone()))
        .collect();
    joined["paths"] = Value::Object(paths);
    let mut unsent = old_platform();
    at(
        &mut unsent,
        "/paths/~1v1~1catalog~1items/post/requestBody/content",
    )
    .as_object_mut()
    .unwrap()
    .remove("text/json");
    let pairs = [
        (old_platform(), joined),
        (old_platform(), new_platform()),
        (old_platform(), unsent),
    ];
    for (old, new) in pairs {
        let (old, new) = (nullable_id(old), nullable_id(new));
        for (a, b) in [(&old, &new), (&new, &old)] {
            let read = |r: mpt_codegen::diff::Report| -> Vec<(&'static str, Level, Vec<String>)> {
                r.changes
                    .into_iter()
                    .map(|c| (c.rule, c.level, c.operations))
                    .collect()
            };
            let in30 = read(compare(a, b, ours()));
            let in31 = read(compare(&as31(a), &as31(b), ours()));
            assert_eq!(in30, in31);
        }
    }
}

/// The one change between `old` and `new`.
pub(super) fn only_change_between(
    old: &Value,
    new: &Value,
    tolerance: Tolerance,
) -> mpt_codegen::diff::Change {
    let report = compare(old, new, tolerance);
    assert_eq!(report.changes.len(), 1, "{}", report.text());
    report.changes.into_iter().next().unwrap()
}
