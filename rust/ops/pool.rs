//! Pooling ops with recorded backward: max/avg pooling, adaptive avg/max
//! pooling and max_unpool, for 1, 2 and 3 spatial dims.
//!
//! Inputs are `(N, C, *spatial)` or unbatched `(C, *spatial)`. Every op views
//! its input as `N*C` planes of spatial size `[D, H, W]` (missing leading dims
//! are 1) and hands per-dim windows to the kernels in `cpu::pool`.
//!
//! Backward passes are linear in the incoming gradient (average pooling
//! spreads it over each window, max pooling scatters it to the saved argmax,
//! max_unpool gathers it there). A first-order backward runs the kernel
//! directly; under `create_graph` it goes through `linear_map::Linear`, which
//! records the kernel's adjoint as its backward, so pooling differentiates to
//! every order (the second derivative of max pooling in its input is zero, as
//! in PyTorch: the argmax is piecewise constant).

use std::sync::Arc;

use super::linear_map::{LinFn, Linear};
use crate::autograd::node::needs_grad;
use crate::autograd::{record, SavedTensor};
use crate::bail;
use crate::cpu::pool::{self as k, Divisor, Geom, Win};
use crate::error::{Error, Result};
use crate::tensor::{half, DType, Tensor};

/// Kernel, stride, padding and dilation of a strided pooling, one per spatial dim.
#[derive(Clone, Debug)]
pub struct PoolParams {
    pub kernel: Vec<usize>,
    pub stride: Vec<usize>,
    pub padding: Vec<usize>,
    pub dilation: Vec<usize>,
    pub ceil_mode: bool,
}

/// An input split into its leading (batch, channel) dims and spatial dims.
struct Planes {
    lead: Vec<usize>,
    planes: usize,
    spatial: [usize; 3],
}

fn split_input(x: &Tensor, nd: usize, name: &str) -> Result<Planes> {
    let sh = x.shape();
    if sh.len() != nd + 1 && sh.len() != nd + 2 {
        bail!(
            Runtime,
            "{name}: Expected {}D or {}D (batch mode) tensor with optional 0 dim batch size for input, but got: {:?}",
            nd + 1,
            nd + 2,
            sh
        );
    }
    let (lead, sp) = sh.split_at(sh.len() - nd);
    if sp.contains(&0) || lead.last() == Some(&0) {
        bail!(
            Runtime,
            "{name}: Expected input's non-batch dimensions to have positive length, but input has a shape of {:?} and non-zero size",
            sh
        );
    }
    let mut spatial = [1; 3];
    spatial[3 - nd..].copy_from_slice(sp);
    Ok(Planes {
        lead: lead.to_vec(),
        planes: lead.iter().product(),
        spatial,
    })
}

/// Expand a 1- or nd-long parameter list to nd entries.
fn expand(v: &[usize], nd: usize, what: &str, name: &str) -> Result<Vec<usize>> {
    match v.len() {
        1 => Ok(vec![v[0]; nd]),
        n if n == nd => Ok(v.to_vec()),
        _ => bail!(
            Runtime,
            "{name}: {what} must either be a single int, or a tuple of {nd} ints"
        ),
    }
}

fn out_shape(p: &Planes, g: &Geom, nd: usize) -> Vec<usize> {
    let mut s = p.lead.clone();
    s.extend(g.wins[3 - nd..].iter().map(|w| w.len()));
    s
}

/// Windows of a strided pooling, with PyTorch's argument checks.
fn strided_geom(p: &Planes, nd: usize, prm: &PoolParams, name: &str) -> Result<Geom> {
    let kernel = expand(&prm.kernel, nd, "kernel_size", name)?;
    let stride = if prm.stride.is_empty() {
        kernel.clone()
    } else {
        expand(&prm.stride, nd, "stride", name)?
    };
    let padding = expand(&prm.padding, nd, "padding", name)?;
    let dilation = expand(&prm.dilation, nd, "dilation", name)?;
    if kernel.contains(&0) {
        bail!(
            Runtime,
            "{name}: kernel size should be greater than zero, but got kernel_size={kernel:?}"
        );
    }
    if stride.contains(&0) {
        bail!(
            Runtime,
            "{name}: stride should be greater than zero, but got stride={stride:?}"
        );
    }
    if dilation.contains(&0) {
        bail!(
            Runtime,
            "{name}: dilation should be greater than zero, but got dilation={dilation:?}"
        );
    }
    let mut wins: [Vec<Win>; 3] = std::array::from_fn(|_| k::adaptive_windows(1, 1));
    let mut outs = Vec::with_capacity(nd);
    for i in 0..nd {
        if padding[i] > kernel[i] / 2 {
            bail!(
                Runtime,
                "{name}: pad should be at most half of effective kernel size, but got pad={}, kernel_size={} and dilation={}",
                padding[i],
                kernel[i],
                dilation[i]
            );
        }
        let input = p.spatial[3 - nd + i];
        let o = k::out_size(
            input,
            kernel[i],
            stride[i],
            padding[i],
            dilation[i],
            prm.ceil_mode,
        );
        outs.push(o);
        if o >= 1 {
            wins[3 - nd + i] = k::strided_windows(
                input,
                o as usize,
                kernel[i],
                stride[i],
                padding[i],
                dilation[i],
            );
        }
    }
    if outs.iter().any(|&o| o < 1) {
        let fmt = |v: Vec<String>| v.join("x");
        bail!(
            Runtime,
            "{name}: Given input size: ({}). Calculated output size: ({}). Output size is too small",
            fmt(p.spatial[3 - nd..].iter().map(|s| s.to_string()).collect()),
            fmt(outs.iter().map(|s| s.to_string()).collect())
        );
    }
    Ok(Geom {
        input: p.spatial,
        wins,
    })
}

fn adaptive_geom(p: &Planes, nd: usize, output_size: &[usize], name: &str) -> Result<Geom> {
    if output_size.len() != nd {
        bail!(
            Runtime,
            "{name}: output_size must be {nd}, but got {}",
            output_size.len()
        );
    }
    let mut wins: [Vec<Win>; 3] = std::array::from_fn(|_| k::adaptive_windows(1, 1));
    for i in 0..nd {
        wins[3 - nd + i] = k::adaptive_windows(p.spatial[3 - nd + i], output_size[i]);
    }
    Ok(Geom {
        input: p.spatial,
        wins,
    })
}

fn max_name(nd: usize, adaptive: bool) -> &'static str {
    match (adaptive, nd) {
        (false, 1) | (false, 2) => "MaxPool2DWithIndicesBackward0",
        (false, _) => "MaxPool3DWithIndicesBackward0",
        (true, 1) | (true, 2) => "AdaptiveMaxPool2DBackward0",
        (true, _) => "AdaptiveMaxPool3DBackward0",
    }
}

fn max_double_name(nd: usize, adaptive: bool) -> &'static str {
    match (adaptive, nd) {
        (false, 1) | (false, 2) => "MaxPool2DWithIndicesBackwardBackward0",
        (false, _) => "MaxPool3DWithIndicesBackwardBackward0",
        (true, 1) | (true, 2) => "AdaptiveMaxPool2DBackwardBackward0",
        (true, _) => "AdaptiveMaxPool3DBackwardBackward0",
    }
}

fn avg_name(nd: usize, adaptive: bool) -> &'static str {
    match (adaptive, nd) {
        (false, 1) | (false, 2) => "AvgPool2DBackward0",
        (false, _) => "AvgPool3DBackward0",
        (true, 1) | (true, 2) => "AdaptiveAvgPool2DBackward0",
        (true, _) => "AdaptiveAvgPool3DBackward0",
    }
}

/// Max over windows, with the backward that routes each gradient to its argmax.
/// Indices are computed only when returned or needed for backward.
fn max_common(
    x: &Tensor,
    p: Planes,
    g: Geom,
    nd: usize,
    adaptive: bool,
    return_indices: bool,
    what: &str,
) -> Result<(Tensor, Option<Tensor>)> {
    let shape = out_shape(&p, &g, nd);
    if let Some(out) = super::meta::result(max_name(nd, adaptive), &[x], &shape, x.dtype()) {
        return Ok((
            out,
            return_indices.then(|| Tensor::meta(&shape, DType::I64)),
        ));
    }
    let xc = half::widen(x).contiguous_raw();
    let need_idx = return_indices || needs_grad(&[x]);
    let (out, idx) = crate::dispatch_float!(xc.dtype(), what, T => {
        let (o, i) = k::max_forward::<T>(xc.as_slice::<T>().expect("contiguous"), &g, need_idx);
        (Tensor::from_vec(o, &shape), i.map(|i| Tensor::from_vec(i, &shape)))
    });
    let out = half::narrow(out, x.dtype());
    let Some(idx) = idx else {
        return Ok((out, None));
    };
    let (si, in_shape) = (SavedTensor::new(&idx), x.shape().to_vec());
    let sx = SavedTensor::new(x);
    let (ip, op, planes, dtype) = (g.in_plane(), g.out_plane(), p.planes, x.dtype());
    let out_shape = out.shape().to_vec();
    record(max_name(nd, adaptive), &[x], &[&out], move |gr| {
        let Some(gy) = &gr[0] else {
            return Ok(vec![None]);
        };
        if crate::autograd::is_grad_enabled() {
            let at = Argmax {
                idx: si.get()?.contiguous_raw(),
                planes,
                out_plane: op,
                in_plane: ip,
                dtype,
            };
            let scatter = at.scatter(
                max_double_name(nd, adaptive),
                "MaxPoolDoubleBackward0",
                &in_shape,
                &out_shape,
            );
            return Ok(vec![Some(scatter.apply_beside(gy, sx.get()?)?)]);
        }
        let (gy, idx) = (
            half::widen(&gy.cast_raw(dtype)).contiguous_raw(),
            si.get()?.contiguous_raw(),
        );
        let idx = idx.as_slice::<i64>().expect("i64 indices");
        let gx = crate::dispatch_float!(dtype.compute_dtype(), "max_pool backward", T =>
            Tensor::from_vec(k::scatter_planes::<T>(gy.as_slice::<T>().expect("contiguous"), idx, op, ip, planes), &in_shape));
        Ok(vec![Some(half::narrow(gx, dtype))])
    });
    Ok((out, return_indices.then_some(idx)))
}

/// Average over windows, with the backward that spreads each gradient back.
fn avg_common(
    x: &Tensor,
    p: Planes,
    g: Geom,
    nd: usize,
    div: Divisor,
    adaptive: bool,
    what: &str,
) -> Result<Tensor> {
    let shape = out_shape(&p, &g, nd);
    if let Some(out) = super::meta::result(avg_name(nd, adaptive), &[x], &shape, x.dtype()) {
        return Ok(out);
    }
    let xc = half::widen(x).contiguous_raw();
    let out = crate::dispatch_float!(xc.dtype(), what, T =>
        Tensor::from_vec(k::avg_forward::<T>(xc.as_slice::<T>().expect("contiguous"), &g, div), &shape));
    let out = half::narrow(out, x.dtype());
    let (in_shape, planes, dtype) = (x.shape().to_vec(), p.planes, x.dtype());
    let sx = SavedTensor::new(x);
    let g = Arc::new(g);
    let out_shape = out.shape().to_vec();
    record(avg_name(nd, adaptive), &[x], &[&out], move |gr| {
        let Some(gy) = &gr[0] else {
            return Ok(vec![None]);
        };
        if crate::autograd::is_grad_enabled() {
            let spread = avg_spread(&g, div, planes, dtype, &in_shape, &out_shape, adaptive);
            return Ok(vec![Some(spread.apply_beside(gy, sx.get()?)?)]);
        }
        let gy = half::widen(&gy.cast_raw(dtype)).contiguous_raw();
        let gx = crate::dispatch_float!(dtype.compute_dtype(), "avg_pool backward", T =>
            Tensor::from_vec(k::avg_backward::<T>(gy.as_slice::<T>().expect("contiguous"), &g, div, planes), &in_shape));
        Ok(vec![Some(half::narrow(gx, dtype))])
    });
    Ok(out)
}

/// Flat per-plane argmax indices (`out_plane` per plane, into planes of
/// `in_plane` elements), the data of max pooling's backward.
struct Argmax {
    idx: Tensor,
    planes: usize,
    out_plane: usize,
    in_plane: usize,
    dtype: DType,
}

impl Argmax {
    /// The scatter-add of an output-shaped gradient at the indices into an
    /// input-shaped zero tensor, paired with its adjoint, the gather there.
    fn scatter(
        &self,
        name: &'static str,
        adjoint_name: &'static str,
        in_shape: &[usize],
        out_shape: &[usize],
    ) -> Linear {
        let (idx, planes, op, ip, dtype) = (
            self.idx.clone(),
            self.planes,
            self.out_plane,
            self.in_plane,
            self.dtype,
        );
        let (idx2, in_shape, out_shape) = (idx.clone(), in_shape.to_vec(), out_shape.to_vec());
        let scatter: LinFn = Arc::new(move |gy: &Tensor| {
            let gy = half::widen(&gy.cast_raw(dtype)).contiguous_raw();
            let idx = idx.as_slice::<i64>().expect("i64 indices");
            let gx = crate::dispatch_float!(dtype.compute_dtype(), "max_pool backward", T =>
                Tensor::from_vec(k::scatter_planes::<T>(gy.as_slice::<T>().expect("contiguous"), idx, op, ip, planes), &in_shape));
            Ok(half::narrow(gx, dtype))
        });
        let gather: LinFn = Arc::new(move |gx: &Tensor| {
            let gx = half::widen(&gx.cast_raw(dtype)).contiguous_raw();
            let idx = idx2.as_slice::<i64>().expect("i64 indices");
            let gy = crate::dispatch_float!(dtype.compute_dtype(), "max_pool double backward", T =>
                Tensor::from_vec(k::gather_planes::<T>(gx.as_slice::<T>().expect("contiguous"), idx, op, ip, planes), &out_shape));
            Ok(half::narrow(gy, dtype))
        });
        Linear {
            name,
            map: scatter,
            adjoint_name,
            adjoint: gather,
        }
    }
}

/// Average pooling's backward (each output gradient spread over its window)
/// paired with its adjoint, average pooling itself.
fn avg_spread(
    g: &Arc<Geom>,
    div: Divisor,
    planes: usize,
    dtype: DType,
    in_shape: &[usize],
    out_shape: &[usize],
    adaptive: bool,
) -> Linear {
    let (g1, g2) = (g.clone(), g.clone());
    let (in_shape, out_shape) = (in_shape.to_vec(), out_shape.to_vec());
    let spread: LinFn = Arc::new(move |gy: &Tensor| {
        let gy = half::widen(&gy.cast_raw(dtype)).contiguous_raw();
        let gx = crate::dispatch_float!(dtype.compute_dtype(), "avg_pool backward", T =>
            Tensor::from_vec(k::avg_backward::<T>(gy.as_slice::<T>().expect("contiguous"), &g1, div, planes), &in_shape));
        Ok(half::narrow(gx, dtype))
    });
    let pool: LinFn = Arc::new(move |gx: &Tensor| {
        let gx = half::widen(&gx.cast_raw(dtype)).contiguous_raw();
        let gy = crate::dispatch_float!(dtype.compute_dtype(), "avg_pool", T =>
            Tensor::from_vec(k::avg_forward::<T>(gx.as_slice::<T>().expect("contiguous"), &g2, div), &out_shape));
        Ok(half::narrow(gy, dtype))
    });
    let (name, adjoint_name) = match (adaptive, g.input[0] > 1) {
        (true, false) => (
            "AdaptiveAvgPool2DBackwardBackward0",
            "AdaptiveAvgPool2DBackward0",
        ),
        (true, true) => (
            "AdaptiveAvgPool3DBackwardBackward0",
            "AdaptiveAvgPool3DBackward0",
        ),
        (false, false) => ("AvgPool2DBackwardBackward0", "AvgPool2DBackward0"),
        (false, true) => ("AvgPool3DBackwardBackward0", "AvgPool3DBackward0"),
    };
    Linear {
        name,
        map: spread,
        adjoint_name,
        adjoint: pool,
    }
}

/// PyTorch's CPU max_pool3d kernel switches on the input's suggested memory
/// format: an unbatched (4-D) input whose strides look channels-last (2-D)
/// is refused, e.g. `F.max_pool3d(x.permute(0, 3, 1, 2), 2)` (its adaptive
/// kernel is not so picky).
fn check_pool3d_memory_format(x: &Tensor, nd: usize) -> Result<()> {
    if nd == 3 && !x.is_gpu() && !x.is_meta() && super::memory_format::strides_like_channels_last(x)
    {
        bail!(
            Runtime,
            "Unsupported memory format. Supports only ChannelsLast3d, Contiguous"
        );
    }
    Ok(())
}

/// `max_pool{nd}d`: values and (when `return_indices`) flat per-plane indices.
pub fn max_pool(
    x: &Tensor,
    nd: usize,
    prm: &PoolParams,
    return_indices: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let name = format!("max_pool{nd}d");
    let p = split_input(x, nd, &name)?;
    let g = strided_geom(&p, nd, prm, &name)?;
    check_pool3d_memory_format(x, nd)?;
    if x.is_gpu() {
        if return_indices {
            bail!(
                Runtime,
                "{name}(return_indices=True) is not implemented on the wgpu device"
            );
        }
        return Ok((pool_device(x, &p, &g, nd, prm, true, &name)?, None));
    }
    let dtype = x.dtype();
    // (PyTorch's 1-D kernel without indices is float-only; with indices it
    // takes the 2-D path, which has integer kernels)
    if nd == 1 && !dtype.is_float() && (!return_indices || dtype == crate::tensor::DType::Bool) {
        return Err(Error::not_implemented("max_pool1d_impl", dtype));
    }
    if dtype.is_float() || dtype == crate::tensor::DType::Bool {
        return max_common(x, p, g, nd, false, return_indices, &name);
    }
    // Integers (2-D and 3-D, as PyTorch): the windows' argmax found in f64,
    // the values then read from the input itself, so they are exact.
    let planes = p.planes;
    let wide = x.cast_raw(crate::tensor::DType::F64);
    let (_, idx) = max_common(&wide, p, g, nd, false, true, &name)?;
    let idx = idx.ok_or_else(|| Error::Runtime(format!("{name}: internal: no indices")))?;
    let rows = super::shape::reshape_to(&x.contiguous_raw(), &[planes, x.numel() / planes.max(1)])?;
    let picks = super::shape::reshape_to(&idx, &[planes, idx.numel() / planes.max(1)])?;
    let values = super::shape::reshape_to(&super::index::gather(&rows, 1, &picks)?, idx.shape())?;
    Ok((values, return_indices.then_some(idx)))
}

/// `avg_pool{nd}d` (dilation is always 1).
pub fn avg_pool(
    x: &Tensor,
    nd: usize,
    prm: &PoolParams,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> Result<Tensor> {
    let name = format!("avg_pool{nd}d");
    let p = split_input(x, nd, &name)?;
    let prm = PoolParams {
        dilation: vec![1],
        ..prm.clone()
    };
    let g = strided_geom(&p, nd, &prm, &name)?;
    if x.is_gpu() {
        if !count_include_pad || divisor_override.is_some() {
            bail!(Runtime, "{name} on the wgpu device supports only count_include_pad=True without divisor_override");
        }
        return pool_device(x, &p, &g, nd, &prm, false, &name);
    }
    let div = match divisor_override {
        Some(0) => bail!(Runtime, "{name}: divisor must be not zero"),
        Some(d) => Divisor::Fixed(d as f64),
        None if count_include_pad => Divisor::Padded,
        None => Divisor::Valid,
    };
    match x.dtype() {
        d if d.is_float() => avg_common(x, p, g, nd, div, false, &name),
        // int64 only, as PyTorch: summed in int64, truncating division
        crate::tensor::DType::I64 => {
            let shape = out_shape(&p, &g, nd);
            if let Some(out) = super::meta::result(avg_name(nd, false), &[x], &shape, x.dtype()) {
                return Ok(out);
            }
            let xc = x.contiguous_raw();
            let xs = xc.as_slice::<i64>().expect("contiguous");
            Ok(Tensor::from_vec(k::avg_forward_i64(xs, &g, div), &shape))
        }
        d => Err(Error::not_implemented(
            if nd == 3 {
                "avg_pool3d_out_frame"
            } else {
                "avg_pool2d"
            },
            d,
        )),
    }
}

/// The input of an adaptive pooling, checked as PyTorch checks it: every
/// dim after the first must be non-empty, except that average pooling in 1
/// and 2 dims (computed as 2-d, 1-d with a unit height) checks only the
/// spatial dims of its 2-d form (a 4-d input may have 0 channels). An empty
/// input that passes gives an empty result.
fn adaptive_input(x: &Tensor, nd: usize, name: &str, average: bool) -> Result<Planes> {
    let sh = x.shape();
    if sh.len() == nd + 1 || sh.len() == nd + 2 {
        let (name, checked, first) = if average && nd <= 2 {
            let mut as_2d = sh.to_vec();
            if nd == 1 {
                as_2d.insert(sh.len() - 1, 1);
            }
            let first = (as_2d.len() - 2).max(1);
            ("adaptive_avg_pool2d", as_2d, first)
        } else {
            (name, sh.to_vec(), 1)
        };
        if let Some(i) = (first..checked.len()).find(|&i| checked[i] == 0) {
            bail!(
                Runtime,
                "{name}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes {checked:?} with dimension {i} being empty"
            );
        }
        if x.numel() == 0 {
            let (lead, sp) = sh.split_at(sh.len() - nd);
            let mut spatial = [1; 3];
            spatial[3 - nd..].copy_from_slice(sp);
            return Ok(Planes {
                lead: lead.to_vec(),
                planes: 0,
                spatial,
            });
        }
    }
    split_input(x, nd, name)
}

/// `adaptive_avg_pool{nd}d`.
pub fn adaptive_avg_pool(x: &Tensor, nd: usize, output_size: &[usize]) -> Result<Tensor> {
    let name = format!("adaptive_avg_pool{nd}d");
    let p = adaptive_input(x, nd, &name, true)?;
    let g = adaptive_geom(&p, nd, output_size, &name)?;
    if x.numel() == 0 && !x.dtype().is_float() && !x.is_gpu() && !x.is_meta() {
        // PyTorch returns an empty result of any dtype (no kernel runs)
        return Ok(Tensor::zeros(&out_shape(&p, &g, nd), x.dtype()));
    }
    if x.is_gpu() {
        return pool_device(
            x,
            &p,
            &g,
            nd,
            &adaptive_as_strided(&p, nd, &g, &name)?,
            false,
            &name,
        );
    }
    avg_common(x, p, g, nd, Divisor::Valid, true, &name)
}

/// `adaptive_max_pool{nd}d`: values and (when `return_indices`) flat per-plane indices.
pub fn adaptive_max_pool(
    x: &Tensor,
    nd: usize,
    output_size: &[usize],
    return_indices: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let name = format!("adaptive_max_pool{nd}d");
    let p = adaptive_input(x, nd, &name, false)?;
    let g = adaptive_geom(&p, nd, output_size, &name)?;
    if x.is_gpu() {
        if return_indices {
            bail!(
                Runtime,
                "{name}(return_indices=True) is not implemented on the wgpu device"
            );
        }
        let prm = adaptive_as_strided(&p, nd, &g, &name)?;
        return Ok((pool_device(x, &p, &g, nd, &prm, true, &name)?, None));
    }
    max_common(x, p, g, nd, true, return_indices, &name)
}

/// `max_unpool{nd}d`: place each value at its flat per-plane index in a
/// zero output of spatial size `output_size`.
/// An adaptive pooling whose output divides its input is a strided one with
/// kernel = stride = input / output (the device supports only that case).
fn adaptive_as_strided(p: &Planes, nd: usize, g: &Geom, name: &str) -> Result<PoolParams> {
    let mut kernel = Vec::with_capacity(nd);
    for i in 3 - nd..3 {
        let (input, output) = (p.spatial[i], g.wins[i].len());
        if output == 0 || input % output != 0 {
            bail!(
                Runtime,
                "{name} on the wgpu device needs output sizes that divide the input sizes (got {input} -> {output})"
            );
        }
        kernel.push(input / output);
    }
    Ok(PoolParams {
        stride: kernel.clone(),
        kernel,
        padding: vec![0],
        dilation: vec![1],
        ceil_mode: false,
    })
}

pub fn max_unpool(
    x: &Tensor,
    indices: &Tensor,
    nd: usize,
    output_size: &[usize],
) -> Result<Tensor> {
    crate::gpu::ops::cpu_only(&[x], "max_unpool")?;
    let name = format!("max_unpool{nd}d");
    if indices.shape() != x.shape() {
        bail!(Runtime, "{name}: Expected shape of indices to be same as that of the input tensor ({:?}) but got indices tensor with shape: {:?}", x.shape(), indices.shape());
    }
    if indices.dtype() != crate::tensor::DType::I64 {
        bail!(
            Runtime,
            "{name}: elements in indices should be type int64 but got: {}",
            indices.dtype().name()
        );
    }
    let p = split_input(x, nd, &name)?;
    if output_size.len() != nd {
        bail!(Runtime, "{name}: There should be exactly {nd} elements (output spatial size) in output_size, but got {} elements.", output_size.len());
    }
    let (ip, op): (usize, usize) = (p.spatial.iter().product(), output_size.iter().product());
    let idx_t = indices.contiguous_raw();
    let idx = idx_t.as_slice::<i64>().expect("i64 indices");
    if let Some(&bad) = idx.iter().find(|&&i| i < 0 || i as usize >= op) {
        bail!(
            Runtime,
            "{name}: Found an invalid max index: {bad} (output volumes are of size {})",
            output_size
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("x")
        );
    }
    let mut shape = p.lead.clone();
    shape.extend_from_slice(output_size);
    let xc = half::widen(x).contiguous_raw();
    let out = crate::dispatch_float!(xc.dtype(), name, T =>
        Tensor::from_vec(k::unpool_planes::<T>(xc.as_slice::<T>().expect("contiguous"), idx, ip, op, p.planes), &shape));
    let out = half::narrow(out, x.dtype());
    let (in_shape, planes, dtype) = (x.shape().to_vec(), p.planes, x.dtype());
    let out_shape = out.shape().to_vec();
    record("MaxUnpool2DBackward0", &[x], &[&out], move |gr| {
        let Some(gy) = &gr[0] else {
            return Ok(vec![None]);
        };
        if crate::autograd::is_grad_enabled() {
            // the unpooled output's positions play the pooling input's part
            let at = Argmax {
                idx: idx_t.clone(),
                planes,
                out_plane: ip,
                in_plane: op,
                dtype,
            };
            let gather = at
                .scatter(
                    "MaxPoolDoubleBackward0",
                    "MaxUnpoolBackwardBackward0",
                    &out_shape,
                    &in_shape,
                )
                .adjoint();
            return Ok(vec![Some(gather.apply(gy)?)]);
        }
        let gy = half::widen(&gy.cast_raw(dtype)).contiguous_raw();
        let idx = idx_t.as_slice::<i64>().expect("i64 indices");
        let gx = crate::dispatch_float!(dtype.compute_dtype(), "max_unpool backward", T =>
            Tensor::from_vec(k::gather_planes::<T>(gy.as_slice::<T>().expect("contiguous"), idx, ip, op, planes), &in_shape));
        Ok(vec![Some(half::narrow(gx, dtype))])
    });
    Ok(out)
}

/// Max / average pooling of a device tensor from differentiable pieces:
/// windows unfolded by the convolution's `im2col` (one channel per plane),
/// then `amax` or `mean` over each window. For max pooling, padding and the
/// windows `ceil_mode` adds past the input are explicit -inf borders (im2col
/// pads with zeros, which is right for average pooling's default divisor).
fn pool_device(
    x: &Tensor,
    p: &Planes,
    g: &Geom,
    nd: usize,
    prm: &PoolParams,
    is_max: bool,
    name: &str,
) -> Result<Tensor> {
    use super::shape::reshape_to;
    let pad = expand(&prm.padding, nd, "padding", name)?;
    let kernel = expand(&prm.kernel, nd, "kernel_size", name)?;
    let stride = if prm.stride.is_empty() {
        kernel.clone()
    } else {
        expand(&prm.stride, nd, "stride", name)?
    };
    let dilation = expand(&prm.dilation, nd, "dilation", name)?;
    let output: [usize; 3] = std::array::from_fn(|i| g.wins[i].len());
    // Extent past the padded input that ceil_mode's last windows reach.
    let overhang: Vec<usize> = (0..nd)
        .map(|i| {
            let reach =
                (output[3 - nd + i].max(1) - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1;
            reach.saturating_sub(p.spatial[3 - nd + i] + 2 * pad[i])
        })
        .collect();
    if !is_max && overhang.iter().any(|&v| v > 0) {
        bail!(
            Runtime,
            "{name}(ceil_mode=True) is not implemented on the wgpu device"
        );
    }
    let three = |v: &[usize], fill: usize| -> [usize; 3] {
        let mut a = [fill; 3];
        a[3 - nd..].copy_from_slice(&v[..nd]);
        a
    };
    let mut spatial = p.spatial;
    let mut planes = reshape_to(x, &[p.planes, 1, p.spatial.iter().product()])?;
    let mut conv_pad = three(&pad, 0);
    if is_max && (pad.iter().any(|&v| v > 0) || overhang.iter().any(|&v| v > 0)) {
        let mut dims = vec![p.planes, 1];
        dims.extend_from_slice(&p.spatial[3 - nd..]);
        // F.pad order: last dim first, (left, right) per dim
        let pads: Vec<i64> = (0..nd)
            .rev()
            .flat_map(|i| [pad[i] as i64, (pad[i] + overhang[i]) as i64])
            .collect();
        let padded = super::shape_extra::pad(
            &reshape_to(&planes, &dims)?,
            &pads,
            "constant",
            f64::NEG_INFINITY,
        )?;
        for i in 0..nd {
            spatial[3 - nd + i] += 2 * pad[i] + overhang[i];
        }
        planes = reshape_to(&padded, &[p.planes, 1, spatial.iter().product()])?;
        conv_pad = [0; 3];
    }
    let geom = crate::cpu::conv::ConvGeom {
        batch: p.planes,
        c_in: 1,
        c_out: 1,
        groups: 1,
        input: spatial,
        output,
        kernel: three(&kernel, 1),
        stride: three(&stride, 1),
        pad: conv_pad,
        dilation: three(&dilation, 1),
    };
    let cols = super::conv::im2col(&planes, &geom)?;
    let pooled = if is_max {
        // the gradient goes to the first maximum of each window, as PyTorch's
        // max pooling does (amax would share it among ties)
        let at = super::reduce::argmax(&cols.detach(), Some(1), true, true)?;
        super::shape::squeeze(&super::index::gather(&cols, 1, &at)?, Some(&[1]))?
    } else {
        super::reduce::mean(&cols, Some(&[1]), false)?
    };
    let mut shape = p.lead.clone();
    shape.extend_from_slice(&output[3 - nd..]);
    reshape_to(&pooled, &shape)
}
