//! Declared passes over the generator's copy of a merged spec, for what progenitor 0.15 cannot
//! express (`generator.*` in `openapi/amendments.json`). The merged spec keeps the platform's
//! truth for contract tools; only the copy handed to the generator changes. Each pass says how
//! many operations it touched, and regen prints it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::fragment::METHODS;

/// The media type a multipart-only request body is sent as by the generated call: the form is
/// encoded by [`crate`]'s users with `mpt_api::multipart::Form`, which uses this boundary.
pub const MULTIPART_BOUNDARY: &str = "mpt-form-boundary-7e3f9a1c5b2d4e6f";

/// Applies `f` to every operation; the number of operations it changed.
pub fn operation_pass(
    doc: &mut Value,
    mut f: impl FnMut(&mut Map<String, Value>) -> bool,
) -> usize {
    let mut touched = 0;
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut)
                    && f(op)
                {
                    touched += 1;
                }
            }
        }
    }
    touched
}

/// Applies `f` to every JSON object of the document (components and operations); the number of
/// operations whose own parts or reachable components it changed.
pub fn schema_pass(doc: &mut Value, mut f: impl FnMut(&mut Map<String, Value>) -> bool) -> usize {
    let mut changed: BTreeSet<String> = BTreeSet::new();
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        for (kind, members) in components.iter_mut() {
            for (name, member) in members.as_object_mut().into_iter().flatten() {
                if walk(member, &mut f) {
                    changed.insert(format!("#/components/{kind}/{name}"));
                }
            }
        }
    }
    let refs = component_refs(doc);
    let mut touched = 0;
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                let Some(op) = item.get_mut(method) else {
                    continue;
                };
                let own = walk(op, &mut f);
                if own || reaches(op, &refs, &changed) {
                    touched += 1;
                }
            }
        }
    }
    touched
}

fn walk(value: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>) -> bool) -> bool {
    match value {
        Value::Object(obj) => {
            let mut changed = f(obj);
            for child in obj.values_mut() {
                changed |= walk(child, f);
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, v| walk(v, f) | c),
        _ => false,
    }
}

fn refs_below(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs_below(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs_below(v, out)),
        _ => {}
    }
}

/// Each component's direct references.
fn component_refs(doc: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (kind, members) in doc["components"].as_object().into_iter().flatten() {
        for (name, member) in members.as_object().into_iter().flatten() {
            let mut refs = Vec::new();
            refs_below(member, &mut refs);
            out.insert(format!("#/components/{kind}/{name}"), refs);
        }
    }
    out
}

fn reaches(op: &Value, refs: &BTreeMap<String, Vec<String>>, changed: &BTreeSet<String>) -> bool {
    let mut todo = Vec::new();
    refs_below(op, &mut todo);
    let mut seen = BTreeSet::new();
    while let Some(r) = todo.pop() {
        if changed.contains(&r) {
            return true;
        }
        if seen.insert(r.clone()) {
            todo.extend(refs.get(&r).into_iter().flatten().cloned());
        }
    }
    false
}

fn is_error_status(status: &str) -> bool {
    !status.starts_with('2') && !status.starts_with('1') && !status.starts_with('3')
}

/// `generator.untypedErrorAnswers`: an error answer without a body beside error answers with
/// one would give the generated call two error types (progenitor panics:
/// `response_types.len() <= 1`). The body-less ones are left out of the generator's copy: the
/// call then answers them as `Error::UnexpectedResponse`, which holds the whole response.
pub fn untyped_error_answers(op: &mut Map<String, Value>) -> bool {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return false;
    };
    let has_body = |r: &Value| {
        r.get("$ref").is_some()
            || r.get("content")
                .and_then(Value::as_object)
                .is_some_and(|c| !c.is_empty())
    };
    let typed = responses
        .iter()
        .any(|(s, r)| is_error_status(s) && has_body(r));
    if !typed {
        return false;
    }
    let before = responses.len();
    responses.retain(|s, r| !is_error_status(s) || has_body(r));
    responses.len() != before
}

/// `generator.multipartBodies`: a request body offered only as `multipart/form-data` becomes a
/// raw body (`application/octet-stream`) in the generator's copy; the generated call takes the
/// encoded form (`mpt_api::multipart::Form`) and a pass over the generated code sends it with
/// the form's content type. A body that also offers JSON keeps JSON (the requestMediaTypes rule).
pub fn multipart_bodies(op: &mut Map<String, Value>) -> bool {
    let Some(content) = op
        .get_mut("requestBody")
        .and_then(|b| b.get_mut("content"))
        .and_then(Value::as_object_mut)
    else {
        return false;
    };
    if content.len() != 1 || !content.contains_key("multipart/form-data") {
        return false;
    }
    content.clear();
    content.insert(
        "application/octet-stream".into(),
        json!({"schema": {"type": "string", "format": "binary"}}),
    );
    true
}

/// `generator.uuidAsString`: `format: uuid` would make every user compile the `uuid` crate; the
/// ids stay strings (the platform's ids are not all UUIDs anyway).
pub fn uuid_as_string(obj: &mut Map<String, Value>) -> bool {
    if obj.get("format").and_then(Value::as_str) == Some("uuid") {
        obj.remove("format");
        return true;
    }
    false
}

/// `generator.dropPatterns`: every string `pattern`, wherever the schema sits (an `allOf` part,
/// an untyped schema, a parameter): typify turns each into a `regress`-checked newtype.
pub fn drop_pattern(obj: &mut Map<String, Value>) -> bool {
    if obj.get("pattern").is_some_and(Value::is_string) {
        obj.remove("pattern");
        return true;
    }
    false
}

/// `Pascal` case of a property name as typify forms type names (`external-ids` → `ExternalIds`).
fn pascal(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Whether typify makes a type of its own for this inline schema.
fn makes_a_type(schema: &Value) -> bool {
    let parts = |k: &str| schema.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    schema.get("$ref").is_none()
        && (schema.get("properties").is_some()
            || schema.get("enum").is_some()
            || parts("oneOf") > 1
            || parts("anyOf") > 1
            || parts("allOf") > 1)
}

/// `generator.typeNameCollisions`: typify names the type of an inline property schema after its
/// parent and the property (`Charge.split` → `ChargeSplit`); when a component already has that
/// name, two types would share it. Such an inline schema gets a `title` of its own
/// (`ChargeSplitValue`), which typify names it by. The same holds for the names progenitor
/// gives an operation's inline request body (`CreateWidgetBody`), JSON answers
/// (`ListGadgetsResponse`) and parameters (`ListGadgetsStatus`): where a component has that
/// name, typify silently hands out the component's type, so the inline schema is titled
/// (`ListGadgetsResponseValue`). Returns the operations it touched.
pub fn type_name_collisions(doc: &mut Value) -> usize {
    let names: BTreeSet<String> = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut changed = BTreeSet::new();
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut);
    for (parent, schema) in schemas.into_iter().flatten() {
        let properties = schema.get_mut("properties").and_then(Value::as_object_mut);
        for (property, inline) in properties.into_iter().flatten() {
            let suggested = format!("{parent}{}", pascal(property));
            if names.contains(&suggested) && makes_a_type(inline) && inline.get("title").is_none() {
                let mut title = format!("{suggested}Value");
                while names.contains(&title) {
                    title.push('_');
                }
                inline["title"] = Value::String(title);
                changed.insert(format!("#/components/schemas/{parent}"));
            }
        }
    }
    let refs = component_refs(doc);
    let mut touched = 0;
    operation_pass(doc, |op| {
        let own = title_inline_operation_types(op, &names);
        if own || reaches(&Value::Object(op.clone()), &refs, &changed) {
            touched += 1;
        }
        own
    });
    touched
}

/// progenitor's name for an inline type of an operation: `{operationId}-{suffix}` in Pascal
/// case (`create_widget` + `body` → `CreateWidgetBody`), as typify's `sanitize` forms it.
fn operation_type_name(operation_id: &str, suffix: &str) -> String {
    use heck::ToPascalCase;
    format!("{operation_id}-{suffix}")
        .replace('\'', "")
        .replace(|c: char| !(c.is_alphanumeric() || c == '_'), "-")
        .to_pascal_case()
}

/// Titles each inline schema of `op` whose name progenitor derives (the request body
/// `{Id}Body`, a JSON answer `{Id}Response`, a parameter `{Id}{Name}`) is a component's name:
/// typify would otherwise hand out the component's type for it. Whether it titled any.
fn title_inline_operation_types(op: &mut Map<String, Value>, names: &BTreeSet<String>) -> bool {
    let Some(id) = op
        .get("operationId")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return false;
    };
    let mut slots: Vec<(String, &mut Value)> = Vec::new();
    let is_json = |media: &str| {
        media == "application/json"
            || media.starts_with("application/json;")
            || media == "application/x-www-form-urlencoded"
    };
    for (key, part) in op.iter_mut() {
        match key.as_str() {
            "requestBody" => {
                let content = part.get_mut("content").and_then(Value::as_object_mut);
                for (media, content) in content.into_iter().flatten() {
                    if is_json(media)
                        && let Some(schema) = content.get_mut("schema")
                    {
                        slots.push((operation_type_name(&id, "body"), schema));
                    }
                }
            }
            "responses" => {
                for response in part.as_object_mut().into_iter().flatten().map(|(_, r)| r) {
                    let content = response.get_mut("content").and_then(Value::as_object_mut);
                    for (media, content) in content.into_iter().flatten() {
                        if is_json(media)
                            && let Some(schema) = content.get_mut("schema")
                        {
                            slots.push((operation_type_name(&id, "response"), schema));
                        }
                    }
                }
            }
            "parameters" => {
                for parameter in part.as_array_mut().into_iter().flatten() {
                    let name = parameter.get("name").and_then(Value::as_str);
                    let name = name.map(|n| operation_type_name(&id, n));
                    if let (Some(name), Some(schema)) = (name, parameter.get_mut("schema")) {
                        slots.push((name, schema));
                    }
                }
            }
            _ => {}
        }
    }
    let mut titled = false;
    for (name, schema) in slots {
        if names.contains(&name) && schema.get("$ref").is_none() && schema.get("title").is_none() {
            let mut title = format!("{name}Value");
            while names.contains(&title) {
                title.push('_');
            }
            schema["title"] = Value::String(title);
            titled = true;
        }
    }
    titled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "paths": {
                "/a": {
                    "post": {
                        "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
                        "responses": {
                            "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
                            "400": {"description": "bad", "content": {"application/json": {"schema": {"type": "object"}}}},
                            "500": {"description": "oops"}
                        }
                    },
                    "get": {"responses": {"200": {"description": "ok"}, "500": {"description": "oops"}}}
                },
                "/b": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}}}}
            },
            "components": {"schemas": {
                "A": {"type": "string", "format": "uuid"},
                "B": {"allOf": [{"$ref": "#/components/schemas/A"}, {"pattern": "^x$"}]}
            }}
        })
    }

    #[test]
    fn each_pass_counts_the_operations_it_touches() {
        let mut d = doc();
        assert_eq!(operation_pass(&mut d, untyped_error_answers), 1);
        assert!(d.pointer("/paths/~1a/post/responses/500").is_none());
        assert!(
            d.pointer("/paths/~1a/get/responses/500").is_some(),
            "no typed error beside it"
        );
        assert_eq!(operation_pass(&mut d, multipart_bodies), 1);
        assert!(
            d.pointer("/paths/~1a/post/requestBody/content/application~1octet-stream")
                .is_some()
        );
        assert_eq!(
            schema_pass(&mut d, uuid_as_string),
            2,
            "A is reached by /a and through B by /b"
        );
        assert_eq!(schema_pass(&mut d, drop_pattern), 1);
        assert!(d.pointer("/components/schemas/B/allOf/1/pattern").is_none());
        assert_eq!(
            schema_pass(&mut d, drop_pattern),
            0,
            "nothing left to touch"
        );
    }
}
