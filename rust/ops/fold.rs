//! `F.unfold` (im2col: sliding blocks of a batched image as columns) and
//! `F.fold` (col2im: columns summed back into an image), PyTorch's checks and
//! messages. They are adjoint linear maps, so each is the other's backward
//! (`linear_map`), to every order. The kernels are the convolution's
//! `cpu::conv::{im2col, col2im}` over a one-group geometry.

use std::sync::Arc;

use super::linear_map::{LinFn, Linear};
use crate::bail;
use crate::cpu::conv::{self as kernels, ConvGeom};
use crate::error::{Error, Result};
use crate::tensor::{half, DType, Tensor};

/// Kernel, dilation, padding, stride of one call, (height, width) each.
struct Blocks {
    kernel: [usize; 2],
    dilation: [usize; 2],
    padding: [usize; 2],
    stride: [usize; 2],
}

fn pair(v: &[i64], what: &str) -> Result<[i64; 2]> {
    match v {
        [a, b] => Ok([*a, *b]),
        _ => bail!(
            Runtime,
            "It is expected {what} equals to 2, but got size {}",
            v.len()
        ),
    }
}

fn check_blocks(
    kernel: &[i64],
    dilation: &[i64],
    padding: &[i64],
    stride: &[i64],
) -> Result<Blocks> {
    let (k, d, p, s) = (
        pair(kernel, "kernel_size")?,
        pair(dilation, "dilation")?,
        pair(padding, "padding")?,
        pair(stride, "stride")?,
    );
    if k.iter().any(|&v| v <= 0) {
        bail!(
            Runtime,
            "kernel size should be greater than zero, but got kernel_height: {} kernel_width: {}",
            k[0],
            k[1]
        );
    }
    if s.iter().any(|&v| v <= 0) {
        bail!(
            Runtime,
            "stride should be greater than zero, but got stride_height: {} stride_width: {}",
            s[0],
            s[1]
        );
    }
    if d.iter().any(|&v| v <= 0) {
        bail!(
            Runtime,
            "dilation should be greater than zero, but got dilation_height: {} dilation_width: {}",
            d[0],
            d[1]
        );
    }
    if p.iter().any(|&v| v < 0) {
        bail!(
            Runtime,
            "padding should be non-negative, but got pad_height: {} pad_width: {}",
            p[0],
            p[1]
        );
    }
    let u = |v: [i64; 2]| [v[0] as usize, v[1] as usize];
    Ok(Blocks {
        kernel: u(k),
        dilation: u(d),
        padding: u(p),
        stride: u(s),
    })
}

impl Blocks {
    /// Number of sliding blocks along each dim of an image of `size`
    /// (PyTorch's div_rtn: rounded toward negative infinity).
    fn count(&self, size: [usize; 2]) -> [i64; 2] {
        std::array::from_fn(|i| {
            let span = size[i] as i64 + 2 * self.padding[i] as i64
                - (self.dilation[i] * (self.kernel[i] - 1)) as i64
                - 1;
            span.div_euclid(self.stride[i] as i64) + 1
        })
    }

    fn geom(
        &self,
        batch: usize,
        channels: usize,
        size: [usize; 2],
        blocks: [usize; 2],
    ) -> ConvGeom {
        ConvGeom {
            batch,
            c_in: channels,
            c_out: 1,
            groups: 1,
            input: [1, size[0], size[1]],
            output: [1, blocks[0], blocks[1]],
            kernel: [1, self.kernel[0], self.kernel[1]],
            stride: [1, self.stride[0], self.stride[1]],
            pad: [0, self.padding[0], self.padding[1]],
            dilation: [1, self.dilation[0], self.dilation[1]],
        }
    }

    fn describe(&self) -> String {
        let t = |v: [usize; 2]| format!("({}, {})", v[0], v[1]);
        format!(
            "kernel_size={}, dilation={}, padding={}",
            t(self.kernel),
            t(self.dilation),
            t(self.padding)
        )
    }
}

fn check_dtype(x: &Tensor, kernel: &str) -> Result<()> {
    if x.dtype().is_float() {
        Ok(())
    } else {
        Err(Error::not_implemented(kernel, x.dtype()))
    }
}

/// The im2col / col2im pair over geometry `g` (one image = `batch` samples).
fn pair_of(g: ConvGeom, image: Vec<usize>, cols: Vec<usize>, dtype: DType) -> Linear {
    let g1 = Arc::new(g);
    let g2 = g1.clone();
    let lines = (0, g1.output[1]);
    let im2col: LinFn = Arc::new(move |x: &Tensor| {
        let xw = half::widen(&x.cast_raw(dtype)).contiguous_raw();
        let out = crate::dispatch_float!(xw.dtype(), "im2col_out_cpu", T => {
            let xs = xw.as_slice::<T>().expect("contiguous");
            let (ip, cp) = (g1.c_in * g1.in_plane(), g1.col_rows() * g1.out_plane());
            let mut c = crate::tensor::pool::uninit_vec::<T>(g1.batch * cp);
            for n in 0..g1.batch {
                kernels::im2col(&g1, &xs[n * ip..(n + 1) * ip], lines, &mut c[n * cp..(n + 1) * cp]);
            }
            Tensor::from_vec(c, &cols)
        });
        Ok(half::narrow(out, dtype))
    });
    let col2im: LinFn = Arc::new(move |c: &Tensor| {
        let cw = half::widen(&c.cast_raw(dtype)).contiguous_raw();
        let out = crate::dispatch_float!(cw.dtype(), "col2im_out_cpu", T => {
            let cs = cw.as_slice::<T>().expect("contiguous");
            let (ip, cp) = (g2.c_in * g2.in_plane(), g2.col_rows() * g2.out_plane());
            let mut x = crate::tensor::pool::zeroed_vec::<T>(g2.batch * ip);
            for n in 0..g2.batch {
                kernels::col2im(&g2, &cs[n * cp..(n + 1) * cp], lines, &mut x[n * ip..(n + 1) * ip]);
            }
            Tensor::from_vec(x, &image)
        });
        Ok(half::narrow(out, dtype))
    });
    Linear {
        name: "Im2ColBackward0",
        map: im2col,
        adjoint_name: "Col2ImBackward0",
        adjoint: col2im,
    }
}

/// `F.unfold(input, kernel_size, dilation, padding, stride)`: (N, C, H, W)
/// or (C, H, W) -> (N, C * kh * kw, L) or (C * kh * kw, L).
pub fn unfold(
    x: &Tensor,
    kernel: &[i64],
    dilation: &[i64],
    padding: &[i64],
    stride: &[i64],
) -> Result<Tensor> {
    let b = check_blocks(kernel, dilation, padding, stride)?;
    let sh = x.shape();
    let nd = sh.len();
    if nd < 3 {
        bail!(
            Index,
            "Dimension out of range (expected to be in range of [{}, {}], but got 2)",
            -(nd.max(1) as i64),
            nd.max(1) as i64 - 1
        );
    }
    let batched = nd == 4;
    if !(nd == 3 || nd == 4) || sh[nd - 3..].contains(&0) {
        bail!(Runtime, "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, but got: {:?}", sh);
    }
    let size = [sh[nd - 2], sh[nd - 1]];
    let blocks = b.count(size);
    if blocks.iter().any(|&v| v < 1) {
        bail!(
            Runtime,
            "Given input with spatial size ({}, {}), {}, calculated shape of the array of sliding blocks as ({}, {}), but its components must be at least one.",
            size[0], size[1], b.describe(), blocks[0], blocks[1]
        );
    }
    check_dtype(x, "im2col_out_cpu")?;
    let (n, c) = (if batched { sh[0] } else { 1 }, sh[nd - 3]);
    let blocks = [blocks[0] as usize, blocks[1] as usize];
    let g = b.geom(n, c, size, blocks);
    let rows = c * b.kernel[0] * b.kernel[1];
    let cols = if batched {
        vec![n, rows, blocks[0] * blocks[1]]
    } else {
        vec![rows, blocks[0] * blocks[1]]
    };
    if x.is_gpu() || x.is_meta() {
        bail!(Runtime, "unfold is implemented for CPU tensors only");
    }
    pair_of(g, sh.to_vec(), cols, x.dtype()).apply(x)
}

/// `F.fold(input, output_size, kernel_size, dilation, padding, stride)`:
/// (N, C * kh * kw, L) or (C * kh * kw, L) -> (N, C, H, W) or (C, H, W).
pub fn fold(
    x: &Tensor,
    output_size: &[i64],
    kernel: &[i64],
    dilation: &[i64],
    padding: &[i64],
    stride: &[i64],
) -> Result<Tensor> {
    let out = pair(output_size, "output_size")?;
    let b = check_blocks(kernel, dilation, padding, stride)?;
    let sh = x.shape();
    let nd = sh.len();
    if !(nd == 2 || nd == 3) || sh[nd - 2..].contains(&0) {
        bail!(Runtime, "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero dimensions for input, but got: {:?}", sh);
    }
    let batched = nd == 3;
    let (planes, length) = (sh[nd - 2], sh[nd - 1]);
    let kvol = b.kernel[0] * b.kernel[1];
    if !planes.is_multiple_of(kvol) {
        bail!(
            Runtime,
            "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got input.size(1)={planes} and kernel_size=({}, {}).",
            b.kernel[0], b.kernel[1]
        );
    }
    let size = [out[0].max(0) as usize, out[1].max(0) as usize];
    let blocks: [i64; 2] = std::array::from_fn(|i| {
        let span =
            out[i] + 2 * b.padding[i] as i64 - (b.dilation[i] * (b.kernel[i] - 1)) as i64 - 1;
        span.div_euclid(b.stride[i] as i64) + 1
    });
    let t = |v: [usize; 2]| format!("({}, {})", v[0], v[1]);
    let head = format!(
        "Given output_size=({}, {}), {}, stride={}",
        out[0],
        out[1],
        b.describe(),
        t(b.stride)
    );
    if length as i64 != blocks[0] * blocks[1] {
        bail!(
            Runtime,
            "{head}, expected size of input's dimension 2 to match the calculated number of sliding blocks {} * {} = {}, but got input.size(2)={length}.",
            blocks[0], blocks[1], blocks[0] * blocks[1]
        );
    }
    if blocks.iter().any(|&v| v < 1) {
        bail!(
            Runtime,
            "{head}, calculated shape of the array of sliding blocks as ({}, {}), which is too small (non-positive).",
            blocks[0], blocks[1]
        );
    }
    check_dtype(x, "col2im_out_cpu")?;
    if x.is_gpu() || x.is_meta() {
        bail!(Runtime, "fold is implemented for CPU tensors only");
    }
    let (n, c) = (if batched { sh[0] } else { 1 }, planes / kvol);
    let g = b.geom(n, c, size, [blocks[0] as usize, blocks[1] as usize]);
    let image = if batched {
        vec![n, c, size[0], size[1]]
    } else {
        vec![c, size[0], size[1]]
    };
    pair_of(g, image, sh.to_vec(), x.dtype()).adjoint().apply(x)
}
