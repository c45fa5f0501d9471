//! `import` of a whole spec and of a module file: one fragment per operation under
//! `fragments/<module>/`, each reported new / changed / unchanged / refused; then `regen` over
//! every namespace, where two modules' and the API tokens pages' `AccountRef` coexist.

use std::path::{Path, PathBuf};

use mpt_codegen::amend::Amendments;
use mpt_codegen::import::{ImportStatus, import_pages};
use mpt_codegen::regen::{Layout, build_all};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// A repository of one API tokens page and the fixture's amendments.
fn repo() -> (tempfile::TempDir, Layout, Amendments) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::of_repo(dir.path());
    std::fs::create_dir_all(&layout.fragments).unwrap();
    std::fs::copy(
        fixture("list-api-tokens.json"),
        layout.fragments.join("list-api-tokens.json"),
    )
    .unwrap();
    std::fs::copy(fixture("amendments.json"), &layout.amendments).unwrap();
    let amendments = Amendments::read(&layout.amendments).unwrap();
    (dir, layout, amendments)
}

fn status_of<'a>(
    imported: &'a [mpt_codegen::import::Imported],
    method: &str,
    route: &str,
) -> &'a mpt_codegen::import::Imported {
    imported
        .iter()
        .find(|i| i.operation == (method.to_string(), route.to_string()))
        .unwrap_or_else(|| panic!("{method} {route} not reported"))
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_whole_spec_becomes_one_fragment_per_operation_under_its_module() {
    let (_dir, layout, amendments) = repo();
    let imported = import_pages(
        &[fixture("whole.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .unwrap();
    assert_eq!(imported.len(), 7);
    let kept = status_of(&imported, "get", "/public/v1/accounts/api-tokens");
    match &kept.status {
        ImportStatus::Refused(why) => assert!(
            why.contains("list-api-tokens.json") && why.contains("5.0.1"),
            "{why}"
        ),
        other => panic!("the page's operation was {other}"),
    }
    match &status_of(&imported, "get", "/v1/odd").status {
        ImportStatus::Refused(why) => assert!(why.contains("no platform module"), "{why}"),
        other => panic!("{other}"),
    }
    let catalog = layout.fragments.join("catalog");
    for (name, route) in [
        (
            "get-product-document.json",
            "/public/v1/catalog/products/{productId}/documents/{id}",
        ),
        (
            "get-item-document.json",
            "/public/v1/catalog/items/{itemId}/documents/{id}",
        ),
        (
            "create-pricing-policy.json",
            "/public/v1/catalog/pricing-policies",
        ),
    ] {
        let one = status_of(
            &imported,
            if name.starts_with("create") {
                "post"
            } else {
                "get"
            },
            route,
        );
        assert_eq!(one.status, ImportStatus::New, "{name}");
        assert_eq!(one.path, catalog.join(name));
    }
    let order = read(&layout.fragments.join("commerce/get-order.json"));
    let schemas: Vec<&String> = order["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        schemas,
        ["Order", "AccountRef"],
        "only what the operation reaches"
    );
    assert!(
        layout
            .fragments
            .join("commerce/validate-order.json")
            .is_file()
    );
    assert_eq!(
        read(&layout.fragments.join("list-api-tokens.json"))["info"]["version"],
        "5.0.1",
        "the page is left as it was"
    );

    // The same spec again: nothing changes.
    let again = import_pages(
        &[fixture("whole.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .unwrap();
    assert!(
        again
            .iter()
            .all(|i| matches!(i.status, ImportStatus::Unchanged | ImportStatus::Refused(_))),
        "{again:?}"
    );

    // A module file: its operations are changed or new, the others untouched.
    let validate =
        std::fs::read_to_string(layout.fragments.join("commerce/validate-order.json")).unwrap();
    let module = import_pages(
        &[fixture("commerce-module.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .unwrap();
    assert_eq!(
        status_of(&module, "get", "/public/v1/commerce/orders/{id}").status,
        ImportStatus::Changed
    );
    let list = status_of(&module, "get", "/public/v1/commerce/orders");
    assert_eq!(list.status, ImportStatus::New);
    assert_eq!(
        list.path,
        layout.fragments.join("commerce/list-orders.json")
    );
    assert_eq!(
        std::fs::read_to_string(layout.fragments.join("commerce/validate-order.json")).unwrap(),
        validate
    );

    // Every namespace merges and generates on its own: three AccountRefs, no winner declared.
    let built = build_all(&layout).unwrap();
    let names: Vec<&str> = built.units.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["api-tokens", "catalog", "commerce"]);
    let commerce = &built.units[2];
    assert_eq!((commerce.operations, commerce.left_out.len()), (3, 0));
    let merged_commerce = built
        .outputs
        .iter()
        .find(|o| o.path.ends_with("openapi/marketplace-commerce.json"))
        .unwrap();
    let doc: Value = serde_json::from_str(&merged_commerce.contents).unwrap();
    assert_eq!(
        doc["info"]["x-versions"],
        serde_json::json!(["4.0.1", "4.0.2"])
    );
    let code = built
        .outputs
        .iter()
        .find(|o| o.path.ends_with("crates/mpt-api/src/modules/catalog.rs"))
        .unwrap();
    assert!(code.contents.contains("pub async fn send"));
    let catalog_passes: std::collections::BTreeMap<&str, usize> = built.units[1]
        .passes
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(catalog_passes["untypedErrorAnswers"], 1);
    assert_eq!(catalog_passes["multipartBodies"], 1);
    assert_eq!(catalog_passes["multipartContentType"], 1);
    assert_eq!(catalog_passes["uuidAsString"], 1);
    assert_eq!(catalog_passes["dropPatterns"], 1);
    assert!(
        code.contents
            .contains("multipart/form-data; boundary=mpt-form-boundary-")
    );
    assert!(!code.contents.contains("regress") && !code.contents.contains("uuid::"));
}

#[test]
fn a_spec_publishing_one_operation_twice_is_refused_whole() {
    let (dir, layout, amendments) = repo();
    let copy = dir.path().join("copy.json");
    std::fs::copy(fixture("commerce-module.json"), &copy).unwrap();
    let err = import_pages(
        &[fixture("commerce-module.json"), copy.clone()],
        &layout.fragments,
        &amendments,
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("copy.json") && err.contains("GET /public/v1/commerce/orders"),
        "{err}"
    );
    assert!(
        !layout.fragments.join("commerce").exists(),
        "nothing written"
    );
}

#[test]
fn a_new_page_goes_beside_the_operations_sharing_its_path() {
    let (dir, layout, amendments) = repo();
    import_pages(
        &[fixture("whole.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .unwrap();
    let page = |route: &str| -> PathBuf {
        let parameters: Vec<Value> = route
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let doc = serde_json::json!({
            "openapi": "3.0.1", "info": {"title": "t", "version": "5.0.2"},
            "paths": {route: {"post": {"parameters": parameters, "responses": {"204": {"description": "done"}}}}}
        });
        let path = dir.path().join(format!("{}.md", route.len()));
        std::fs::write(&path, format!("# Page\n\n```json\n{doc}\n```\n")).unwrap();
        path
    };
    let rotate = page("/public/v1/accounts/api-tokens/{id}/rotate");
    let archive = page("/public/v1/catalog/items/{itemId}/documents/{id}/archive");
    let done = import_pages(&[rotate, archive], &layout.fragments, &amendments, false).unwrap();
    assert_eq!(done[0].path, layout.fragments.join("rotate-api-token.json"));
    assert_eq!(
        done[1].path,
        layout.fragments.join("catalog/archive-document.json")
    );
    assert!(done.iter().all(|d| d.status == ImportStatus::New));
}

/// Import checks a module's directory as regen does, generation included: a schema the generator
/// cannot express (a `default` not of its type) is refused at import, naming the operation, and
/// nothing is written.
#[test]
fn a_module_file_the_generator_fails_on_is_refused_at_import() {
    let (_dir, layout, amendments) = repo();
    let err = import_pages(
        &[fixture("bad-default.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("would fail"), "{err}");
    assert!(
        err.contains("list_gadgets") || err.contains("list-gadgets"),
        "{err}"
    );
    assert!(!layout.fragments.join("spotlight").exists(), "{err}");
}

/// A generator failure at regen fails regen, naming the operation: nothing is left out silently.
/// (The fragment is written by hand here: import refuses it.)
#[test]
fn regen_fails_on_an_operation_the_generator_cannot_express() {
    let (_dir, layout, _) = repo();
    let module = layout.fragments.join("spotlight");
    std::fs::create_dir_all(&module).unwrap();
    let fragment = |route: &str, parameters: Value| {
        serde_json::json!({
            "openapi": "3.0.1",
            "info": {"title": "x", "version": "4.0.9999"},
            "paths": {route: {"get": {"parameters": parameters, "responses": {"200": {"description": "OK"}}}}}
        })
        .to_string()
    };
    std::fs::write(
        module.join("list-widgets.json"),
        fragment("/public/v1/spotlight/widgets", serde_json::json!([])),
    )
    .unwrap();
    std::fs::write(
        module.join("get-gadget.json"),
        fragment("/public/v1/spotlight/gadgets/{id}", serde_json::json!([])),
    )
    .unwrap();
    let err = build_all(&layout).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("/public/v1/spotlight/gadgets/{id}"), "{err}");
}

/// A path parameter the operation does not declare is refused at import, naming the path and
/// the pointer (progenitor would panic on it).
#[test]
fn an_undeclared_path_parameter_is_refused_at_import() {
    let (_dir, layout, amendments) = repo();
    let err = import_pages(
        &[fixture("undeclared-parameter.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("/paths/~1public~1v1~1spotlight~1gadgets~1{id}/get/parameters"),
        "{err}"
    );
    assert!(err.contains("`id`"), "{err}");
}

/// The `servers` base path is joined to the paths (as `cargo xtask diff` does): `/public` +
/// `/v1/catalog/widgets` lands in `catalog/`; a path with no module segment (`/v1/items`) is
/// refused per operation, saying why.
#[test]
fn the_servers_base_path_is_joined_and_paths_without_a_module_are_refused() {
    let (_dir, layout, amendments) = repo();
    let imported = import_pages(
        &[fixture("base-path.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .unwrap();
    let widgets = status_of(&imported, "get", "/public/v1/catalog/widgets");
    assert_eq!(widgets.status, ImportStatus::New);
    let fragment = read(&layout.fragments.join("catalog/list-widgets.json"));
    assert!(
        fragment
            .pointer("/paths/~1public~1v1~1catalog~1widgets/get")
            .is_some()
    );
    assert_eq!(
        fragment.pointer("/servers/0/url"),
        Some(&Value::from("https://api.platform.softwareone.com"))
    );
    for route in ["/public/v1/items", "/public/v1/items/{id}"] {
        match &status_of(&imported, "get", route).status {
            ImportStatus::Refused(why) => {
                assert!(why.contains("`items` is a resource, not a module"), "{why}")
            }
            other => panic!("{route}: {other:?}"),
        }
    }
    assert!(!layout.fragments.join("items").exists());
    let users = status_of(&imported, "get", "/public/v1/accounts/{accountId}/users");
    assert_eq!(
        users.status,
        ImportStatus::New,
        "a module that is also a collection stays a module"
    );
}

/// A key repeated in one object of the document (two `get`s of a path) is an error naming the
/// file and the pointer: a JSON parser would keep the last one silently.
#[test]
fn a_repeated_key_is_refused_naming_the_file_and_pointer() {
    let (_dir, layout, amendments) = repo();
    let err = import_pages(
        &[fixture("duplicate-method.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("duplicate-method.json"), "{err}");
    assert!(
        err.contains("/paths/~1public~1v1~1spotlight~1widgets/get"),
        "{err}"
    );
    assert!(err.contains("appears twice"), "{err}");
}

/// Two paths OpenAPI treats as one (`{id}` and `{queryId}` in one place) are refused, naming both.
#[test]
fn paths_that_differ_only_in_parameter_names_are_refused_naming_both() {
    let (_dir, layout, amendments) = repo();
    let err = import_pages(
        &[fixture("equivalent-paths.json")],
        &layout.fragments,
        &amendments,
        false,
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("/public/v1/spotlight/queries/{id}"), "{err}");
    assert!(
        err.contains("/public/v1/spotlight/queries/{queryId}"),
        "{err}"
    );
}
