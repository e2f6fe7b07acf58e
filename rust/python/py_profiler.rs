//! The profiler's bindings (`rustdl.profiler`, `rustdl.autograd.profiler`
//! build on them): start and stop recording, `record_function` ranges, and
//! the recorded spans with PyTorch's operator names and self times.

use crate::profiler::{self, Kind};
use pyo3::prelude::*;

/// Bindings that query or set state rather than compute: PyTorch's
/// profiler shows no operator for them.
const NOT_OPS: &[&str] = &[
    "shape",
    "dtype",
    "device",
    "requires_grad",
    "set_requires_grad",
    "grad",
    "set_grad",
    "grad_fn",
    "is_leaf",
    "dim",
    "ndim",
    "ndimension",
    "size",
    "stride",
    "numel",
    "nelement",
    "__len__",
    "is_contiguous",
    "data_ptr",
    "element_size",
    "is_floating_point",
    "storage_offset",
    "__repr__",
    "__hash__",
    "__index__",
    "backward",
    "is_meta",
    "_version",
    "retain_grad",
    "retains_grad",
    "register_hook",
    "is_grad_enabled",
    "_set_grad_enabled",
    "get_num_threads",
    "set_num_threads",
    "manual_seed",
    "autograd_grad",
    "result_type",
    "promote_types",
    "get_default_device",
    "set_default_device",
    "_is_deferred",
    "names",
    "output_nr",
    "layout",
    "is_sparse",
    "is_quantized",
    "itemsize",
    "nbytes",
    "data",
];

/// The operator name a span is shown under, or None for a binding that is
/// not an operator (`Tensor.shape`, `Device.__eq__`, the profiler's own).
fn shown_name(name: &str, kind: Kind) -> Option<String> {
    if kind != Kind::Binding {
        return Some(name.to_string());
    }
    let method = match name.split_once('.') {
        Some(("Tensor", m)) => m,
        Some(_) => return None,
        None => name,
    };
    if method.starts_with("_profiler") || NOT_OPS.contains(&method) {
        return None;
    }
    Some(super::op_names::aten_name(name))
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _profiler_start() {
    profiler::start();
}

/// Stops recording; the operator spans as (name, kind, start_us,
/// duration_us, self_us, thread), kind being "op", "backward" or "range".
#[rustdl_macros::guard_panics]
#[pyfunction]
#[allow(clippy::type_complexity)]
fn _profiler_stop() -> Vec<(String, &'static str, f64, f64, f64, u64)> {
    let spans: Vec<(profiler::Span, String)> = profiler::stop()
        .into_iter()
        .filter_map(|s| shown_name(&s.name, s.kind).map(|n| (s, n)))
        .collect();
    let plain: Vec<profiler::Span> = spans.iter().map(|(s, _)| s.clone()).collect();
    let own = profiler::self_times(&plain);
    spans
        .into_iter()
        .zip(own)
        .map(|((s, name), own)| {
            let kind = match s.kind {
                Kind::Binding => "op",
                Kind::Backward => "backward",
                Kind::Range => "range",
            };
            let us = |ns: u64| ns as f64 / 1000.0;
            (
                name,
                kind,
                us(s.start_ns),
                us(s.duration_ns),
                us(own),
                s.thread,
            )
        })
        .collect()
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _profiler_enabled() -> bool {
    profiler::enabled()
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _profiler_range_begin(name: String) {
    profiler::range_begin(name);
}

#[rustdl_macros::guard_panics]
#[pyfunction]
fn _profiler_range_end() {
    profiler::range_end();
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_profiler_start, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_stop, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_range_begin, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_range_end, m)?)
}
