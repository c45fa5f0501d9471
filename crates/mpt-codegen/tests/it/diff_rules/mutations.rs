//! Seeded mutations of the real merged spec, each with the verdict the rule table gives.

use super::*;

/// The component schemas reached (through `$ref`s) from request bodies and parameters, and from
/// responses.
fn schemas_by_direction(doc: &Value) -> (Vec<String>, Vec<String>) {
    fn refs(value: &Value, out: &mut std::collections::BTreeSet<String>, doc: &Value) {
        match value {
            Value::Object(obj) => {
                if let Some(name) = obj
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    && out.insert(name.to_string())
                {
                    refs(&doc["components"]["schemas"][name], out, doc);
                }
                obj.values().for_each(|v| refs(v, out, doc));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out, doc)),
            _ => {}
        }
    }
    let (mut request, mut response) = Default::default();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            refs(&op["requestBody"], &mut request, doc);
            refs(&op["responses"], &mut response, doc);
        }
    }
    let only = |a: &std::collections::BTreeSet<String>, b: &std::collections::BTreeSet<String>| {
        a.difference(b).cloned().collect::<Vec<_>>()
    };
    (only(&request, &response), only(&response, &request))
}

/// `(schema, property)` pairs of `schemas` whose property has `type` (any type when `None`).
fn properties(doc: &Value, schemas: &[String], kind: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for schema in schemas {
        for (name, p) in doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if kind.is_none_or(|k| p["type"] == k) {
                out.push((schema.clone(), name.clone()));
            }
        }
    }
    out
}

/// The worst level of a report (`None`: no change).
fn verdict(old: &Value, new: &Value, tolerance: Tolerance) -> Option<Level> {
    compare(old, new, tolerance)
        .changes
        .iter()
        .map(|c| c.level)
        .min()
}

#[test]
fn seeded_mutations_of_the_real_spec_get_the_verdict_of_the_rule_table() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("openapi/marketplace-api-tokens.json")).unwrap(),
    )
    .unwrap();
    let amendments =
        mpt_codegen::amend::Amendments::read(&root.join("openapi/amendments.json")).unwrap();
    let tolerance = Tolerance::of(&amendments);
    let (request, response) = schemas_by_direction(&spec);
    assert!(
        request.contains(&"CreateApiTokenDto".to_string()),
        "{request:?}"
    );
    assert!(response.contains(&"ApiToken".to_string()), "{response:?}");
    let request_props = properties(&spec, &request, None);
    let request_strings = properties(&spec, &request, Some("string"));
    let response_props = properties(&spec, &response, None);
    let response_strings = properties(&spec, &response, Some("string"));
    let ops: Vec<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    let pick = |rng: &mut fastrand::Rng, n: usize| rng.usize(..n);
    type Mutation = fn(&mut Value, &mut fastrand::Rng, &Pools) -> Option<Level>;
    struct Pools {
        request_props: Vec<(String, String)>,
        request_strings: Vec<(String, String)>,
        response_props: Vec<(String, String)>,
        response_strings: Vec<(String, String)>,
        ops: Vec<(String, String)>,
    }
    let pools = Pools {
        request_props,
        request_strings,
        response_props,
        response_strings,
        ops,
    };
    fn prop<'a>(d: &'a mut Value, (schema, name): &(String, String)) -> &'a mut Value {
        &mut d["components"]["schemas"][schema]["properties"][name]
    }
    let _ = pick;
    // Each mutation makes one change and returns the verdict the rule table gives it.
    let mutations: Vec<(&str, Mutation)> = vec![
        ("response property removed", |d, rng, p| {
            let (s, n) = &p.response_props[rng.usize(..p.response_props.len())];
            d["components"]["schemas"][s]["properties"]
                .as_object_mut()?
                .remove(n);
            if let Some(req) = d["components"]["schemas"][s]["required"].as_array_mut() {
                req.retain(|r| r != n);
            }
            Some(Level::Breaking)
        }),
        ("optional request property added", |d, rng, p| {
            let (s, _) = &p.request_props[rng.usize(..p.request_props.len())];
            d["components"]["schemas"][s]["properties"]["zzNew"] = json!({"type": "string"});
            Some(Level::NonBreaking)
        }),
        ("required request property added", |d, rng, p| {
            let (s, _) = &p.request_props[rng.usize(..p.request_props.len())];
            d["components"]["schemas"][s]["properties"]["zzNew"] = json!({"type": "string"});
            let schema = &mut d["components"]["schemas"][s];
            match schema["required"].as_array_mut() {
                Some(r) => r.push(json!("zzNew")),
                None => schema["required"] = json!(["zzNew"]),
            }
            Some(Level::Breaking)
        }),
        ("response property added", |d, rng, p| {
            let (s, _) = &p.response_props[rng.usize(..p.response_props.len())];
            d["components"]["schemas"][s]["properties"]["zzNew"] = json!({"type": "string"});
            Some(Level::NonBreaking)
        }),
        ("request string narrowed (maxLength)", |d, rng, p| {
            let target = &p.request_strings[rng.usize(..p.request_strings.len())];
            prop(d, target)["maxLength"] = json!(3);
            Some(Level::Breaking)
        }),
        ("response string narrowed (maxLength)", |d, rng, p| {
            let target = &p.response_strings[rng.usize(..p.response_strings.len())];
            prop(d, target)["maxLength"] = json!(100_000);
            Some(Level::NonBreaking)
        }),
        ("operationId renamed", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            d["paths"][path][method]["operationId"] = json!("renamed_op");
            Some(Level::Breaking)
        }),
        ("operation removed", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            d["paths"][path].as_object_mut()?.remove(method);
            Some(Level::Breaking)
        }),
        ("operation added", |d, _, _| {
            d["paths"]["/public/v1/zz"] =
                json!({"get": {"operationId": "zz", "responses": {"204": {"description": "ok"}}}});
            Some(Level::NonBreaking)
        }),
        ("success status removed", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            let responses = d["paths"][path][method]["responses"].as_object_mut()?;
            let code = responses.keys().find(|c| c.starts_with('2'))?.clone();
            responses.remove(&code);
            Some(Level::Breaking)
        }),
        ("error status added", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            d["paths"][path][method]["responses"]["418"] = json!({"description": "teapot"});
            Some(Level::NonBreaking)
        }),
        ("charset added to a media type", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            let responses = d["paths"][path][method]["responses"].as_object_mut()?;
            for r in responses.values_mut() {
                if let Some(content) = r["content"].as_object_mut()
                    && let Some(v) = content.remove("application/json")
                {
                    content.insert("application/json; charset=utf-8".into(), v);
                }
            }
            None
        }),
        ("limit widened to int64", |d, _, _| {
            d["paths"]["/public/v1/accounts/api-tokens"]["get"]["parameters"][0]["schema"]["format"] =
                json!("int64");
            Some(Level::NonBreaking)
        }),
        ("limit minimum raised", |d, _, _| {
            d["paths"]["/public/v1/accounts/api-tokens"]["get"]["parameters"][0]["schema"]["minimum"] =
                json!(1);
            Some(Level::Breaking)
        }),
        ("select no longer allows token", |d, _, _| {
            let schema =
                &mut d["paths"]["/public/v1/accounts/api-tokens"]["get"]["parameters"][3]["schema"];
            let pattern = schema["pattern"].as_str()?.replace("|token", "");
            schema["pattern"] = json!(pattern);
            Some(Level::Breaking)
        }),
        ("status value added", |d, _, _| {
            d["components"]["schemas"]["ApiTokenStatus"]["x-known-values"]
                .as_array_mut()?
                .push(json!("Expired"));
            Some(Level::NonBreaking)
        }),
        ("request property became required", |d, rng, p| {
            let candidates: Vec<&(String, String)> = p
                .request_props
                .iter()
                .filter(|(s, n)| {
                    !d["components"]["schemas"][s]["required"]
                        .as_array()
                        .is_some_and(|r| r.iter().any(|x| x == n))
                })
                .collect();
            let (s, n) = candidates[rng.usize(..candidates.len())];
            let schema = &mut d["components"]["schemas"][s];
            match schema["required"].as_array_mut() {
                Some(r) => r.push(json!(n)),
                None => schema["required"] = json!([n]),
            }
            Some(Level::Breaking)
        }),
        ("authentication required", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            d["components"]["securitySchemes"] =
                json!({"bearer": {"type": "http", "scheme": "bearer"}});
            d["paths"][path][method]["security"] = json!([{"bearer": []}]);
            Some(Level::Breaking)
        }),
        ("nothing changed", |_, _, _| None),
    ];
    let mut rng = fastrand::Rng::with_seed(20_261_202);
    let rounds = 120;
    for round in 0..rounds {
        let (name, mutate) = mutations[round % mutations.len()];
        let mut new = spec.clone();
        let expected = mutate(&mut new, &mut rng, &pools);
        let got = verdict(&spec, &new, tolerance);
        assert_eq!(
            got,
            expected,
            "round {round}, {name}:\n{}",
            compare(&spec, &new, tolerance).text()
        );
    }
}
