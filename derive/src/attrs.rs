//! The serde (and `js`) attributes that change a type's JS form.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Token};

/// On the struct or enum.
#[derive(Default)]
pub struct ContainerAttrs {
    pub rename: Option<String>,
    pub rename_all: Option<String>,
    pub tag: Option<String>,
    pub content: Option<String>,
    pub untagged: bool,
    pub transparent: bool,
}

/// On a field.
#[derive(Default)]
pub struct FieldAttrs {
    pub rename: Option<String>,
    pub skip_ser: bool,
    pub skip_if: bool,
    pub default: bool,
    pub flatten: bool,
    pub with: Option<String>,
    pub as_ty: Option<syn::Type>,
}

/// On a variant.
#[derive(Default)]
pub struct VariantAttrs {
    pub rename: Option<String>,
    pub rename_all: Option<String>,
    pub skip: bool,
    pub untagged: bool,
}

/// A string value: `name = "..."`.
fn string(meta: &ParseNestedMeta<'_>) -> syn::Result<String> {
    Ok(meta.value()?.parse::<LitStr>()?.value())
}

/// A rename's serialize name: `rename = "x"` or `rename(serialize = "x", ...)`.
fn rename(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<String>> {
    if meta.input.peek(Token![=]) {
        return string(meta).map(Some);
    }
    let mut out = None;
    meta.parse_nested_meta(|m| {
        if m.path.is_ident("serialize") {
            out = Some(string(&m)?);
        } else {
            skip(&m)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// Consume an attribute this derive does not read.
fn skip(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|m| skip(&m))?;
    }
    Ok(())
}

/// Run `f` on each item of each `#[serde(...)]` and `#[js(...)]` attribute.
fn each(
    attrs: &[Attribute],
    mut f: impl FnMut(&str, &ParseNestedMeta<'_>) -> syn::Result<bool>,
) -> syn::Result<()> {
    for attr in attrs {
        let ns = if attr.path().is_ident("serde") {
            "serde"
        } else if attr.path().is_ident("js") {
            "js"
        } else {
            continue;
        };
        attr.parse_nested_meta(|meta| {
            if !f(ns, &meta)? {
                skip(&meta)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

impl ContainerAttrs {
    pub fn parse(attrs: &[Attribute]) -> syn::Result<ContainerAttrs> {
        let mut a = ContainerAttrs::default();
        each(attrs, |ns, m| {
            let p = &m.path;
            match ns {
                "serde" if p.is_ident("rename") => a.rename = rename(m)?,
                "serde" if p.is_ident("rename_all") => a.rename_all = rename(m)?,
                "serde" if p.is_ident("tag") => a.tag = Some(string(m)?),
                "serde" if p.is_ident("content") => a.content = Some(string(m)?),
                "serde" if p.is_ident("untagged") => a.untagged = true,
                "serde" if p.is_ident("transparent") => a.transparent = true,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(a)
    }
}

impl FieldAttrs {
    pub fn parse(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
        let mut a = FieldAttrs::default();
        each(attrs, |ns, m| {
            let p = &m.path;
            match ns {
                "serde" if p.is_ident("rename") => a.rename = rename(m)?,
                "serde" if p.is_ident("skip") || p.is_ident("skip_serializing") => {
                    a.skip_ser = true
                }
                "serde" if p.is_ident("skip_serializing_if") => {
                    string(m)?;
                    a.skip_if = true
                }
                "serde" if p.is_ident("default") => {
                    if m.input.peek(Token![=]) {
                        string(m)?;
                    }
                    a.default = true
                }
                "serde" if p.is_ident("flatten") => a.flatten = true,
                "serde" if p.is_ident("with") || p.is_ident("serialize_with") => {
                    a.with = Some(string(m)?)
                }
                "js" if p.is_ident("as") => a.as_ty = Some(syn::parse_str(&string(m)?)?),
                "js" => return Err(m.error("expected `as = \"Type\"`")),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(a)
    }
}

impl VariantAttrs {
    pub fn parse(attrs: &[Attribute]) -> syn::Result<VariantAttrs> {
        let mut a = VariantAttrs::default();
        each(attrs, |ns, m| {
            let p = &m.path;
            match ns {
                "serde" if p.is_ident("rename") => a.rename = rename(m)?,
                "serde" if p.is_ident("rename_all") => a.rename_all = rename(m)?,
                "serde" if p.is_ident("skip") || p.is_ident("skip_serializing") => a.skip = true,
                "serde" if p.is_ident("untagged") => a.untagged = true,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(a)
    }
}
