//! Convolution on the device as im2col + batched matmul: `im2col` unfolds
//! input patches into columns, `col2im` is its adjoint (each input element
//! gathers the columns that read it, so no atomics are needed). Geometry is
//! always 3-D (1-D and 2-D convolutions have leading size-1 dims).

use super::kernels::{empty, groups_for, launch};
use super::ops::contiguous;
use crate::cpu::conv::ConvGeom;
use crate::error::Result;
use crate::tensor::{DType, Tensor};

const COMMON: &str = r#"
@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

// info: n_total, channels, in[3], out[3], kernel[3], stride[3], pad[3], dilation[3]
fn in_dim(d: u32) -> u32 { return info[2u + d]; }
fn out_dim(d: u32) -> u32 { return info[5u + d]; }
fn kdim(d: u32) -> u32 { return info[8u + d]; }
fn stride(d: u32) -> u32 { return info[11u + d]; }
fn pad(d: u32) -> u32 { return info[14u + d]; }
fn dil(d: u32) -> u32 { return info[17u + d]; }
"#;

const IM2COL: &str = r#"
// out: (N, C * K, L) with K = prod(kernel), L = prod(out spatial)
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= info[0]) {
        return;
    }
    let l_total = out_dim(0u) * out_dim(1u) * out_dim(2u);
    let k_total = kdim(0u) * kdim(1u) * kdim(2u);
    var rem = i;
    let l = rem % l_total;
    rem = rem / l_total;
    let kc = rem % (info[1] * k_total);
    let n = rem / (info[1] * k_total);
    let c = kc / k_total;
    var kr = kc % k_total;
    var lr = l;
    var offset = 0u;
    var inside = true;
    for (var d = 2i; d >= 0; d--) {
        let du = u32(d);
        let k = kr % kdim(du);
        kr = kr / kdim(du);
        let o = lr % out_dim(du);
        lr = lr / out_dim(du);
        let pos = i32(o * stride(du) + k * dil(du)) - i32(pad(du));
        if (pos < 0 || pos >= i32(in_dim(du))) {
            inside = false;
        }
        var step = 1u;
        for (var e = du + 1u; e < 3u; e++) {
            step *= in_dim(e);
        }
        offset += u32(max(pos, 0)) * step;
    }
    let plane = in_dim(0u) * in_dim(1u) * in_dim(2u);
    var v = 0.0;
    if (inside) {
        v = src[(n * info[1] + c) * plane + offset];
    }
    out[i] = v;
}
"#;

const COL2IM: &str = r#"
// out: (N, C, *in spatial); src: columns (N, C * K, L)
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= info[0]) {
        return;
    }
    let plane = in_dim(0u) * in_dim(1u) * in_dim(2u);
    let p = i % plane;
    let nc = i / plane;
    let pos = vec3<u32>(p / (in_dim(1u) * in_dim(2u)), (p / in_dim(2u)) % in_dim(1u), p % in_dim(2u));
    let l_total = out_dim(0u) * out_dim(1u) * out_dim(2u);
    let k_total = kdim(0u) * kdim(1u) * kdim(2u);
    var acc = 0.0;
    for (var k0 = 0u; k0 < kdim(0u); k0++) {
        let t0 = i32(pos.x + pad(0u)) - i32(k0 * dil(0u));
        if (t0 < 0 || t0 % i32(stride(0u)) != 0) { continue; }
        let o0 = u32(t0) / stride(0u);
        if (o0 >= out_dim(0u)) { continue; }
        for (var k1 = 0u; k1 < kdim(1u); k1++) {
            let t1 = i32(pos.y + pad(1u)) - i32(k1 * dil(1u));
            if (t1 < 0 || t1 % i32(stride(1u)) != 0) { continue; }
            let o1 = u32(t1) / stride(1u);
            if (o1 >= out_dim(1u)) { continue; }
            for (var k2 = 0u; k2 < kdim(2u); k2++) {
                let t2 = i32(pos.z + pad(2u)) - i32(k2 * dil(2u));
                if (t2 < 0 || t2 % i32(stride(2u)) != 0) { continue; }
                let o2 = u32(t2) / stride(2u);
                if (o2 >= out_dim(2u)) { continue; }
                let kidx = (k0 * kdim(1u) + k1) * kdim(2u) + k2;
                let l = (o0 * out_dim(1u) + o1) * out_dim(2u) + o2;
                acc += src[(nc * k_total + kidx) * l_total + l];
            }
        }
    }
    out[i] = acc;
}
"#;

fn info(g: &ConvGeom, channels: usize, n_total: usize) -> Vec<u32> {
    let mut v = vec![n_total as u32, channels as u32];
    for a in [g.input, g.output, g.kernel, g.stride, g.pad, g.dilation] {
        v.extend(a.iter().map(|&x| x as u32));
    }
    v
}

/// Columns (N, C * K, L) of a contiguous (N, C, *spatial) input.
pub fn im2col(x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    let x = contiguous(x)?;
    let k: usize = g.kernel.iter().product();
    let l: usize = g.output.iter().product();
    let out = empty(&[g.batch, g.c_in * k, l], DType::F32)?;
    let n = out.numel();
    if n > 0 {
        let src = format!("{COMMON}{IM2COL}");
        launch(
            "im2col",
            &src,
            &info(g, g.c_in, n),
            &out,
            &[&x],
            groups_for(n),
        )?;
    }
    Ok(out)
}

/// The adjoint of `im2col`: columns summed back into an input of `shape`.
pub fn col2im(cols: &Tensor, g: &ConvGeom, shape: &[usize]) -> Result<Tensor> {
    let cols = contiguous(cols)?;
    let out = empty(shape, DType::F32)?;
    let n = out.numel();
    if n > 0 {
        let src = format!("{COMMON}{COL2IM}");
        launch(
            "col2im",
            &src,
            &info(g, g.c_in, n),
            &out,
            &[&cols],
            groups_for(n),
        )?;
    }
    Ok(out)
}
