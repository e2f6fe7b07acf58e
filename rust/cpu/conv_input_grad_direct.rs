//! Input gradient of a 2-d float32 convolution computed directly, for the
//! fused blocks of `rustdl.compile`'s graphs (`ops::conv_relu_pool`).
//!
//! The eager kernels compute the input gradient as a convolution of the
//! zero-padded output gradient, so a valid 5x5 layer (LeNet's second) spends
//! about a third of its multiply-adds on padding rows. Here each input row
//! gathers only the (kernel row, output row) pairs that reach it. Along the
//! row, 16 input positions at a time take each kernel column as one shifted
//! read of the output-gradient row, which is copied once per sample into a
//! buffer padded with zeros at both ends (and zero-stuffed between values
//! for strides), so the shifted reads need no bounds logic. Accumulators
//! hold up to `MAX_BLOCK` input channels of one 16-position segment.
//!
//! The summation order is not the eager kernels', so results equal theirs
//! within float32 rounding, not bit for bit (what compiled graphs promise).

use super::conv::ConvGeom;
use super::multiversion::with_avx512;
use crate::parallel;
use crate::tensor::pool::uninit_vec;

/// Input positions per accumulator (one AVX-512 register, two AVX2 ones).
const LANES: usize = 16;
/// Input channels accumulated at once (6 x 16 lanes fit AVX2's registers).
const MAX_BLOCK: usize = 6;
/// Below this many multiply-adds the gradient runs on one thread.
const PARALLEL_MACS: usize = 1 << 18;

/// Whether the geometry is 2-d (the depth dim trivial), which is all this
/// kernel handles.
pub fn applies(g: &ConvGeom) -> bool {
    g.input[0] == 1
        && g.output[0] == 1
        && g.kernel[0] == 1
        && g.pad[0] == 0
        && g.groups > 0
        && g.c_in.is_multiple_of(g.groups)
        && g.c_out.is_multiple_of(g.groups)
        && g.output[1] > 0
        && g.output[2] > 0
}

/// Sizes shared by every sample.
struct Dims {
    cgi: usize,
    cgo: usize,
    ih: usize,
    iw: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    dh: usize,
    dw: usize,
    /// Zeros before the first stuffed value of a buffered row.
    left: usize,
    /// Length of one buffered output-gradient row.
    len: usize,
}

impl Dims {
    fn new(g: &ConvGeom) -> Dims {
        let (kw, dw, iw, pw) = (g.kernel[2], g.dilation[2], g.input[2], g.pad[2]);
        let left = (kw - 1) * dw;
        Dims {
            cgi: g.cg_in(),
            cgo: g.cg_out(),
            ih: g.input[1],
            iw,
            oh: g.output[1],
            ow: g.output[2],
            kh: g.kernel[1],
            kw,
            sh: g.stride[1],
            sw: g.stride[2],
            ph: g.pad[1],
            pw,
            dh: g.dilation[1],
            dw,
            left,
            // the last segment reads up to input position iw16 - 1 at its
            // first kernel column: index iw16 - 1 + pw + left
            len: iw.div_ceil(LANES) * LANES + pw + left,
        }
    }

    /// (kernel row, output row) pairs reaching input row `iy`.
    fn taps(&self, iy: usize) -> Vec<(usize, usize)> {
        (0..self.kh)
            .filter_map(|ky| {
                let t = (iy + self.ph).checked_sub(ky * self.dh)?;
                (t.is_multiple_of(self.sh) && t / self.sh < self.oh).then_some((ky, t / self.sh))
            })
            .collect()
    }
}

/// gx (batch, c_in, ih, iw) from gy (batch, c_out, oh, ow) and w (c_out,
/// cg_in, kh, kw); `applies(g)` must hold.
pub fn backward_input(g: &ConvGeom, gy: &[f32], w: &[f32]) -> Vec<f32> {
    let d = Dims::new(g);
    let per_sample = g.c_in * d.ih * d.iw;
    let mut gx = uninit_vec::<f32>(g.batch * per_sample);
    if per_sample == 0 {
        return gx;
    }
    // Weights as (group, co, ky, kx, ci): a kernel column's channels adjacent.
    let kv = d.kh * d.kw;
    let mut wp = vec![0.0f32; w.len()];
    for grp in 0..g.groups {
        for co in 0..d.cgo {
            for ci in 0..d.cgi {
                for t in 0..kv {
                    wp[((grp * d.cgo + co) * kv + t) * d.cgi + ci] =
                        w[((grp * d.cgo + co) * d.cgi + ci) * kv + t];
                }
            }
        }
    }
    let taps: Vec<Vec<(usize, usize)>> = (0..d.ih).map(|iy| d.taps(iy)).collect();
    let threads = parallel::num_threads();
    let per_task = if threads == 1 || g.macs() < PARALLEL_MACS {
        g.batch
    } else {
        g.batch.div_ceil(threads)
    };
    let out_sample = g.c_out * d.oh * d.ow;
    parallel::for_each_chunk_mut(&mut gx, per_task * per_sample, |t, chunk| {
        let mut rows = vec![0.0f32; d.cgo * d.oh * d.len];
        for (i, gxn) in chunk.chunks_mut(per_sample).enumerate() {
            let n = t * per_task + i;
            let gyn = &gy[n * out_sample..][..out_sample];
            for grp in 0..g.groups {
                let gyg = &gyn[grp * d.cgo * d.oh * d.ow..][..d.cgo * d.oh * d.ow];
                fill_rows(&d, gyg, &mut rows);
                let wg = &wp[grp * d.cgo * kv * d.cgi..][..d.cgo * kv * d.cgi];
                let gxg = &mut gxn[grp * d.cgi * d.ih * d.iw..][..d.cgi * d.ih * d.iw];
                with_avx512(
                    #[inline(always)]
                    || group(&d, &taps, &rows, wg, gxg),
                );
            }
        }
    });
    gx
}

/// Each output-gradient row of one group, zero-padded and zero-stuffed:
/// output column `ox` at index `left + ox * sw`, so input position `ix` and
/// kernel column `kx` (which meet where `ox * sw = ix + pw - kx * dw`) read
/// index `ix + pw + left - kx * dw`. Columns past the last segment's reach
/// are not stored.
fn fill_rows(d: &Dims, gy: &[f32], rows: &mut [f32]) {
    rows.fill(0.0);
    for (src, dst) in gy.chunks_exact(d.ow).zip(rows.chunks_exact_mut(d.len)) {
        for (ox, &v) in src.iter().enumerate() {
            // index t = ox * sw of the stuffed row, past `left` zeros
            if let Some(slot) = dst.get_mut(d.left + ox * d.sw) {
                *slot = v;
            }
        }
    }
}

/// One sample's group: every input row, segment and channel block.
#[inline(always)]
fn group(d: &Dims, taps: &[Vec<(usize, usize)>], rows: &[f32], w: &[f32], gx: &mut [f32]) {
    for (iy, taps) in taps.iter().enumerate() {
        for ix0 in (0..d.iw).step_by(LANES) {
            let mut ci0 = 0;
            while ci0 < d.cgi {
                let cb = (d.cgi - ci0).min(MAX_BLOCK);
                let at = Seg { iy, ix0, ci0 };
                match cb {
                    1 => block::<1>(d, taps, rows, w, at, gx),
                    2 => block::<2>(d, taps, rows, w, at, gx),
                    3 => block::<3>(d, taps, rows, w, at, gx),
                    4 => block::<4>(d, taps, rows, w, at, gx),
                    5 => block::<5>(d, taps, rows, w, at, gx),
                    _ => block::<MAX_BLOCK>(d, taps, rows, w, at, gx),
                }
                ci0 += cb;
            }
        }
    }
}

/// Where one block of accumulators lands: input row, first position and
/// first channel (within the group).
#[derive(Clone, Copy)]
struct Seg {
    iy: usize,
    ix0: usize,
    ci0: usize,
}

/// `CB` input channels x 16 positions of one input row: the sum over output
/// channels, reaching kernel rows and kernel columns.
#[inline(always)]
fn block<const CB: usize>(
    d: &Dims,
    taps: &[(usize, usize)],
    rows: &[f32],
    w: &[f32],
    at: Seg,
    gx: &mut [f32],
) {
    let mut acc = [[0.0f32; LANES]; CB];
    let base = at.ix0 + d.pw + d.left;
    for co in 0..d.cgo {
        for &(ky, oy) in taps {
            let row = &rows[(co * d.oh + oy) * d.len..][..d.len];
            let wrow = &w[(co * d.kh + ky) * d.kw * d.cgi..][..d.kw * d.cgi];
            for kx in 0..d.kw {
                // in bounds: base - kx*dw >= base - left >= 0 and base + 16 <= len
                let s = base - kx * d.dw;
                let Ok(v) = <&[f32; LANES]>::try_from(&row[s..s + LANES]) else {
                    continue;
                };
                let wk = &wrow[kx * d.cgi + at.ci0..][..CB];
                for (a, &wv) in acc.iter_mut().zip(wk) {
                    for (x, &y) in a.iter_mut().zip(v) {
                        *x = wv.mul_add(y, *x);
                    }
                }
            }
        }
    }
    let n = (d.iw - at.ix0).min(LANES);
    let plane = d.ih * d.iw;
    for (c, a) in acc.iter().enumerate() {
        let off = (at.ci0 + c) * plane + at.iy * d.iw + at.ix0;
        gx[off..off + n].copy_from_slice(&a[..n]);
    }
}
