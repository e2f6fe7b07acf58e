//! Reductions on the device: the reduced dims are moved last (a view), the
//! view is made contiguous, and one workgroup folds each row of K values
//! with a shared-memory tree.

use super::kernels::{empty, launch};
use super::ops::contiguous;
use crate::error::Result;
use crate::tensor::{DType, Layout, Tensor};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reduce {
    Sum,
    Max,
    Min,
    /// Index (i32 on the device, int64 to the user) of the max / min.
    ArgMax,
    ArgMin,
}

const TEMPLATE: &str = r#"
@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<OUT_T>;
@group(0) @binding(2) var<storage, read> x: array<TY>;
var<workgroup> acc: array<TY, 256>;
var<workgroup> arg: array<u32, 256>;

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// Whether (v, j) replaces (a, i) as the running result.
fn better(a: TY, i: u32, v: TY, j: u32) -> bool {
    BETTER
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = info[0];
    let k = info[1];
    let row = wid.x + wid.y * nwg.x;
    let base = min(row, rows - 1u) * k;
    var a: TY = IDENTITY;
    var ai: u32 = 0xffffffffu;
    for (var j = lid.x; j < k; j += 256u) {
        let v = x[base + j];
        FOLD
    }
    acc[lid.x] = a;
    arg[lid.x] = ai;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid.x < s) {
            let v = acc[lid.x + s];
            let j = arg[lid.x + s];
            MERGE
        }
        workgroupBarrier();
    }
    if (lid.x == 0u && row < rows) {
        out[row] = RESULT;
    }
}
"#;

/// Short rows: one thread folds a whole row (a workgroup per row would spend
/// its time on barriers).
const SMALL: &str = r#"
@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<OUT_T>;
@group(0) @binding(2) var<storage, read> x: array<TY>;

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn better(a: TY, i: u32, v: TY, j: u32) -> bool {
    BETTER
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.x + gid.y * nwg.x * 256u;
    if (row >= info[0]) {
        return;
    }
    let k = info[1];
    let base = row * k;
    var a: TY = IDENTITY;
    var ai: u32 = 0xffffffffu;
    for (var j = 0u; j < k; j++) {
        let v = x[base + j];
        FOLD
    }
    out[row] = RESULT;
}
"#;

/// Rows at most this long are folded by one thread each.
const SMALL_ROW: usize = 64;

/// Reduce each row of `x` seen as contiguous [rows, k] (the caller moved the
/// reduced dims last). Output: `rows` values (indices for arg-reductions).
pub fn reduce_rows(x: &Tensor, rows: usize, k: usize, kind: Reduce) -> Result<Tensor> {
    let x = contiguous(x)?;
    let ty = super::wgsl_type(x.dtype())?;
    let arg_kind = matches!(kind, Reduce::ArgMax | Reduce::ArgMin);
    let (out_dtype, out_t) = if arg_kind {
        (DType::I64, "i32")
    } else {
        (x.dtype(), ty)
    };
    let (lowest, highest) = match ty {
        "f32" => ("-0x1.fffffep+127f", "0x1.fffffep+127f"),
        "i32" => ("i32(-2147483647 - 1)", "2147483647i"),
        _ => ("0u", "4294967295u"),
    };
    // max/min propagate NaN: a NaN replaces anything but an earlier NaN.
    let nan = if ty == "f32" {
        "(is_nan(v) && !is_nan(a)) || "
    } else {
        ""
    };
    let (identity, better) = match kind {
        Reduce::Sum => ("TY(0)", "return true;".to_string()),
        Reduce::Max | Reduce::ArgMax => (
            lowest,
            format!(
                "return {nan}(!{isnan_a} && (v > a || (v == a && j < i)));",
                isnan_a = nan_of("a", ty)
            ),
        ),
        Reduce::Min | Reduce::ArgMin => (
            highest,
            format!(
                "return {nan}(!{isnan_a} && (v < a || (v == a && j < i)));",
                isnan_a = nan_of("a", ty)
            ),
        ),
    };
    let (fold, merge) = if kind == Reduce::Sum {
        ("a = a + v;", "acc[lid.x] = acc[lid.x] + v;")
    } else {
        (
            "if (better(a, ai, v, j)) { a = v; ai = j; }",
            "if (better(acc[lid.x], arg[lid.x], v, j)) { acc[lid.x] = v; arg[lid.x] = j; }",
        )
    };
    let small = k <= SMALL_ROW;
    let result = match (arg_kind, small) {
        (true, true) => "i32(ai)",
        (true, false) => "i32(arg[0])",
        (false, true) => "a",
        (false, false) => "acc[0]",
    };
    let src = if small { SMALL } else { TEMPLATE }
        .replace("BETTER", &better)
        .replace("IDENTITY", identity)
        .replace("FOLD", fold)
        .replace("MERGE", merge)
        .replace("RESULT", result)
        .replace("OUT_T", out_t)
        .replace("TY", ty);
    let key = format!("reduce|{kind:?}|{ty}|{small}");
    let out = empty(&[rows], out_dtype)?;
    if rows == 0 {
        return Ok(out);
    }
    let groups = if small {
        super::kernels::groups_for(rows)
    } else {
        let x_groups = rows.min(65_535);
        [x_groups as u32, rows.div_ceil(x_groups) as u32, 1]
    };
    launch(&key, &src, &[rows as u32, k as u32], &out, &[&x], groups)?;
    Ok(out)
}

/// Reduce `x` over the dims where `mask` is true; the result holds the kept
/// dims in order, shaped `shape`.
pub fn reduce(x: &Tensor, mask: &[bool], kind: Reduce, shape: &[usize]) -> Result<Tensor> {
    let n = x.ndim();
    let order: Vec<usize> = (0..n)
        .filter(|&d| !mask[d])
        .chain((0..n).filter(|&d| mask[d]))
        .collect();
    let layout = Layout {
        shape: order.iter().map(|&d| x.shape()[d]).collect(),
        strides: order.iter().map(|&d| x.strides()[d]).collect(),
        offset: x.offset(),
    };
    let k: usize = (0..n).filter(|&d| mask[d]).map(|d| x.shape()[d]).product();
    let rows: usize = (0..n).filter(|&d| !mask[d]).map(|d| x.shape()[d]).product();
    let out = reduce_rows(&x.with_layout(layout), rows, k, kind)?;
    Ok(out.with_layout(Layout::contiguous(shape)))
}

/// A WGSL test of `v` being NaN (always false for integer types).
fn nan_of(v: &str, ty: &str) -> String {
    if ty == "f32" {
        format!("is_nan({v})")
    } else {
        "false".to_string()
    }
}
