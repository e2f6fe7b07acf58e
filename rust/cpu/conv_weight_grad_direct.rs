//! Weight and bias gradients of a 2-d float32 convolution with few channels,
//! for the fused blocks of `rustdl.compile`'s graphs (`ops::conv_relu_pool`).
//!
//! The eager kernel forms each weight-gradient entry as a dot product of an
//! output-gradient row with a shifted input row, eight positions per vector
//! over rows padded to a multiple of eight (LeNet's 10-wide rows spend 6 of
//! 16 lanes on padding), and sums the lanes of every dot at the end. Here
//! the lanes are output channels instead: one vector holds the output
//! gradient of 8 or 16 channels at one output position, and every kernel
//! tap adds the input value it meets there (one broadcast) times that
//! vector. Each output position is read once for a block of up to
//! `MAX_TAPS` taps, no lane is padding except past the last channel, and
//! no lane sums are needed. The bias gradient is the channels' sums of the
//! same transposed rows.
//!
//! Each sample's sums are added to the running totals (one per task of
//! samples, summed in task order), so results equal the eager kernels'
//! within float32 rounding, not bit for bit (what compiled graphs promise).
//! Where a result is not finite the caller recomputes it with the eager
//! kernels, which define NaN and infinity placement.

use super::conv::ConvGeom;
use super::multiversion::with_avx512;
#[cfg(target_arch = "x86_64")]
use super::transpose8x8::transpose8;
use crate::parallel;

/// Accumulator vectors per pass over the positions (of 32 registers).
const MAX_TAPS: usize = 28;
/// Below this many multiply-adds the gradient runs on one thread.
const PARALLEL_MACS: usize = 1 << 18;

/// Whether this kernel computes the gradients of `g`: a 2-d layer (the depth
/// dim trivial) whose kernel is 3, 5 or 7 wide without column dilation, on
/// a CPU with AVX-512.
pub fn applies(g: &ConvGeom) -> bool {
    cfg!(target_arch = "x86_64")
        && crate::cpu::isa::use_avx512()
        && g.input[0] == 1
        && g.output[0] == 1
        && g.kernel[0] == 1
        && g.pad[0] == 0
        && g.groups > 0
        && g.c_in.is_multiple_of(g.groups)
        && g.c_out.is_multiple_of(g.groups)
        && g.c_out > 0
        && g.output[1] > 0
        && g.output[2] > 0
        && g.kernel[1] > 0
        && matches!(g.kernel[2], 3 | 5 | 7)
        && g.dilation[2] == 1
}

/// Sizes and offsets shared by every sample.
struct Dims {
    cgi: usize,
    cgo: usize,
    ih: usize,
    iw: usize,
    ph: usize,
    pw: usize,
    /// Rows and row length of the (padded) input plane read.
    hp: usize,
    wp: usize,
    kh: usize,
    kw: usize,
    /// Offset of each kernel row's first tap from an output position's base.
    row_offsets: Vec<usize>,
    /// Base offset in the padded plane of each output position (row-major).
    bases: Vec<usize>,
    /// Output channels per vector: 8 or 16.
    lanes: usize,
    /// Channel vectors per group.
    blocks: usize,
}

impl Dims {
    fn new(g: &ConvGeom) -> Dims {
        let (ih, iw, ph, pw) = (g.input[1], g.input[2], g.pad[1], g.pad[2]);
        let (hp, wp) = (ih + 2 * ph, iw + 2 * pw);
        let (oh, ow, sh, sw) = (g.output[1], g.output[2], g.stride[1], g.stride[2]);
        let cgo = g.cg_out();
        let lanes = if cgo <= 8 { 8 } else { 16 };
        Dims {
            cgi: g.cg_in(),
            cgo,
            ih,
            iw,
            ph,
            pw,
            hp,
            wp,
            kh: g.kernel[1],
            kw: g.kernel[2],
            row_offsets: (0..g.kernel[1]).map(|ky| ky * g.dilation[1] * wp).collect(),
            bases: (0..oh)
                .flat_map(|oy| (0..ow).map(move |ox| oy * sh * wp + ox * sw))
                .collect(),
            lanes,
            blocks: cgo.div_ceil(lanes),
        }
    }

    /// Floats of one group's accumulators: per channel vector, the taps of
    /// every input channel, then the bias.
    fn block_len(&self) -> usize {
        (self.cgi * self.kh * self.kw + 1) * self.lanes
    }
}

/// `(gw, gb)`: gw (c_out, cg_in, kh, kw) and gb (c_out) from x (batch,
/// c_in, ih, iw) and gy (batch, c_out, oh, ow); `applies(g)` must hold.
pub fn backward_weight_bias(g: &ConvGeom, x: &[f32], gy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let d = Dims::new(g);
    let part_len = g.groups * d.blocks * d.block_len();
    let threads = parallel::num_threads();
    let tasks = if threads == 1 || g.macs() < PARALLEL_MACS {
        1
    } else {
        threads.min(g.batch).max(1)
    };
    let per_task = g.batch.div_ceil(tasks).max(1);
    let parts = parallel::map_tasks(tasks, |t| {
        let mut part = vec![0.0f32; part_len];
        let samples = (t * per_task).min(g.batch)..((t + 1) * per_task).min(g.batch);
        with_avx512(
            #[inline(always)]
            || accumulate(g, &d, x, gy, samples, &mut part),
        );
        part
    });
    let mut sum = vec![0.0f32; part_len];
    for part in &parts {
        for (s, &p) in sum.iter_mut().zip(part) {
            *s += p;
        }
    }
    // (group, block, ci, tap, lane) -> (co, ci, tap); the bias after the taps
    let kv = d.kh * d.kw;
    let mut gw = vec![0.0f32; g.c_out * d.cgi * kv];
    let mut gb = vec![0.0f32; g.c_out];
    for grp in 0..g.groups {
        for blk in 0..d.blocks {
            let acc = &sum[(grp * d.blocks + blk) * d.block_len()..][..d.block_len()];
            for lane in 0..d.lanes.min(d.cgo - blk * d.lanes) {
                let co = grp * d.cgo + blk * d.lanes + lane;
                for ct in 0..d.cgi * kv {
                    gw[co * d.cgi * kv + ct] = acc[ct * d.lanes + lane];
                }
                gb[co] = acc[d.cgi * kv * d.lanes + lane];
            }
        }
    }
    (gw, gb)
}

/// `rows` (count rows of `positions` values) as `gyt` (positions x `lanes`,
/// zeros in the lanes past `count`): 8 x 8 blocks transposed in registers,
/// the positions past the last full block one by one. `zero_row` holds
/// `positions` zeros (the rows past `count`).
#[inline(always)]
fn transpose_rows(rows: &[f32], positions: usize, lanes: usize, zero_row: &[f32], gyt: &mut [f32]) {
    let count = rows.len() / positions;
    let row = |r: usize| {
        if r < count {
            &rows[r * positions..][..positions]
        } else {
            &zero_row[..positions]
        }
    };
    #[cfg(target_arch = "x86_64")]
    let done = {
        assert!(
            gyt.len() >= positions * lanes
                && lanes.is_multiple_of(8)
                && zero_row.len() >= positions
        );
        let done = positions / 8 * 8;
        for group in 0..lanes / 8 {
            let src: [*const f32; 8] = std::array::from_fn(|i| row(group * 8 + i).as_ptr());
            for p in (0..done).step_by(8) {
                // SAFETY: `applies` checked AVX-512; rows hold `positions`
                // floats and p + 8 <= done <= positions; the 8 stores end at
                // (p + 7) * lanes + group * 8 + 8 <= positions * lanes.
                unsafe {
                    transpose8(
                        src,
                        p,
                        gyt.as_mut_ptr().add(p * lanes + group * 8),
                        lanes,
                        8,
                    )
                };
            }
        }
        done
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for p in done..positions {
        for (c, slot) in gyt[p * lanes..][..lanes].iter_mut().enumerate() {
            *slot = row(c)[p];
        }
    }
}

/// Adds each lane's sum over the positions of `gyt` to `bias` (two running
/// sums per lane, even and odd positions, to halve the add chain).
#[inline(always)]
fn channel_sums(gyt: &[f32], lanes: usize, bias: &mut [f32]) {
    let mut even = [0.0f32; 16];
    let mut odd = [0.0f32; 16];
    let mut pairs = gyt.chunks_exact(2 * lanes);
    for pair in &mut pairs {
        let (a, b) = pair.split_at(lanes);
        for l in 0..lanes {
            even[l] += a[l];
            odd[l] += b[l];
        }
    }
    for (l, &v) in pairs.remainder().iter().enumerate() {
        even[l] += v;
    }
    for (l, b) in bias.iter_mut().enumerate().take(lanes) {
        *b += even[l] + odd[l];
    }
}

/// Adds the samples' contributions to `part` (group, block, ci, tap, lane).
#[inline(always)]
fn accumulate(
    g: &ConvGeom,
    d: &Dims,
    x: &[f32],
    gy: &[f32],
    samples: std::ops::Range<usize>,
    part: &mut [f32],
) {
    let plane_in = d.ih * d.iw;
    let positions = d.bases.len();
    let padded = d.ph > 0 || d.pw > 0;
    let mut xp = vec![0.0f32; if padded { d.cgi * d.hp * d.wp } else { 0 }];
    let mut gyt = vec![0.0f32; positions * d.lanes];
    let zero_row = vec![0.0f32; positions];
    let kv = d.kh * d.kw;
    for n in samples {
        for grp in 0..g.groups {
            let xg = &x[(n * g.c_in + grp * d.cgi) * plane_in..][..d.cgi * plane_in];
            let src: &[f32] = if padded {
                // zeros around each plane stay from the allocation
                for (ci, plane) in xg.chunks_exact(plane_in).enumerate() {
                    for (iy, row) in plane.chunks_exact(d.iw).enumerate() {
                        let at = (ci * d.hp + iy + d.ph) * d.wp + d.pw;
                        xp[at..at + d.iw].copy_from_slice(row);
                    }
                }
                &xp
            } else {
                xg
            };
            let plane = d.hp * d.wp;
            for blk in 0..d.blocks {
                let co0 = grp * d.cgo + blk * d.lanes;
                let count = d.lanes.min(d.cgo - blk * d.lanes);
                let acc = &mut part[(grp * d.blocks + blk) * d.block_len()..][..d.block_len()];
                let (taps, bias) = acc.split_at_mut(d.cgi * kv * d.lanes);
                let gyn = &gy[(n * g.c_out + co0) * positions..][..count * positions];
                transpose_rows(gyn, positions, d.lanes, &zero_row, &mut gyt);
                channel_sums(&gyt, d.lanes, bias);
                for ci in 0..d.cgi {
                    let xc = &src[ci * plane..][..plane];
                    let out = &mut taps[ci * kv * d.lanes..][..kv * d.lanes];
                    kernel_rows(d, &gyt, xc, out);
                }
            }
        }
    }
}

/// One input channel's taps: kernel rows in blocks that fit `MAX_TAPS`.
fn kernel_rows(d: &Dims, gyt: &[f32], xc: &[f32], out: &mut [f32]) {
    let rows_per_pass = (MAX_TAPS / d.kw).min(d.kh);
    let mut ky = 0;
    while ky < d.kh {
        let rows = rows_per_pass.min(d.kh - ky);
        let offs = &d.row_offsets[ky..ky + rows];
        // every read stays inside the plane: the last position's base plus
        // the last row's offset plus kw - 1 (checked once per pass)
        let last = d.bases.last().copied().unwrap_or(0) + offs[rows - 1] + d.kw - 1;
        assert!(last < xc.len() && gyt.len() >= d.bases.len() * d.lanes);
        let out = &mut out[ky * d.kw * d.lanes..][..rows * d.kw * d.lanes];
        dispatch(d.lanes, d.kw, rows, gyt, &d.bases, xc, offs, out);
        ky += rows;
    }
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    lanes: usize,
    kw: usize,
    rows: usize,
    gyt: &[f32],
    bases: &[usize],
    xc: &[f32],
    offs: &[usize],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! go {
            ($f:ident, $r:literal, $kw:literal) => {{
                let offs: [usize; $r] = std::array::from_fn(|r| offs[r]);
                // SAFETY: `applies` checked AVX-512; the caller checked that
                // every read of `xc`, `gyt` and `out` is in bounds.
                unsafe { $f::<$r, $kw>(gyt.as_ptr(), bases, xc.as_ptr(), offs, out.as_mut_ptr()) }
            }};
        }
        macro_rules! by_shape {
            ($f:ident) => {
                match (kw, rows) {
                    (3, 1) => go!($f, 1, 3),
                    (3, 2) => go!($f, 2, 3),
                    (3, 3) => go!($f, 3, 3),
                    (3, 4) => go!($f, 4, 3),
                    (3, 5) => go!($f, 5, 3),
                    (3, 6) => go!($f, 6, 3),
                    (3, 7) => go!($f, 7, 3),
                    (3, 8) => go!($f, 8, 3),
                    (3, _) => go!($f, 9, 3),
                    (5, 1) => go!($f, 1, 5),
                    (5, 2) => go!($f, 2, 5),
                    (5, 3) => go!($f, 3, 5),
                    (5, 4) => go!($f, 4, 5),
                    (5, _) => go!($f, 5, 5),
                    (_, 1) => go!($f, 1, 7),
                    (_, 2) => go!($f, 2, 7),
                    (_, 3) => go!($f, 3, 7),
                    (_, _) => go!($f, 4, 7),
                }
            };
        }
        debug_assert!(kw == 3 && rows <= 9 || kw == 5 && rows <= 5 || kw == 7 && rows <= 4);
        if lanes == 8 {
            by_shape!(taps8)
        } else {
            by_shape!(taps16)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (lanes, kw, rows, gyt, bases, xc, offs, out);
        unreachable!("conv_weight_grad_direct::applies is false off x86_64");
    }
}

/// Generates the kernel for one vector width: `R` kernel rows of `KW` taps,
/// each an accumulator, summed over every output position then added to
/// `out` (tap-major, `LANES` floats per tap).
macro_rules! taps_kernel {
    ($name:ident, $lanes:literal, $vec:ty, $zero:ident, $load:ident, $set1:ident, $fma:ident, $add:ident, $store:ident) => {
        /// # Safety
        /// The CPU has AVX-512 F/VL; `gyt` holds `bases.len() * LANES`
        /// floats; `x[base + offs[r] + k]` is readable for every base, row
        /// and `k < KW`; `out` holds `R * KW * LANES` floats.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn $name<const R: usize, const KW: usize>(
            gyt: *const f32,
            bases: &[usize],
            x: *const f32,
            offs: [usize; R],
            out: *mut f32,
        ) {
            use std::arch::x86_64::*;
            unsafe {
                let mut acc: [[$vec; KW]; R] = [[$zero(); KW]; R];
                for (p, &base) in bases.iter().enumerate() {
                    let gv = $load(gyt.add(p * $lanes));
                    for r in 0..R {
                        let xr = x.add(base + offs[r]);
                        for k in 0..KW {
                            acc[r][k] = $fma($set1(*xr.add(k)), gv, acc[r][k]);
                        }
                    }
                }
                for r in 0..R {
                    for k in 0..KW {
                        let o = out.add((r * KW + k) * $lanes);
                        $store(o, $add($load(o), acc[r][k]));
                    }
                }
            }
        }
    };
}

taps_kernel!(
    taps16,
    16,
    __m512,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_storeu_ps
);
taps_kernel!(
    taps8,
    8,
    __m256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_storeu_ps
);
