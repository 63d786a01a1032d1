//! `#[derive(JsType)]`: a Rust type's JS type for polycodec's TypeScript generation.
//!
//! Reads the serde attributes that change what goes on the wire (`rename`, `rename_all`,
//! `skip`, `skip_serializing`, `skip_serializing_if`, `default`, `flatten`, `transparent`,
//! `tag`, `content`, `untagged`, and `with`/`serialize_with` naming a `polycodec::js`
//! helper) and writes `impl polycodec::types::JsType`. `#[js(as = "Type")]` on a field takes
//! its type from another Rust type (for a `with` helper of your own). Used through
//! `polycodec::types::JsType` (feature `types`).

mod attrs;
mod case;

use attrs::{ContainerAttrs, FieldAttrs, VariantAttrs};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields, Type};

/// Derive `polycodec::types::JsType` from a struct's or enum's serde attributes.
#[proc_macro_derive(JsType, attributes(js))]
pub fn derive_js_type(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let attrs = ContainerAttrs::parse(&input.attrs)?;
    let body = match &input.data {
        Data::Struct(s) => struct_body(&attrs, &input.ident.to_string(), &s.fields)?,
        Data::Enum(e) => {
            let mut arms = Vec::new();
            for v in &e.variants {
                let va = VariantAttrs::parse(&v.attrs)?;
                if va.skip {
                    continue;
                }
                let name = va.rename.clone().unwrap_or_else(|| {
                    case::apply(attrs.rename_all.as_deref(), &v.ident.to_string(), true)
                });
                arms.push(variant(&attrs, &va, &name, &v.fields)?);
            }
            quote!(::polycodec::types::Ty::Union(::std::vec![#(#arms),*]))
        }
        Data::Union(u) => {
            return Err(syn::Error::new_spanned(
                u.union_token,
                "JsType cannot be derived for a union",
            ))
        }
    };
    let name = &input.ident;
    let name_str = name.to_string();
    let mut generics = input.generics.clone();
    for p in generics.type_params_mut() {
        p.bounds.push(syn::parse_quote!(::polycodec::types::JsType));
    }
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    Ok(quote! {
        impl #impl_g ::polycodec::types::JsType for #name #ty_g #where_c {
            fn js_type() -> ::polycodec::types::Ty {
                ::polycodec::types::Ty::named(#name_str, || #body)
            }
        }
    })
}

/// The type of a field (or a newtype's inner value), after its `with`.
fn field_ty(ty: &Type, fa: &FieldAttrs) -> TokenStream {
    if let Some(ty) = &fa.as_ty {
        return quote!(<#ty as ::polycodec::types::JsType>::js_type());
    }
    let base = quote!(<#ty as ::polycodec::types::JsType>::js_type());
    let Some(with) = &fa.with else {
        return base;
    };
    let with = with.replace(' ', "");
    let last = with.rsplit("::").next().unwrap_or("");
    let via_js = with.contains("js::") || with == last;
    match last {
        "date" if via_js => quote!(::polycodec::types::Ty::Date),
        "bigint" if via_js => quote!(::polycodec::types::Ty::BigInt),
        "undefined" if via_js => quote!(::polycodec::types::Ty::js_undefined(#base)),
        "map" if via_js => quote!(::polycodec::types::Ty::js_map(#base)),
        "set" if via_js => quote!(::polycodec::types::Ty::js_set(#base)),
        "serde_bytes" => quote!(::polycodec::types::Ty::Bytes),
        _ => quote!(::polycodec::types::Ty::Unknown),
    }
}

/// Named fields as an object, flattened ones joined in.
fn object(rename_all: Option<&str>, fields: &syn::FieldsNamed) -> syn::Result<TokenStream> {
    let mut entries = Vec::new();
    let mut flattened = Vec::new();
    for f in &fields.named {
        let fa = FieldAttrs::parse(&f.attrs)?;
        if fa.skip_ser {
            continue;
        }
        let ty = field_ty(&f.ty, &fa);
        if fa.flatten {
            flattened.push(ty);
            continue;
        }
        let ident = f
            .ident
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let ident = ident.strip_prefix("r#").unwrap_or(&ident).to_owned();
        let name = fa
            .rename
            .clone()
            .unwrap_or_else(|| case::apply(rename_all, &ident, false));
        let absent_out = fa.skip_if;
        // serde reads a missing `Option` field as `None` unless a `with` reads it.
        let absent_in = fa.default || (is_option(&f.ty) && fa.with.is_none());
        entries.push(quote! {
            ::polycodec::types::Field {
                name: ::std::string::String::from(#name),
                ty: #ty,
                absent_out: #absent_out,
                absent_in: #absent_in,
            }
        });
    }
    let obj = quote!(::polycodec::types::Ty::Object(::std::vec![#(#entries),*]));
    Ok(if flattened.is_empty() {
        obj
    } else {
        quote!(::polycodec::types::Ty::Intersection(
            ::std::vec![#obj, #(#flattened),*]
        ))
    })
}

fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Option"),
        _ => false,
    }
}

/// Unnamed fields: a newtype is its inner value, more are a tuple.
fn tuple(fields: &syn::FieldsUnnamed) -> syn::Result<TokenStream> {
    let mut items = Vec::new();
    for f in &fields.unnamed {
        let fa = FieldAttrs::parse(&f.attrs)?;
        if fa.skip_ser {
            continue;
        }
        items.push(field_ty(&f.ty, &fa));
    }
    Ok(if fields.unnamed.len() == 1 && items.len() == 1 {
        items.remove(0)
    } else {
        quote!(::polycodec::types::Ty::Tuple(::std::vec![#(#items),*]))
    })
}

fn struct_body(attrs: &ContainerAttrs, ident: &str, fields: &Fields) -> syn::Result<TokenStream> {
    if attrs.transparent {
        for f in fields.iter() {
            let fa = FieldAttrs::parse(&f.attrs)?;
            if !fa.skip_ser {
                return Ok(field_ty(&f.ty, &fa));
            }
        }
    }
    let body = match fields {
        Fields::Named(n) => object(attrs.rename_all.as_deref(), n)?,
        Fields::Unnamed(u) => tuple(u)?,
        Fields::Unit => quote!(::polycodec::types::Ty::Null),
    };
    // `#[serde(tag = "...")]` on a struct writes the name as a field.
    Ok(match &attrs.tag {
        Some(tag) if matches!(fields, Fields::Named(_)) => {
            let name = attrs.rename.clone().unwrap_or_else(|| ident.to_owned());
            quote!(::polycodec::types::Ty::Intersection(::std::vec![
                ::polycodec::types::Ty::Object(::std::vec![::polycodec::types::Field::new(
                    #tag, ::polycodec::types::Ty::Literal(::std::string::String::from(#name)))]),
                #body
            ]))
        }
        _ => body,
    })
}

/// One variant of an enum, in the enum's representation.
fn variant(
    attrs: &ContainerAttrs,
    va: &VariantAttrs,
    name: &str,
    fields: &Fields,
) -> syn::Result<TokenStream> {
    let lit = quote!(::polycodec::types::Ty::Literal(::std::string::String::from(#name)));
    let rename_all = va.rename_all.as_deref();
    let content = match fields {
        Fields::Named(n) => Some(object(rename_all, n)?),
        Fields::Unnamed(u) => Some(tuple(u)?),
        Fields::Unit => None,
    };
    let field = |key: &str, ty: TokenStream| quote!(::polycodec::types::Field::new(#key, #ty));
    let obj = |fields: Vec<TokenStream>| {
        quote!(::polycodec::types::Ty::Object(::std::vec![#(#fields),*]))
    };
    Ok(if attrs.untagged || va.untagged {
        content.unwrap_or_else(|| quote!(::polycodec::types::Ty::Null))
    } else if let Some(tag) = &attrs.tag {
        let tag_obj = obj(vec![field(tag, lit)]);
        match (&attrs.content, content) {
            (_, None) => tag_obj,
            (Some(c), Some(content)) => obj(vec![
                field(
                    tag,
                    quote!(::polycodec::types::Ty::Literal(::std::string::String::from(#name))),
                ),
                field(c, content),
            ]),
            (None, Some(content)) => {
                quote!(::polycodec::types::Ty::Intersection(
                    ::std::vec![#tag_obj, #content]
                ))
            }
        }
    } else {
        match content {
            None => lit,
            Some(content) => obj(vec![field(name, content)]),
        }
    })
}
