//! Forward pass of a 2-d float32 convolution with few channels, for the
//! fused blocks of `rustdl.compile`'s graphs (`ops::conv_relu_pool`).
//!
//! The eager implicit GEMM tiles output channels by 16 or more and pads
//! each row to its tile width, so a layer with 6 or 16 output channels and
//! 10- or 28-wide rows leaves many lanes idle. Here the lanes are output
//! channels (8 or 16 per vector, as in `conv_weight_grad_direct`) and the
//! accumulators are a run of up to `MAX_RUN` consecutive positions of one
//! output row: every tap loads one weight vector and adds it times the input
//! value under each position (a broadcast). The result is written
//! position-major and transposed back to channel rows in 8 x 8 blocks.
//!
//! Each output starts from its bias and adds the taps in (channel, row,
//! column) order, not the eager kernels' order, so values equal eager's
//! within float32 rounding (what compiled graphs promise).

use super::conv::ConvGeom;
use super::multiversion::with_avx512;
#[cfg(target_arch = "x86_64")]
use super::transpose8x8::transpose8;
use crate::parallel;
use crate::tensor::pool::Scratch;

/// Positions accumulated at once (of 32 vector registers: one more holds
/// the weight vector).
const MAX_RUN: usize = 28;
/// Below this many multiply-adds the convolution runs on one thread.
const PARALLEL_MACS: usize = 1 << 18;

/// Whether this kernel computes `g`: a 2-d layer (the depth dim trivial)
/// with unit column stride and dilation, on a CPU with AVX-512.
pub fn applies(g: &ConvGeom) -> bool {
    cfg!(target_arch = "x86_64")
        && crate::cpu::isa::use_avx512()
        && g.input[0] == 1
        && g.output[0] == 1
        && g.kernel[0] == 1
        && g.pad[0] == 0
        && g.batch > 0
        && g.groups > 0
        && g.c_in.is_multiple_of(g.groups)
        && g.c_out.is_multiple_of(g.groups)
        && g.c_in > 0
        && g.c_out > 0
        && g.output[1] > 0
        && g.output[2] > 0
        && g.kernel[1] > 0
        && g.kernel[2] > 0
        && g.stride[2] == 1
        && g.dilation[2] == 1
        // every read inside the padded plane (the geometry's own sizes)
        && (g.output[1] - 1) * g.stride[1] + (g.kernel[1] - 1) * g.dilation[1] < g.input[1] + 2 * g.pad[1]
        && g.output[2] + g.kernel[2] - 1 <= g.input[2] + 2 * g.pad[2]
}

/// What one run of positions reads: channels, kernel rows and columns, the
/// padded plane's size and the distance between two kernel rows.
#[derive(Clone, Copy)]
struct Taps {
    cgi: usize,
    kh: usize,
    kw: usize,
    plane: usize,
    row_step: usize,
}

/// y (batch, c_out, oh, ow) from x (batch, c_in, ih, iw), w (c_out, cg_in,
/// kh, kw) and the bias; `applies(g)` must hold and `y` hold every output.
pub fn forward(g: &ConvGeom, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let (cgi, cgo) = (g.cg_in(), g.cg_out());
    let lanes = if cgo <= 8 { 8 } else { 16 };
    let blocks = cgo.div_ceil(lanes);
    let kv = g.kernel[1] * g.kernel[2];
    // weights as (group, block, ci, ky, kx, lane), zeros past the group's channels
    let mut wp = vec![0.0f32; g.groups * blocks * cgi * kv * lanes];
    // (without a bias the sums start at +0.0, as the eager ones: a -0.0
    // product gives +0.0)
    let mut bias = vec![0.0f32; g.groups * blocks * lanes];
    for grp in 0..g.groups {
        for co in 0..cgo {
            let (blk, lane) = (co / lanes, co % lanes);
            for ct in 0..cgi * kv {
                wp[((grp * blocks + blk) * cgi * kv + ct) * lanes + lane] =
                    w[(grp * cgo + co) * cgi * kv + ct];
            }
            if let Some(b) = b {
                bias[(grp * blocks + blk) * lanes + lane] = b[grp * cgo + co];
            }
        }
    }
    let per_sample = g.c_out * g.out_plane();
    let threads = parallel::num_threads();
    let per_task = if threads == 1 || g.macs() < PARALLEL_MACS {
        g.batch
    } else {
        g.batch.div_ceil(threads)
    };
    let packed = Packed {
        w: &wp,
        bias: &bias,
        lanes,
        blocks,
    };
    parallel::for_each_chunk_mut(
        &mut y[..g.batch * per_sample],
        per_task * per_sample,
        |t, chunk| {
            with_avx512(
                #[inline(always)]
                || samples(g, &packed, x, t * per_task, chunk),
            );
        },
    );
}

/// Packed weights and biases.
struct Packed<'a> {
    w: &'a [f32],
    bias: &'a [f32],
    lanes: usize,
    blocks: usize,
}

/// The outputs of consecutive samples from `first` on (`y` holds whole samples).
#[inline(always)]
fn samples(g: &ConvGeom, p: &Packed, x: &[f32], first: usize, y: &mut [f32]) {
    let (cgi, cgo, lanes) = (g.cg_in(), g.cg_out(), p.lanes);
    let (ih, iw, ph, pw) = (g.input[1], g.input[2], g.pad[1], g.pad[2]);
    let (hp, wp) = (ih + 2 * ph, iw + 2 * pw);
    let (oh, ow, sh) = (g.output[1], g.output[2], g.stride[1]);
    let (kh, kw) = (g.kernel[1], g.kernel[2]);
    let positions = oh * ow;
    let plane_in = ih * iw;
    let padded = ph > 0 || pw > 0;
    // zeros around each plane stay from the allocation
    let mut xp = Scratch::<f32>::zeroed(if padded { cgi * hp * wp } else { 0 });
    let mut ycl = Scratch::<f32>::uninit(positions * lanes);
    let taps = Taps {
        cgi,
        kh,
        kw,
        plane: hp * wp,
        row_step: g.dilation[1] * wp,
    };
    let wlen = cgi * kh * kw * lanes;
    for (i, yn) in y.chunks_exact_mut(g.c_out * positions).enumerate() {
        let n = first + i;
        for grp in 0..g.groups {
            let xg = &x[(n * g.c_in + grp * cgi) * plane_in..][..cgi * plane_in];
            let src: &[f32] = if padded {
                for (ci, plane) in xg.chunks_exact(plane_in).enumerate() {
                    for (iy, row) in plane.chunks_exact(iw).enumerate() {
                        let at = (ci * hp + iy + ph) * wp + pw;
                        xp[at..at + iw].copy_from_slice(row);
                    }
                }
                &xp
            } else {
                xg
            };
            // the furthest read: the last channel's plane at the last
            // output row's last kernel row, column ow - 1 + kw - 1 < wp
            assert!(src.len() >= cgi * hp * wp && ycl.len() >= positions * lanes);
            for blk in 0..p.blocks {
                let wb = &p.w[(grp * p.blocks + blk) * wlen..][..wlen];
                let bb = &p.bias[(grp * p.blocks + blk) * lanes..][..lanes];
                for oy in 0..oh {
                    let runs = ow.div_ceil(MAX_RUN);
                    let run = ow.div_ceil(runs);
                    let mut ox = 0;
                    while ox < ow {
                        let len = run.min(ow - ox);
                        let xr = &src[oy * sh * wp + ox..];
                        let out = &mut ycl[(oy * ow + ox) * lanes..][..len * lanes];
                        dispatch(lanes, len, xr, wb, bb, taps, out);
                        ox += len;
                    }
                }
                let co0 = grp * cgo + blk * lanes;
                let count = lanes.min(cgo - blk * lanes);
                untranspose(
                    &ycl,
                    positions,
                    lanes,
                    &mut yn[co0 * positions..][..count * positions],
                );
            }
        }
    }
}

/// `ycl` (positions x `lanes`) as channel rows `rows` (count x positions,
/// count <= lanes): 8 x 8 blocks in registers, the tail one by one.
#[inline(always)]
fn untranspose(ycl: &[f32], positions: usize, lanes: usize, rows: &mut [f32]) {
    let count = rows.len() / positions;
    #[cfg(target_arch = "x86_64")]
    let done = {
        assert!(ycl.len() >= positions * lanes && count <= lanes && lanes.is_multiple_of(8));
        let done = positions / 8 * 8;
        for group in 0..count.div_ceil(8) {
            let src: [*const f32; 8] =
                std::array::from_fn(|i| ycl.as_ptr().wrapping_add(i * lanes + group * 8));
            let columns = (count - group * 8).min(8);
            for p in (0..done).step_by(8) {
                // SAFETY: `applies` checked AVX-512; reads end at
                // (p + 7) * lanes + group * 8 + 8 <= positions * lanes, writes
                // at row group * 8 + j < count, positions p..p + 8 <= done.
                unsafe {
                    transpose8(
                        src,
                        p * lanes,
                        rows.as_mut_ptr().add(group * 8 * positions + p),
                        positions,
                        columns,
                    )
                };
            }
        }
        done
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for (c, row) in rows.chunks_exact_mut(positions).enumerate() {
        for (p, v) in row.iter_mut().enumerate().skip(done) {
            *v = ycl[p * lanes + c];
        }
    }
}

/// One run of `len` positions: the kernel for that length and vector width.
fn dispatch(
    lanes: usize,
    len: usize,
    xr: &[f32],
    w: &[f32],
    bias: &[f32],
    t: Taps,
    out: &mut [f32],
) {
    // every read of xr: channel plane, kernel row, column < len + kw - 1
    let reach = (t.cgi - 1) * t.plane + (t.kh - 1) * t.row_step + len + t.kw - 1;
    assert!(
        (1..=MAX_RUN).contains(&len)
            && reach <= xr.len()
            && w.len() >= t.cgi * t.kh * t.kw * lanes
            && bias.len() >= lanes
            && out.len() >= len * lanes
    );
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! go {
            ($f:ident, $($n:literal)*) => {
                match len {
                    $($n => {
                        // SAFETY: `applies` checked AVX-512; the reads and
                        // writes were bounded above.
                        unsafe { $f::<$n>(xr.as_ptr(), w.as_ptr(), bias.as_ptr(), t, out.as_mut_ptr()) }
                    })*
                    _ => unreachable!("runs are 1..=MAX_RUN positions"),
                }
            };
        }
        if lanes == 8 {
            go!(run8, 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28)
        } else {
            go!(run16, 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (xr, w, bias, t, out);
        unreachable!("conv_forward_direct::applies is false off x86_64");
    }
}

/// Generates the kernel for one vector width: `N` positions of one output
/// row, each an accumulator starting at the bias, every tap one weight
/// vector times the broadcast input value.
macro_rules! run_kernel {
    ($name:ident, $lanes:literal, $load:ident, $set1:ident, $fma:ident, $store:ident) => {
        /// # Safety
        /// The CPU has AVX-512 F/VL; `x[ci * plane + ky * row_step + j + kx]`
        /// is readable for every tap and j < N; `w` holds the taps' vectors
        /// (ci, ky, kx); `bias` one vector; `out` N vectors.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn $name<const N: usize>(
            x: *const f32,
            w: *const f32,
            bias: *const f32,
            t: Taps,
            out: *mut f32,
        ) {
            use std::arch::x86_64::*;
            unsafe {
                let b = $load(bias);
                let mut acc = [b; N];
                let mut wk = w;
                for ci in 0..t.cgi {
                    for ky in 0..t.kh {
                        let xr = x.add(ci * t.plane + ky * t.row_step);
                        for kx in 0..t.kw {
                            let wv = $load(wk);
                            wk = wk.add($lanes);
                            let xk = xr.add(kx);
                            for (j, a) in acc.iter_mut().enumerate() {
                                *a = $fma($set1(*xk.add(j)), wv, *a);
                            }
                        }
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    $store(out.add(j * $lanes), *a);
                }
            }
        }
    };
}

run_kernel!(
    run16,
    16,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
run_kernel!(
    run8,
    8,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
