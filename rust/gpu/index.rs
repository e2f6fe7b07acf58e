//! Data-dependent indexing on the device: gather along a dim and its adjoint,
//! scatter-add, written as a gather (each output element sums the sources
//! that point at it) because WGSL has no float atomics.
//!
//! Indices are not validated against the CPU (that would wait for the
//! device): a negative index wraps once, and one still out of range reads 0
//! (gather) or is ignored (scatter_add).

use super::kernels::{empty, launch};
use super::ops::{contiguous, to_device};
use crate::error::Result;
use crate::tensor::{DType, Tensor};

const GATHER: &str = r#"
@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<TY>;
@group(0) @binding(2) var<storage, read> x: array<TY>;
@group(0) @binding(3) var<storage, read> index: array<i32>;

// info: n, rank, dim, size_along_dim, shape of index[rank], strides of x[rank]
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let n = info[0];
    if (i >= n) {
        return;
    }
    let r = info[1];
    let dim = info[2];
    let size = i32(info[3]);
    var j = index[i];
    if (j < 0) {
        j += size;
    }
    var rem = i;
    var off = 0u;
    for (var d = i32(r) - 1; d >= 0; d--) {
        let s = info[4u + u32(d)];
        var c = rem % s;
        rem = rem / s;
        if (u32(d) == dim) {
            c = u32(clamp(j, 0, size - 1));
        }
        off += c * info[4u + r + u32(d)];
    }
    out[i] = select(TY(0), x[off], j >= 0 && j < size);
}
"#;

fn shape_or_one(t: &Tensor) -> Vec<usize> {
    if t.ndim() == 0 {
        vec![1]
    } else {
        t.shape().to_vec()
    }
}

/// `out[p] = x[p with coordinate dim replaced by index[p]]`, out of index's shape.
pub fn gather(x: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    let x = contiguous(x)?;
    let index = contiguous(&to_device(&index.cast_raw(DType::I64))?)?;
    let xs = shape_or_one(&x);
    let is = shape_or_one(&index);
    let r = xs.len();
    let x_strides = crate::tensor::layout::contiguous_strides(&xs);
    let mut info = vec![index.numel() as u32, r as u32, dim as u32, xs[dim] as u32];
    info.extend(is.iter().map(|&s| s as u32));
    info.extend(x_strides.iter().map(|&s| s as u32));
    let ty = super::wgsl_type(x.dtype())?;
    let out = empty(index.shape(), x.dtype())?;
    if index.numel() > 0 {
        launch(
            &format!("gather|{ty}"),
            &GATHER.replace("TY", ty),
            &info,
            &out,
            &[&x, &index],
            super::kernels::groups_for(index.numel()),
        )?;
    }
    Ok(out)
}

const SCATTER_ADD: &str = r#"
@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<TY>;
@group(0) @binding(2) var<storage, read> x: array<TY>;
@group(0) @binding(3) var<storage, read> index: array<i32>;
@group(0) @binding(4) var<storage, read> src: array<TY>;

// info: n, rank, dim, size_along_dim, shape of x[rank], shape of index[rank],
//       strides of index[rank], strides of src[rank]
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let n = info[0];
    if (i >= n) {
        return;
    }
    let r = info[1];
    let dim = info[2];
    let size = i32(info[3]);
    // coordinates of i in x's shape; base offsets into index/src with dim = 0
    var rem = i;
    var tgt = 0u;
    var ioff = 0u;
    var soff = 0u;
    var inside = true;
    for (var d = i32(r) - 1; d >= 0; d--) {
        let s = info[4u + u32(d)];
        let c = rem % s;
        rem = rem / s;
        if (u32(d) == dim) {
            tgt = c;
        } else {
            if (c >= info[4u + r + u32(d)]) {
                inside = false;
            }
            ioff += c * info[4u + 2u * r + u32(d)];
            soff += c * info[4u + 3u * r + u32(d)];
        }
    }
    var acc = x[i];
    if (inside) {
        let m = info[4u + r + dim];
        let istride = info[4u + 2u * r + dim];
        let sstride = info[4u + 3u * r + dim];
        for (var k = 0u; k < m; k++) {
            var j = index[ioff + k * istride];
            if (j < 0) {
                j += size;
            }
            if (j == i32(tgt)) {
                acc += src[soff + k * sstride];
            }
        }
    }
    out[i] = acc;
}
"#;

/// Out-of-place `x.scatter_add(dim, index, src)`.
pub fn scatter_add(x: &Tensor, dim: usize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    let x = contiguous(x)?;
    let index = contiguous(&to_device(&index.cast_raw(DType::I64))?)?;
    let src = contiguous(&src.cast_raw(x.dtype()))?;
    let xs = shape_or_one(&x);
    let is = shape_or_one(&index);
    let ss = shape_or_one(&src);
    let r = xs.len();
    let mut info = vec![x.numel() as u32, r as u32, dim as u32, xs[dim] as u32];
    info.extend(xs.iter().map(|&s| s as u32));
    info.extend(is.iter().map(|&s| s as u32));
    info.extend(
        crate::tensor::layout::contiguous_strides(&is)
            .iter()
            .map(|&s| s as u32),
    );
    info.extend(
        crate::tensor::layout::contiguous_strides(&ss)
            .iter()
            .map(|&s| s as u32),
    );
    let ty = super::wgsl_type(x.dtype())?;
    let out = empty(x.shape(), x.dtype())?;
    if x.numel() > 0 {
        launch(
            &format!("scatter_add|{ty}"),
            &SCATTER_ADD.replace("TY", ty),
            &info,
            &out,
            &[&x, &index, &src],
            super::kernels::groups_for(x.numel()),
        )?;
    }
    Ok(out)
}
