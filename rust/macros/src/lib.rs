//! `#[guard_panics]`: no Rust panic crosses into Python.
//!
//! PyO3 turns a panic in a binding into `pyo3_runtime.PanicException`, a
//! `BaseException` that `except Exception` does not catch. Put on a
//! `#[pymethods]` impl block or a `#[pyfunction]`, this attribute runs each
//! function body under `catch_unwind` and turns a panic into a `RuntimeError`
//! naming the function (`rustdl::python::panic_guard`). Functions that return
//! a plain value are made to return `PyResult` of it.

use proc_macro::TokenStream;
use quote::ToTokens;
use syn::{parse_macro_input, parse_quote, Block, Item, ReturnType, Signature, Type};

#[proc_macro_attribute]
pub fn guard_panics(_args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item = parse_macro_input!(input as Item);
    match &mut item {
        Item::Impl(block) => {
            // `PyTensor` is `Tensor` in Python.
            let owner = block.self_ty.to_token_stream().to_string();
            let owner = owner.strip_prefix("Py").unwrap_or(&owner).to_string();
            for member in &mut block.items {
                if let syn::ImplItem::Fn(f) = member {
                    let name = format!("{owner}.{}", f.sig.ident);
                    guard(&mut f.sig, &mut f.block, &name);
                }
            }
        }
        Item::Fn(f) => {
            let name = f.sig.ident.to_string();
            guard(&mut f.sig, &mut f.block, &name);
        }
        other => {
            return syn::Error::new_spanned(other, "#[guard_panics] goes on an impl block or a fn")
                .to_compile_error()
                .into()
        }
    }
    item.into_token_stream().into()
}

/// True when the written return type is already a `PyResult`/`Result` (or the
/// bindings' alias `R = PyResult<PyTensor>`).
fn returns_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| matches!(s.ident.to_string().as_str(), "PyResult" | "Result" | "R")),
        _ => false,
    }
}

fn guard(sig: &mut Signature, block: &mut Block, name: &str) {
    let name = name.replace(' ', "");
    let body = &block;
    let wrapped: Block = match &sig.output {
        ReturnType::Type(_, ty) if returns_result(ty) => parse_quote!({
            crate::python::panic_guard::run(#name, move || #body)
        }),
        ReturnType::Type(_, ty) => {
            let ty = ty.clone();
            sig.output = parse_quote!(-> ::pyo3::PyResult<#ty>);
            // The inner closure keeps `return value;` in the body meaning
            // the function's value.
            parse_quote!({
                crate::python::panic_guard::run(#name, move || {
                    ::pyo3::PyResult::Ok((move || -> #ty #body)())
                })
            })
        }
        ReturnType::Default => {
            sig.output = parse_quote!(-> ::pyo3::PyResult<()>);
            parse_quote!({
                crate::python::panic_guard::run(#name, move || {
                    (move || #body)();
                    ::pyo3::PyResult::Ok(())
                })
            })
        }
    };
    *block = wrapped;
}
