//! Passes over progenitor's output, each asked for by an amendment: what no generator setting
//! reaches, changed in the syntax tree before it is formatted (never by editing the file).

use std::collections::BTreeMap;

use quote::ToTokens;
use serde_json::Value;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Pat, Stmt};

/// Removes the constant `api-version` header progenitor builds into a fresh header map on every
/// request (`generator.dropVersionHeader`): the `let mut header_map`, its `append` of that
/// header, and the `.headers(header_map)` call, in every function whose header map holds
/// nothing else. A function that appends any other header is left as it is.
/// A header map used by anything but the version header (an optional `Accept-Language`
/// appended inside an `if let`, say) is kept whole. Returns how many operations it changed.
pub fn drop_version_header(file: &mut syn::File) -> usize {
    let mut pass = DropVersionHeader(0);
    pass.visit_file_mut(file);
    pass.0
}

struct DropVersionHeader(usize);

/// Every use of the header map, and how many of them are `.headers(header_map)`.
#[derive(Default)]
struct MapUses {
    all: usize,
    sent: usize,
}

impl<'ast> syn::visit::Visit<'ast> for MapUses {
    fn visit_ident(&mut self, ident: &'ast syn::Ident) {
        if ident == MAP {
            self.all += 1;
        }
    }
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method == "headers"
            && call.args.len() == 1
            && matches!(&call.args[0], Expr::Path(p) if p.path.is_ident(MAP))
        {
            self.sent += 1;
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

const MAP: &str = "header_map";

fn declares_map(stmt: &Stmt) -> bool {
    matches!(stmt, Stmt::Local(local)
        if matches!(&local.pat, Pat::Ident(p) if p.ident == MAP))
}

/// `header_map.append(...)`, and whether it appends `api-version`.
fn append_to_map(stmt: &Stmt) -> Option<bool> {
    let Stmt::Expr(Expr::MethodCall(call), _) = stmt else {
        return None;
    };
    let on_map = matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident(MAP));
    (on_map && call.method == "append").then(|| {
        call.args.first().is_some_and(|name| {
            name.to_token_stream()
                .to_string()
                .contains("\"api-version\"")
        })
    })
}

/// Replaces `x.headers(header_map)` by `x`.
struct DropHeadersCall;

impl VisitMut for DropHeadersCall {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::MethodCall(call) = expr
            && call.method == "headers"
            && call.args.len() == 1
            && matches!(&call.args[0], Expr::Path(p) if p.path.is_ident(MAP))
        {
            *expr = (*call.receiver).clone();
            self.visit_expr_mut(expr);
            return;
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}

impl VisitMut for DropVersionHeader {
    fn visit_block_mut(&mut self, block: &mut Block) {
        let declared = block.stmts.iter().any(declares_map);
        let appends: Vec<bool> = block.stmts.iter().filter_map(append_to_map).collect();
        let mut uses = MapUses::default();
        for stmt in block
            .stmts
            .iter()
            .filter(|s| !declares_map(s) && append_to_map(s) != Some(true))
        {
            syn::visit::Visit::visit_stmt(&mut uses, stmt);
        }
        let only_version = uses.all == uses.sent;
        if declared && only_version && !appends.is_empty() && appends.iter().all(|&v| v) {
            self.0 += 1;
            block
                .stmts
                .retain(|s| !declares_map(s) && append_to_map(s).is_none());
            for stmt in &mut block.stmts {
                DropHeadersCall.visit_stmt_mut(stmt);
            }
        }
        visit_mut::visit_block_mut(self, block);
    }
}

/// Sends the raw body of each multipart operation (`generator.multipartBodies`) as
/// `multipart/form-data` with the boundary `mpt_api::multipart::Form` encodes with
/// ([`crate::limits::MULTIPART_BOUNDARY`]), instead of `application/octet-stream`.
pub fn multipart_content_type(file: &mut syn::File, operations: &[String]) {
    struct Swap<'a>(&'a [String]);
    impl VisitMut for Swap<'_> {
        fn visit_impl_item_fn_mut(&mut self, f: &mut syn::ImplItemFn) {
            if f.sig.ident == "send"
                && operation_id_in(&f.block).is_some_and(|id| self.0.contains(&id))
            {
                SwapLiteral.visit_block_mut(&mut f.block);
            }
            visit_mut::visit_impl_item_fn_mut(self, f);
        }
    }
    struct SwapLiteral;
    impl VisitMut for SwapLiteral {
        fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
            if lit.value() == "application/octet-stream" {
                let form = format!(
                    "multipart/form-data; boundary={}",
                    crate::limits::MULTIPART_BOUNDARY
                );
                *lit = syn::LitStr::new(&form, lit.span());
            }
        }
    }
    Swap(operations).visit_file_mut(file);
}

/// Appends `pub mod answers` with `decodes(operation_id, body)`: whether a success answer's
/// body is what the operation's generated `send` declares (`ResponseValue<T>`: `T` from JSON;
/// `()`: an empty body; a byte stream: anything), `None` for an operation the client does not
/// have. Taken from the generated code itself, so hooks that must judge a body (retry a cut
/// one, scrub one for the raw client) follow a renamed operation or a changed answer type with
/// the next `cargo xtask regen`, and hold no operation name of their own.
pub fn answer_table(file: &mut syn::File) {
    let mut finder = SendFns::default();
    syn::visit::Visit::visit_file(&mut finder, file);
    finder.found.sort_by(|a, b| a.0.cmp(&b.0));
    finder.found.dedup_by(|a, b| a.0 == b.0);
    let arms = finder.found.iter().map(|(operation, answer)| {
        let check = match answer {
            Answer::Nothing => quote::quote! { body.is_empty() },
            Answer::Bytes => quote::quote! { true },
            Answer::Json(ty) => {
                quote::quote! { ::serde_json::from_slice::<#ty>(body).is_ok() }
            }
        };
        quote::quote! { #operation => Some(#check), }
    });
    let module: syn::Item = syn::parse_quote! {
        /// What each operation declares as its success answer, for hooks that judge a body.
        pub mod answers {
            #[allow(unused_imports)]
            use super::types;
            /// Whether `body`, the body of a success answer to `operation_id`, is what that
            /// operation declares (`None` for an operation this client does not have).
            pub fn decodes(operation_id: &str, body: &[u8]) -> Option<bool> {
                match operation_id {
                    #(#arms)*
                    _ => None,
                }
            }
        }
    };
    file.items.push(module);
}

/// Each operation's success answer in generated code `code`, in words: `nothing`, `a byte
/// stream` or `a JSON document` (what [`answer_table`] tells the hooks); empty when `code` is not
/// Rust.
pub fn answer_shapes(code: &str) -> Vec<(String, &'static str)> {
    let Ok(file) = syn::parse_file(code) else {
        return Vec::new();
    };
    let mut finder = SendFns::default();
    syn::visit::Visit::visit_file(&mut finder, &file);
    finder
        .found
        .into_iter()
        .map(|(operation, answer)| {
            let shape = match answer {
                Answer::Nothing => "nothing",
                Answer::Bytes => "a byte stream",
                Answer::Json(_) => "a JSON document",
            };
            (operation, shape)
        })
        .collect()
}

/// Reads (`GET`s) that share an operationId across namespaces must answer alike: the facade's
/// hook layer knows what a success answer should be by its operation id alone
/// (`mpt_api::answer_shape`: the first client compiled in that has the id says), so a download
/// named like another module's JSON read would be read whole and judged a document cut short.
/// `reads` holds each read's first namespace and answer; the error names both.
pub fn check_read_shapes(
    reads: &mut BTreeMap<String, (String, &'static str)>,
    unit: &str,
    doc: &Value,
    code: &str,
) -> std::result::Result<(), String> {
    let shapes: BTreeMap<String, &'static str> = answer_shapes(code).into_iter().collect();
    let paths = doc.get("paths").and_then(Value::as_object).into_iter();
    let ids = paths
        .flatten()
        .filter_map(|(_, item)| item.pointer("/get/operationId")?.as_str());
    for id in ids {
        let Some(&shape) = shapes.get(id) else {
            continue;
        };
        match reads.get(id) {
            Some((first, other)) if *other != shape => {
                return Err(format!(
                    "the read {id:?} answers {other} in {first} and {shape} in {unit}; the hook \
                     layer knows an answer by its operation id alone: give one of them another \
                     id (operationIds.moduleOverrides)"
                ));
            }
            Some(_) => {}
            None => {
                reads.insert(id.to_string(), (unit.to_string(), shape));
            }
        }
    }
    Ok(())
}

/// What a `send` answers on success.
enum Answer {
    Nothing,
    Bytes,
    Json(Box<syn::Type>),
}

/// The `send` functions of the builders: operation id and answer.
#[derive(Default)]
struct SendFns {
    found: Vec<(String, Answer)>,
}

impl<'ast> syn::visit::Visit<'ast> for SendFns {
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if f.sig.ident == "send"
            && let Some(answer) = answer_of(&f.sig.output)
            && let Some(operation) = operation_id_in(&f.block)
        {
            self.found.push((operation, answer));
        }
        syn::visit::visit_impl_item_fn(self, f);
    }
}

/// `T` of a `-> Result<ResponseValue<T>, _>`.
fn answer_of(output: &syn::ReturnType) -> Option<Answer> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let first_arg = |ty: &syn::Type, name: &str| -> Option<syn::Type> {
        let syn::Type::Path(path) = ty else {
            return None;
        };
        let last = path.path.segments.last()?;
        if last.ident != name {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
    };
    let value = first_arg(ty, "Result")?;
    let answer = first_arg(&value, "ResponseValue")?;
    Some(match &answer {
        syn::Type::Tuple(t) if t.elems.is_empty() => Answer::Nothing,
        syn::Type::Path(p)
            if p.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "ByteStream") =>
        {
            Answer::Bytes
        }
        _ => Answer::Json(Box::new(answer)),
    })
}

/// The string given as `operation_id` in an `OperationInfo { .. }` in `block`.
fn operation_id_in(block: &syn::Block) -> Option<String> {
    #[derive(Default)]
    struct Find(Option<String>);
    impl<'ast> syn::visit::Visit<'ast> for Find {
        fn visit_expr_struct(&mut self, e: &'ast syn::ExprStruct) {
            if e.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "OperationInfo")
            {
                for field in &e.fields {
                    if let syn::Member::Named(name) = &field.member
                        && name == "operation_id"
                        && let Expr::Lit(lit) = &field.expr
                        && let syn::Lit::Str(s) = &lit.lit
                    {
                        self.0 = Some(s.value());
                    }
                }
            }
            syn::visit::visit_expr_struct(self, e);
        }
    }
    let mut find = Find::default();
    syn::visit::Visit::visit_block(&mut find, block);
    find.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_table_follows_each_send() {
        let mut file: syn::File = syn::parse_str(
            r#"impl<'a> GetThing<'a> {
                pub async fn send(self) -> Result<ResponseValue<types::Thing>, Error<types::P>> {
                    let info = OperationInfo { operation_id: "read_thing" };
                    todo!()
                }
            }
            impl<'a> DropThing<'a> {
                pub async fn send(self) -> Result<ResponseValue<()>, Error<types::P>> {
                    let info = OperationInfo { operation_id: "drop_thing" };
                    todo!()
                }
            }
            impl<'a> Other<'a> { pub fn send(self) -> u8 { 0 } }"#,
        )
        .unwrap();
        answer_table(&mut file);
        let code = prettyplease::unparse(&file);
        assert!(
            code.contains(
                r#""read_thing" => Some(::serde_json::from_slice::<types::Thing>(body).is_ok())"#
            ),
            "{code}"
        );
        assert!(
            code.contains(r#""drop_thing" => Some(body.is_empty())"#),
            "{code}"
        );
        assert!(code.contains("_ => None"), "{code}");
    }

    fn pass(code: &str) -> String {
        let mut file: syn::File = syn::parse_str(code).unwrap();
        drop_version_header(&mut file);
        prettyplease::unparse(&file)
    }

    #[test]
    fn the_version_header_alone_is_dropped_and_other_headers_stay() {
        let only = pass(
            r#"fn send() { let mut header_map = HeaderMap::with_capacity(1usize);
            header_map.append(HeaderName::from_static("api-version"), v());
            let request = client.get(url).query(q).headers(header_map).build()?; }"#,
        );
        assert!(
            !only.contains("header_map") && !only.contains("api-version"),
            "{only}"
        );
        assert!(only.contains("client.get(url).query(q).build()?"), "{only}");

        let other = r#"fn send() { let mut header_map = HeaderMap::with_capacity(2usize);
            header_map.append(HeaderName::from_static("api-version"), v());
            header_map.append(HeaderName::from_static("x-request-id"), id());
            let request = client.get(url).headers(header_map).build()?; }"#;
        let kept = pass(other);
        assert!(
            kept.contains("x-request-id") && kept.contains(".headers(header_map)"),
            "{kept}"
        );

        let optional = r#"fn send() { let mut header_map = HeaderMap::with_capacity(2usize);
            header_map.append(HeaderName::from_static("api-version"), v());
            if let Some(v) = lang { header_map.append("accept-language", v.to_string().try_into()?); }
            let request = client.get(url).headers(header_map).build()?; }"#;
        let kept = pass(optional);
        assert!(
            kept.contains("accept-language") && kept.contains(".headers(header_map)"),
            "an optional header appended in an `if let` keeps the map: {kept}"
        );
    }

    #[test]
    fn a_read_answering_otherwise_under_another_modules_id_is_refused_naming_both() {
        let code = |answer: &str| {
            format!(
                r#"impl<'a> GetThing<'a> {{
                    pub async fn send(self) -> Result<ResponseValue<{answer}>, Error<()>> {{
                        let info = OperationInfo {{ operation_id: "get_attachment" }};
                        todo!()
                    }}
                }}"#
            )
        };
        let doc = |method: &str| serde_json::json!({"paths": {"/x/{id}": {method: {"operationId": "get_attachment"}}}});
        let mut reads = BTreeMap::new();
        let document = code("types::Attachment");
        check_read_shapes(&mut reads, "catalog", &doc("get"), &document).unwrap();
        // The same answer in another module is fine; so is a change answering otherwise.
        check_read_shapes(&mut reads, "program", &doc("get"), &document).unwrap();
        let bytes = code("ByteStream");
        check_read_shapes(&mut reads, "billing", &doc("put"), &bytes).unwrap();
        let err = check_read_shapes(&mut reads, "notifications", &doc("get"), &bytes).unwrap_err();
        for words in [
            "\"get_attachment\"",
            "a JSON document in catalog",
            "a byte stream in notifications",
            "moduleOverrides",
        ] {
            assert!(err.contains(words), "{words}: {err}");
        }
    }
}
