//! Launching WGSL kernels on device tensors.
//!
//! Two mechanisms cover most ops:
//! - `map`: one elementwise template. Each operand (inputs and the output) is
//!   addressed through its own offset and strides broadcast to the output
//!   shape, so broadcasting, transposed and sliced views, casts and in-place
//!   writes into views need no copies. The op is a WGSL expression over the
//!   loaded values `a`, `b`, `c`, `d` and scalar parameters `p(0)`, `p(1)`, …
//!   The pipeline is compiled once per (expression, dtypes) and cached.
//! - `launch`: a hand-written shader from `shaders/` over contiguous buffers,
//!   with its integer parameters in the `meta` array.

use super::buffer::DeviceBuffer;
use super::context::{gpu, Dispatch, WORKGROUP};
use super::wgsl_type;
use crate::error::{Error, Result};
use crate::tensor::layout::{broadcast_strides, coalesce, contiguous_strides};
use crate::tensor::{Buffer, DType, Tensor};

/// The device buffer behind a tensor.
pub fn device_buffer(t: &Tensor) -> Result<&DeviceBuffer> {
    match t.storage().buffer() {
        Buffer::Device(d) => Ok(d),
        _ => Err(Error::Runtime(
            "internal: expected a tensor on the wgpu device".into(),
        )),
    }
}

/// A new contiguous device tensor (uninitialised).
pub fn empty(shape: &[usize], dtype: DType) -> Result<Tensor> {
    let n = shape.iter().product();
    Ok(Tensor::from_buffer(
        Buffer::Device(DeviceBuffer::empty(dtype, n)?),
        shape,
    ))
}

/// Workgroup counts covering `n` invocations of a 256-wide 1-D kernel (split
/// over y when x would pass the 65,535 limit).
pub fn groups_for(n: usize) -> [u32; 3] {
    let g = n.div_ceil(WORKGROUP as usize).max(1);
    let x = g.min(65_535);
    [x as u32, g.div_ceil(x) as u32, 1]
}

const MAP_TEMPLATE: &str = r#"
@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<OUT_T>;
BINDINGS
const NIN: u32 = NIN_VALUE;

// Element `i` (row-major over the output shape) of operand `k`.
fn idx(k: u32, i: u32) -> u32 {
    let r = info[1];
    let base = 2u + r + k * (r + 2u);
    if (info[base] == 1u) {
        return info[base + 1u] + i;
    }
    var rem = i;
    var off = i32(info[base + 1u]);
    for (var d = i32(r) - 1; d >= 0; d--) {
        let s = info[2u + u32(d)];
        off += i32(rem % s) * bitcast<i32>(info[base + 2u + u32(d)]);
        rem = rem / s;
    }
    return u32(off);
}

// NaN tests on the bits: shader compilers may fold `x != x` to false.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn is_inf(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

// erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
fn erf_approx(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
    return sign(x) * y;
}

fn gelu_erf_grad(x: f32) -> f32 {
    return 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
}

fn silu_grad(x: f32) -> f32 {
    let s = 1.0 / (1.0 + exp(-x));
    return s * (1.0 + x * (1.0 - s));
}

fn p(j: u32) -> f32 {
    let r = info[1];
    return bitcast<f32>(info[2u + r + (NIN + 1u) * (r + 2u) + j]);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= info[0]) {
        return;
    }
LOADS
    out[idx(NIN, i)] = EXPR;
}
"#;

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// `out[...] = expr(inputs...)` elementwise over `out`'s shape; inputs
/// broadcast to it. `out` may be any view of a device tensor. A 0-dim CPU
/// input (a Python scalar) is passed as a parameter, as PyTorch allows.
pub fn map_into(expr: &str, inputs: &[&Tensor], params: &[f32], out: &Tensor) -> Result<()> {
    let n = out.numel();
    if n == 0 {
        return Ok(());
    }
    if inputs.len() > NAMES.len() {
        return Err(Error::Runtime("internal: too many map operands".into()));
    }
    check_same_device(inputs.iter().copied().chain(std::iter::once(out)))?;
    type Slots<'t> = Vec<(usize, &'t Tensor)>;
    let (tensors, scalars): (Slots<'_>, Slots<'_>) = inputs
        .iter()
        .copied()
        .enumerate()
        .partition(|(_, t)| t.is_gpu());
    // An input in `out`'s own buffer (an in-place update) is read through
    // `out`: one buffer cannot be bound read-only and read-write at once.
    let aliased: Vec<bool> = tensors.iter().map(|(_, t)| t.shares_storage(out)).collect();
    let shape = out.shape().to_vec();
    let mut all: Vec<_> = Vec::with_capacity(tensors.len() + 2);
    all.push(contiguous_strides(&shape));
    for (_, t) in &tensors {
        all.push(broadcast_strides(t.layout(), &shape)?);
    }
    all.push(out.strides().into());
    let (cshape, cstr) = coalesce(&shape, &all);
    let r = cshape.len();
    let nt = tensors.len();
    let mut info: Vec<u32> = Vec::with_capacity(2 + r + (nt + 1) * (r + 2) + params.len());
    info.push(u32::try_from(n).map_err(|_| too_large(n))?);
    info.push(r as u32);
    info.extend(cshape.iter().map(|&s| s as u32));
    let operands: Vec<&Tensor> = tensors
        .iter()
        .map(|(_, t)| *t)
        .chain(std::iter::once(out))
        .collect();
    for (k, t) in operands.iter().enumerate() {
        let st = &cstr[k + 1];
        let contiguous = st.as_slice() == cstr[0].as_slice();
        info.push(contiguous as u32);
        info.push(t.offset() as u32);
        info.extend(st.iter().map(|&s| s as i32 as u32));
    }
    info.extend(params.iter().map(|p| p.to_bits()));
    // Scalar inputs follow the caller's parameters.
    for (_, t) in &scalars {
        info.push((t.item_f64()? as f32).to_bits());
    }

    let out_t = wgsl_type(out.dtype())?;
    let mut loads = String::new();
    let mut bindings = String::new();
    let mut kinds = String::new();
    let mut binding = 2;
    for (slot, (k, t)) in tensors.iter().enumerate() {
        let ty = wgsl_type(t.dtype())?;
        if aliased[slot] {
            loads += &format!("    let {} = out[idx({slot}u, i)];\n", NAMES[*k]);
            kinds += &format!("{k}:out,");
            continue;
        }
        bindings +=
            &format!("@group(0) @binding({binding}) var<storage, read> in{slot}: array<{ty}>;\n");
        binding += 1;
        loads += &format!("    let {} = in{slot}[idx({slot}u, i)];\n", NAMES[*k]);
        kinds += &format!("{k}:{ty},");
    }
    for (j, (k, t)) in scalars.iter().enumerate() {
        let ty = wgsl_type(t.dtype())?;
        loads += &format!("    let {} = {ty}(p({}u));\n", NAMES[*k], params.len() + j);
        kinds += &format!("{k}:{ty}=p,");
    }
    let key = format!("map|{expr}|{out_t}|{kinds}");
    let g = gpu()?;
    let pipeline = g.pipeline(&key, || {
        MAP_TEMPLATE
            .replace("OUT_T", out_t)
            .replace("BINDINGS", &bindings)
            .replace("NIN_VALUE", &format!("{nt}u"))
            .replace("LOADS", &loads)
            .replace("EXPR", expr)
    })?;
    let mut bufs: Vec<&wgpu::Buffer> = vec![device_buffer(out)?.raw()];
    for (slot, (_, t)) in tensors.iter().enumerate() {
        if !aliased[slot] {
            bufs.push(device_buffer(t)?.raw());
        }
    }
    g.dispatch(
        &pipeline,
        Dispatch {
            key: "map",
            meta: &info,
            buffers: &bufs,
            groups: groups_for(n),
        },
    )?;
    out.storage().bump_version();
    Ok(())
}

/// PyTorch's error when operands live on different devices (0-dim CPU
/// tensors are allowed with device tensors).
pub fn check_same_device<'a>(ts: impl Iterator<Item = &'a Tensor>) -> Result<()> {
    let mut seen_cpu = false;
    let mut seen_gpu = false;
    for t in ts {
        if t.is_gpu() {
            seen_gpu = true;
        } else if t.ndim() != 0 {
            seen_cpu = true;
        }
    }
    if seen_cpu && seen_gpu {
        return Err(Error::Runtime(
            "Expected all tensors to be on the same device, but found at least two devices, wgpu:0 and cpu!".into(),
        ));
    }
    Ok(())
}

/// A new contiguous tensor `expr(inputs...)` of `shape` and `dtype`.
pub fn map(
    expr: &str,
    inputs: &[&Tensor],
    params: &[f32],
    shape: &[usize],
    dtype: DType,
) -> Result<Tensor> {
    let out = empty(shape, dtype)?;
    map_into(expr, inputs, params, &out)?;
    Ok(out)
}

fn too_large(n: usize) -> Error {
    Error::Runtime(format!(
        "wgpu: a tensor of {n} elements is larger than the device kernels address (2^32)"
    ))
}

/// Run the shader `source` (entry `main`) once per `invocations` threads:
/// binding 0 = `meta`, 1 = `out`, 2.. = `inputs` (all contiguous).
pub fn launch(
    key: &str,
    source: &str,
    meta: &[u32],
    out: &Tensor,
    inputs: &[&Tensor],
    groups: [u32; 3],
) -> Result<()> {
    let g = gpu()?;
    let pipeline = g.pipeline(key, || source.to_string())?;
    let mut bufs: Vec<&wgpu::Buffer> = vec![device_buffer(out)?.raw()];
    for t in inputs {
        bufs.push(device_buffer(t)?.raw());
    }
    g.dispatch(
        &pipeline,
        Dispatch {
            key,
            meta,
            buffers: &bufs,
            groups,
        },
    )?;
    out.storage().bump_version();
    Ok(())
}

/// A WGSL expression converting `v` of dtype `from` to dtype `to`.
pub fn cast_expr(v: &str, from: DType, to: DType) -> Result<String> {
    let (f, t) = (wgsl_type(from)?, wgsl_type(to)?);
    Ok(match (to, f) {
        // on the bits: NaN is true, and compilers may assume no NaN in `!=`
        (DType::Bool, "f32") => format!("select(0u, 1u, (bitcast<u32>({v}) & 0x7fffffffu) != 0u)"),
        (DType::Bool, "i32") => format!("select(0u, 1u, {v} != 0)"),
        (DType::Bool, _) => format!("select(0u, 1u, {v} != 0u)"),
        (DType::U8, "f32") => format!("u32(i32({v})) & 255u"),
        (DType::U8, "i32") => format!("u32({v}) & 255u"),
        _ if f == t => v.to_string(),
        _ => format!("{t}({v})"),
    })
}
