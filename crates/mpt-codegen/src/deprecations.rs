//! A pass over progenitor's output: what the spec marks `deprecated` becomes `#[deprecated]` in
//! the generated client (progenitor and typify drop the flag), with the sunset when the spec
//! gives one (`x-sunset`), so a caller's compiler says what the change report says.
//!
//! * an operation: the `Client` method named by its `operationId`;
//! * a property of a component schema (directly or in an `allOf` part written inline): the
//!   field of the generated struct that (de)serializes it.
//!
//! The generated items themselves use those fields (builders, conversions), so every top-level
//! module, `impl` and function of the file gets `#[allow(deprecated)]` when anything was marked:
//! the warning is for the client's callers, not for the generated code.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, ImplItemFn, ItemImpl, ItemStruct, parse_quote};

/// What the spec deprecates, by the names the generated code uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deprecations {
    /// operationId → note.
    pub operations: BTreeMap<String, String>,
    /// (schema name, property name) → note.
    pub properties: BTreeMap<(String, String), String>,
}

/// The note of a deprecated `value`: who deprecated it, and its sunset if it names one.
fn note(value: &Value, what: &str) -> String {
    match value.get("x-sunset").and_then(Value::as_str) {
        Some(sunset) => format!("the platform deprecated this {what}; sunset {sunset}"),
        None => format!("the platform deprecated this {what}"),
    }
}

fn is_deprecated(value: &Value) -> bool {
    value.get("deprecated") == Some(&Value::Bool(true))
}

/// Reads what `doc` (an OpenAPI 3.0 document) deprecates.
pub fn of(doc: &Value) -> Deprecations {
    let mut out = Deprecations::default();
    for item in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let (true, Some(id)) = (
                is_deprecated(op),
                op.get("operationId").and_then(Value::as_str),
            ) {
                out.operations.insert(id.to_string(), note(op, "operation"));
            }
        }
    }
    for (name, schema) in doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let parts = schema.get("allOf").and_then(Value::as_array);
        for part in std::iter::once(schema).chain(parts.into_iter().flatten()) {
            for (prop, value) in part
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if is_deprecated(value) {
                    out.properties
                        .insert((name.clone(), prop.clone()), note(value, "field"));
                }
            }
        }
    }
    out
}

/// `AccountRef`, `account_ref`, `Account-Ref` → `accountref`: names compared as typify makes
/// them.
fn folded(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Marks `file` (the generated client) as [`Deprecations`] says; returns how many items it
/// marked.
pub fn mark(file: &mut syn::File, deprecations: &Deprecations) -> usize {
    let mut marker = Marker {
        operations: deprecations
            .operations
            .iter()
            .map(|(id, n)| (id.clone(), n.clone()))
            .collect(),
        properties: deprecations
            .properties
            .iter()
            .map(|((s, p), n)| ((folded(s), p.clone()), n.clone()))
            .collect(),
        in_client: false,
        marked: BTreeSet::new(),
    };
    marker.visit_file_mut(file);
    let count = marker.marked.len();
    if count > 0 {
        let allow: Attribute = parse_quote!(#[allow(deprecated)]);
        for item in &mut file.items {
            if let Some(attrs) = attrs_of(item) {
                attrs.push(allow.clone());
            }
        }
    }
    count
}

fn attrs_of(item: &mut syn::Item) -> Option<&mut Vec<Attribute>> {
    use syn::Item;
    Some(match item {
        Item::Mod(i) => &mut i.attrs,
        Item::Impl(i) => &mut i.attrs,
        Item::Fn(i) => &mut i.attrs,
        _ => return None,
    })
}

struct Marker {
    operations: BTreeMap<String, String>,
    /// (folded schema name, property name) → note.
    properties: BTreeMap<(String, String), String>,
    in_client: bool,
    marked: BTreeSet<String>,
}

/// The name a field (de)serializes as: its `#[serde(rename = "…")]`, else its identifier.
fn wire_name(field: &syn::Field) -> String {
    let mut renamed = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                renamed = Some(value.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    renamed.unwrap_or_else(|| {
        field
            .ident
            .as_ref()
            .map(|i| i.to_string().trim_start_matches("r#").to_string())
            .unwrap_or_default()
    })
}

impl VisitMut for Marker {
    fn visit_item_impl_mut(&mut self, item: &mut ItemImpl) {
        let client = item.trait_.is_none()
            && matches!(&*item.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        let was = std::mem::replace(&mut self.in_client, client);
        visit_mut::visit_item_impl_mut(self, item);
        self.in_client = was;
    }

    fn visit_impl_item_fn_mut(&mut self, f: &mut ImplItemFn) {
        if self.in_client
            && let Some(note) = self.operations.get(&f.sig.ident.to_string())
        {
            f.attrs.push(parse_quote!(#[deprecated(note = #note)]));
            self.marked.insert(format!("fn {}", f.sig.ident));
        }
        visit_mut::visit_impl_item_fn_mut(self, f);
    }

    fn visit_item_struct_mut(&mut self, item: &mut ItemStruct) {
        let schema = folded(&item.ident.to_string());
        for field in item.fields.iter_mut() {
            let key = (schema.clone(), wire_name(field));
            if let Some(note) = self.properties.get(&key) {
                field.attrs.push(parse_quote!(#[deprecated(note = #note)]));
                self.marked.insert(format!("{}.{}", item.ident, key.1));
            }
        }
        visit_mut::visit_item_struct_mut(self, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deprecated_operations_and_fields_are_marked_with_their_sunset() {
        let doc = json!({"paths": {"/a": {
            "get": {"operationId": "get_a", "deprecated": true, "x-sunset": "2026-06-30"},
            "post": {"operationId": "create_a"}
        }},
        "components": {"schemas": {
            "Module-Settings": {"allOf": [{"properties": {
                "sharedAccount": {"type": "boolean", "deprecated": true},
                "paid": {"type": "boolean"}
            }}]}
        }}});
        let found = of(&doc);
        assert_eq!(
            found.operations["get_a"],
            "the platform deprecated this operation; sunset 2026-06-30"
        );
        assert_eq!(found.operations.len(), 1);
        let mut file: syn::File = syn::parse_str(
            r#"
            pub mod types {
                pub struct ModuleSettings {
                    #[serde(rename = "sharedAccount", skip_serializing_if = "Option::is_none")]
                    pub shared_account: Option<bool>,
                    pub paid: Option<bool>,
                }
                pub struct Other { #[serde(rename = "sharedAccount")] pub shared_account: bool }
            }
            impl Client {
                pub fn get_a(&self) -> u8 { 0 }
                pub fn create_a(&self) -> u8 { 0 }
            }
            impl Other { pub fn get_a(&self) -> u8 { 0 } }
            "#,
        )
        .unwrap();
        assert_eq!(mark(&mut file, &found), 2);
        let code = prettyplease::unparse(&file);
        assert_eq!(code.matches("#[deprecated").count(), 2, "{code}");
        assert!(code.contains(
            "#[deprecated(note = \"the platform deprecated this operation; sunset 2026-06-30\")]\n    pub fn get_a"
        ), "{code}");
        assert!(code.contains("#[deprecated(note = \"the platform deprecated this field\")]\n        pub shared_account"), "{code}");
        assert_eq!(code.matches("#[allow(deprecated)]").count(), 3, "{code}");
        // Nothing deprecated: the file is left as it is.
        let mut untouched: syn::File =
            syn::parse_str("impl Client { pub fn get_a(&self) {} }").unwrap();
        assert_eq!(mark(&mut untouched, &Deprecations::default()), 0);
        assert!(!prettyplease::unparse(&untouched).contains("deprecated"));
    }
}
