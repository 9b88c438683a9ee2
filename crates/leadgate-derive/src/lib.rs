//! `#[derive(FromJson)]`: the config reader of a type, generated from the type itself.
//!
//! A config type is described once: its fields, their Rust types and their serde attributes
//! (which `Serialize` and the JSON Schema read too). This derive reads the same attributes and
//! writes the type's `leadgate_core::json::FromJson` impl on the core's small hand-written
//! JSON reader (kept for the widget's size, see `json.rs`), so the keys, the defaults, the
//! reader and the schema cannot drift apart.
//!
//! What it understands, on a struct with named fields:
//! - `#[serde(rename = "type")]`: the key;
//! - `#[serde(default)]` on the container: a missing key takes its value from
//!   `Default::default()`; on a field: from the field type's default;
//!   `#[serde(default = "path")]`: from `path()`;
//! - `Option<T>` fields are optional (missing or `null` is `None`);
//! - `#[serde(skip)]`: never read, `Default::default()`;
//! - every other key is an error naming it, with the known keys and a "did you mean".
//!
//! On an enum of unit variants with `#[serde(rename_all = "snake_case")]` (or a `rename` per
//! variant): a string, one of the variants' names; the names come from the variants, so a
//! new variant needs no other edit, and the match has no catch-all arm on the enum.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::{parse_macro_input, Attribute, Data, DeriveInput, Fields, LitStr, Type};

/// Derives `leadgate_core::json::FromJson` (see the crate docs).
#[proc_macro_derive(FromJson)]
pub fn derive_from_json(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let result = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => read_struct(&input, fields),
            _ => Err(syn::Error::new_spanned(&input.ident, "FromJson needs named fields")),
        },
        Data::Enum(data) => read_enum(&input, data),
        Data::Union(_) => Err(syn::Error::new_spanned(&input.ident, "FromJson: not for unions")),
    };
    result.unwrap_or_else(syn::Error::into_compile_error).into()
}

/// What the serde attributes of a container, field or variant say.
#[derive(Default)]
struct Serde {
    rename: Option<String>,
    rename_all_snake: bool,
    default: Option<DefaultFrom>,
    skip: bool,
}

enum DefaultFrom {
    Trait,
    Path(syn::ExprPath),
}

fn serde_attrs(attrs: &[Attribute]) -> syn::Result<Serde> {
    let mut serde = Serde::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                serde.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("rename_all") {
                let rule = meta.value()?.parse::<LitStr>()?.value();
                if rule != "snake_case" {
                    return Err(meta.error("FromJson knows rename_all = \"snake_case\" only"));
                }
                serde.rename_all_snake = true;
            } else if meta.path.is_ident("default") {
                serde.default = Some(match meta.value() {
                    Ok(value) => DefaultFrom::Path(value.parse::<LitStr>()?.parse()?),
                    Err(_) => DefaultFrom::Trait,
                });
            } else if meta.path.is_ident("skip") {
                serde.skip = true;
            } else if meta.input.peek(syn::Token![=]) {
                // deny_unknown_fields, skip_serializing_if = "...", tag = "...": nothing to do
                // for reading (unknown keys are always refused).
                meta.value()?.parse::<syn::Expr>()?;
            }
            Ok(())
        })?;
    }
    Ok(serde)
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => match args.args.first()? {
            syn::GenericArgument::Type(inner) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

fn read_struct(input: &DeriveInput, fields: &syn::FieldsNamed) -> syn::Result<Tokens> {
    let name = &input.ident;
    let container = serde_attrs(&input.attrs)?;
    let mut keys = Vec::new();
    // The value the struct starts from: required keys read, the others at their defaults.
    let mut inits = Vec::new();
    // The optional keys, and the fields their values replace the defaults of.
    let (mut optional, mut slots) = (Vec::new(), Vec::new());
    for field in &fields.named {
        let ident =
            field.ident.as_ref().ok_or_else(|| syn::Error::new_spanned(field, "unnamed"))?;
        let serde = serde_attrs(&field.attrs)?;
        if serde.skip {
            inits.push(quote! { #ident: ::core::default::Default::default() });
            continue;
        }
        let key = serde.rename.unwrap_or_else(|| ident.to_string());
        keys.push(key.clone());
        let ty = &field.ty;
        // `Option<T>` reads as `Some` (`FromJson for Option<T>`); missing or `null` is `None`.
        let init = if option_inner(ty).is_some() {
            quote! { None }
        } else {
            match (&serde.default, &container.default) {
                (Some(DefaultFrom::Path(path)), _) => quote! { #path() },
                (Some(DefaultFrom::Trait), _) | (None, Some(_)) => {
                    quote! { ::core::default::Default::default() }
                }
                (None, None) => {
                    // Required: read first, from `need` (missing, or `null` where a value is
                    // needed, is an error naming the key).
                    inits.push(
                        quote! { #ident: <#ty as crate::json::FromJson>::read(&obj.need(#key)?)? },
                    );
                    continue;
                }
            }
        };
        inits.push(quote! { #ident: #init });
        optional.push(key);
        slots.push(quote! { &mut out.#ident as &mut dyn crate::json::Slot });
    }
    let count = keys.len();
    // With `#[serde(default)]` on the container, a missing key keeps the value of the type's
    // `Default` (serde's rule); the other fields start from their own defaults.
    let start = if container.default.is_some() {
        quote! { <#name as ::core::default::Default>::default() }
    } else {
        quote! { #name { #(#inits),* } }
    };
    // Every optional key present (and not `null`) replaces its default, in the order of KEYS,
    // through one shared loop (`Obj::fill`): the code per key is a pointer to its field, the
    // code per field type is shared by every type read, and an error leaves through one exit
    // that drops `out` whichever key it was.
    let body = if optional.is_empty() {
        quote! { Ok(#start) }
    } else {
        quote! {
            let mut out = #start;
            obj.fill(&[#(#optional),*], &mut [#(#slots),*])?;
            Ok(out)
        }
    };
    Ok(quote! {
        impl #name {
            /// The keys this object takes, in the order they are documented.
            pub const KEYS: [&'static str; #count] = [#(#keys),*];
        }

        impl crate::json::FromJson for #name {
            fn read(node: &crate::json::Node) -> crate::json::Read<#name> {
                let obj = node.object(&#name::KEYS)?;
                #body
            }
        }
    })
}

fn snake_case(ident: &str) -> String {
    let mut out = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn read_enum(input: &DeriveInput, data: &syn::DataEnum) -> syn::Result<Tokens> {
    let name = &input.ident;
    let container = serde_attrs(&input.attrs)?;
    let mut names = Vec::new();
    let mut variants = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(variant, "FromJson: unit variants only"));
        }
        let serde = serde_attrs(&variant.attrs)?;
        let text = serde.rename.unwrap_or_else(|| {
            let ident = variant.ident.to_string();
            if container.rename_all_snake {
                snake_case(&ident)
            } else {
                ident
            }
        });
        names.push(LitStr::new(&text, Span::call_site()));
        variants.push(&variant.ident);
    }
    let count = names.len();
    Ok(quote! {
        impl #name {
            /// Every variant, in the order of [`Self::NAMES`].
            pub const ALL: [#name; #count] = [#(#name::#variants),*];
            /// The variants' names as the config writes them.
            pub const NAMES: [&'static str; #count] = [#(#names),*];

            /// The name of this variant as the config writes it.
            pub fn name(self) -> &'static str {
                match self {
                    #(#name::#variants => #names),*
                }
            }
        }

        impl crate::json::FromJson for #name {
            fn read(node: &crate::json::Node) -> crate::json::Read<#name> {
                // `one_of` answers an index of NAMES, which has one entry per variant.
                Ok(#name::ALL[node.one_of(&#name::NAMES)?])
            }
        }
    })
}
