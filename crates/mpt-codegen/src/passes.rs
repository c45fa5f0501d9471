//! Passes over progenitor's output, each asked for by an amendment: what no generator setting
//! reaches, changed in the syntax tree before it is formatted (never by editing the file).

use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Pat, Stmt};

/// Removes the constant `api-version` header progenitor builds into a fresh header map on every
/// request (`generator.dropVersionHeader`): the `let mut header_map`, its `append` of that
/// header, and the `.headers(header_map)` call, in every function whose header map holds
/// nothing else. A function that appends any other header is left as it is.
pub fn drop_version_header(file: &mut syn::File) {
    DropVersionHeader.visit_file_mut(file);
}

struct DropVersionHeader;

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
        if declared && !appends.is_empty() && appends.iter().all(|&version| version) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
