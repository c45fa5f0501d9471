//! A listing of a crate's public Rust API, read from its sources: one line per public item
//! (`path: signature`, bodies left out), sorted. Two listings compare line by line, so a spec
//! change that silently changes what Rust callers see shows up in review ([`ApiDiff`]), and the
//! listings of `mpt-api` and `mpt` are snapshotted in the tests.
//!
//! It reads what `pub` items the sources declare, including those in private modules (this
//! workspace re-exports what it declares `pub`); it does not resolve re-exports or macros.

use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::{Attribute, Fields, ImplItem, Item, TraitItem, Visibility};

use crate::diff::Bump;
use crate::error::{Error, Result, read_input};

/// The public items of one source file, as sorted lines.
pub fn listing_of_source(path: &Path, source: &str) -> Result<Vec<String>> {
    let file = syn::parse_file(source)
        .map_err(|e| Error::invalid(path, "", format!("not Rust that parses: {e}")))?;
    let mut out = Vec::new();
    items(&file.items, "", &mut out, None);
    out.sort();
    out.dedup();
    Ok(out)
}

/// The public items of a crate: `src_dir/lib.rs` and every module file it declares.
pub fn listing_of_crate(src_dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut todo: Vec<(PathBuf, String)> = vec![(src_dir.join("lib.rs"), String::new())];
    while let Some((path, prefix)) = todo.pop() {
        let source = read_input(&path)?;
        let file = syn::parse_file(&source)
            .map_err(|e| Error::invalid(&path, "", format!("not Rust that parses: {e}")))?;
        let dir = path.parent().unwrap_or(src_dir).to_path_buf();
        let mut modules = Vec::new();
        items(&file.items, &prefix, &mut out, Some(&mut modules));
        for module in modules {
            let file = [
                dir.join(format!("{module}.rs")),
                dir.join(&module).join("mod.rs"),
            ]
            .into_iter()
            .find(|p| p.is_file());
            if let Some(file) = file {
                todo.push((file, format!("{prefix}{module}::")));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn public(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

/// The attributes that are part of the API: derives and `non_exhaustive`.
fn api_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive") || a.path().is_ident("non_exhaustive"))
        .cloned()
        .collect()
}

/// One item, printed on one line.
fn line(item: Item) -> String {
    let file = syn::File {
        shebang: None,
        attrs: Vec::new(),
        items: vec![item],
    };
    prettyplease::unparse(&file)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn items(
    list: &[Item],
    prefix: &str,
    out: &mut Vec<String>,
    mut modules: Option<&mut Vec<String>>,
) {
    let label = prefix_label(prefix);
    for item in list {
        match item {
            Item::Mod(m) if is_test_only(&m.attrs) => {}
            Item::Mod(m) => match &m.content {
                Some((_, inner)) => items(inner, &format!("{prefix}{}::", m.ident), out, None),
                None => {
                    if let Some(mods) = modules.as_deref_mut() {
                        mods.push(m.ident.to_string());
                    }
                }
            },
            // Trait impls for the crate's private types are not part of its API.
            Item::Impl(imp)
                if impl_target(imp).is_some_and(|t| private_types(list).contains(&t)) => {}
            Item::Impl(imp) => {
                out.extend(impl_lines(imp).into_iter().map(|l| format!("{label}{l}")))
            }
            other => {
                if let Some(text) = render(other) {
                    out.push(format!("{label}{text}"));
                }
            }
        }
    }
}

/// The structs and enums of `list` that are not `pub`.
fn private_types(list: &[Item]) -> Vec<String> {
    list.iter()
        .filter_map(|i| match i {
            Item::Struct(s) if !public(&s.vis) => Some(s.ident.to_string()),
            Item::Enum(e) if !public(&e.vis) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// `#[cfg(test)]`: not part of the API.
fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.to_token_stream().to_string().contains("test"))
}

fn prefix_label(prefix: &str) -> String {
    if prefix.is_empty() {
        String::from("crate: ")
    } else {
        format!("{}: ", prefix.trim_end_matches("::"))
    }
}

/// The `pub` fields, without their attributes.
fn public_fields<P: Default>(
    fields: &syn::punctuated::Punctuated<syn::Field, P>,
) -> syn::punctuated::Punctuated<syn::Field, P> {
    fields
        .iter()
        .filter(|f| public(&f.vis))
        .cloned()
        .map(|mut f| {
            f.attrs.clear();
            f
        })
        .collect()
}

/// A public item (other than modules and impls) on one line.
fn render(item: &Item) -> Option<String> {
    match item {
        Item::Struct(s) if public(&s.vis) => {
            let mut s = s.clone();
            s.attrs = api_attrs(&s.attrs);
            match &mut s.fields {
                Fields::Named(named) => named.named = public_fields(&named.named),
                Fields::Unnamed(unnamed) => unnamed.unnamed = public_fields(&unnamed.unnamed),
                Fields::Unit => {}
            }
            Some(line(Item::Struct(s)))
        }
        Item::Enum(e) if public(&e.vis) => {
            let mut e = e.clone();
            e.attrs = api_attrs(&e.attrs);
            for v in &mut e.variants {
                v.attrs.clear();
                for f in v.fields.iter_mut() {
                    f.attrs.clear();
                }
            }
            Some(line(Item::Enum(e)))
        }
        Item::Fn(f) if public(&f.vis) => {
            let mut f = f.clone();
            f.attrs.clear();
            f.block = Box::new(syn::parse_quote!({}));
            Some(line(Item::Fn(f)))
        }
        Item::Trait(t) if public(&t.vis) => {
            let mut t = t.clone();
            t.attrs.clear();
            for i in &mut t.items {
                match i {
                    TraitItem::Fn(f) => {
                        f.attrs.clear();
                        f.default = None;
                        f.semi_token = Some(Default::default());
                    }
                    TraitItem::Const(c) => {
                        c.attrs.clear();
                        c.default = None;
                    }
                    TraitItem::Type(ty) => ty.attrs.clear(),
                    _ => {}
                }
            }
            Some(line(Item::Trait(t)))
        }
        Item::Const(c) if public(&c.vis) => {
            let mut c = c.clone();
            c.attrs.clear();
            c.expr = Box::new(syn::parse_quote!(_));
            Some(line(Item::Const(c)).replace("= _;", ";"))
        }
        Item::Static(s) if public(&s.vis) => Some(format!(
            "pub static {}: {};",
            s.ident,
            s.ty.to_token_stream()
        )),
        Item::Type(t) if public(&t.vis) => {
            let mut t = t.clone();
            t.attrs.clear();
            Some(line(Item::Type(t)))
        }
        Item::Use(u) if public(&u.vis) => {
            let mut u = u.clone();
            u.attrs.clear();
            Some(line(Item::Use(u)))
        }
        _ => None,
    }
}

/// A trait impl as one line; an inherent impl as one line per public method or constant.
fn impl_lines(imp: &syn::ItemImpl) -> Vec<String> {
    let mut shell = imp.clone();
    shell.attrs.clear();
    shell.items.clear();
    if imp.trait_.is_some() {
        return vec![line(Item::Impl(shell))];
    }
    imp.items
        .iter()
        .filter_map(|i| {
            let mut one = match i {
                ImplItem::Fn(f) if public(&f.vis) => {
                    let mut f = f.clone();
                    f.attrs.clear();
                    f.block = syn::parse_quote!({});
                    ImplItem::Fn(f)
                }
                ImplItem::Const(c) if public(&c.vis) => {
                    let mut c = c.clone();
                    c.attrs.clear();
                    c.expr = syn::parse_quote!(_);
                    ImplItem::Const(c)
                }
                _ => return None,
            };
            if let ImplItem::Fn(f) = &mut one {
                f.attrs.clear();
            }
            let mut block = shell.clone();
            block.items = vec![one];
            Some(line(Item::Impl(block)))
        })
        .collect()
}

/// The name of the type an impl is for (`Foo` in `impl<T> Trait for Foo<T>`).
fn impl_target(imp: &syn::ItemImpl) -> Option<String> {
    match &*imp.self_ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// What changed between two listings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiDiff {
    /// Items in the old listing only (removed, or changed: a changed item is removed and added).
    pub removed: Vec<String>,
    /// Items in the new listing only.
    pub added: Vec<String>,
}

/// Compares two sorted listings.
pub fn diff(old: &[String], new: &[String]) -> ApiDiff {
    ApiDiff {
        removed: old.iter().filter(|l| !new.contains(l)).cloned().collect(),
        added: new.iter().filter(|l| !old.contains(l)).cloned().collect(),
    }
}

impl ApiDiff {
    /// Major when anything was removed or changed, minor when items were only added.
    pub fn bump(&self) -> Bump {
        if !self.removed.is_empty() {
            Bump::Major
        } else if !self.added.is_empty() {
            Bump::Minor
        } else {
            Bump::None
        }
    }

    /// `- old item` and `+ new item` lines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for l in &self.removed {
            out.push_str(&format!("  - {l}\n"));
        }
        for l in &self.added {
            out.push_str(&format!("  + {l}\n"));
        }
        out
    }
}
