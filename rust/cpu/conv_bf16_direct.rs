//! Direct bfloat16 convolutions on `vdpbf16ps` (unit stride along the last
//! spatial dim): no column matrix and no per-call packing of it.
//!
//! `vdpbf16ps` multiplies 16 pairs of bf16 and adds both products of a pair
//! into one float32 lane, so the reduction runs over *pairs* of depths:
//! - Forward (and the stride-1 input gradient, a forward with the flipped
//!   kernel): the input is copied once per sample into a zero-padded buffer
//!   whose 32-bit words hold two input channels at one position. For one
//!   kernel tap and channel pair, 16 consecutive output positions then read
//!   16 consecutive words: one load. Output positions run in the lanes
//!   (two 16-wide segments of output lines), output channels are broadcast
//!   from a packed weight panel (12 or 8 of them), and the float32 tiles
//!   are stored straight into the (channel, position) output.
//! - Weight gradient: the reduction runs over pairs of neighbouring output
//!   positions. gy is packed per sample as words (gy[co, 2j], gy[co, 2j+1])
//!   with 32 output channels in the lanes; each (input channel, tap) line
//!   reads its two inputs as one (unaligned) 32-bit word of the zero-padded
//!   input, broadcast. Sums stay in float32 over each thread's samples.
//!
//! Results are float32 for the op to round once (as PyTorch's oneDNN bf16
//! convolution). Used where the CPU has AVX512_BF16 (`bgemm::path()`), else
//! `conv_bf16`'s column path or the widened float32 kernels run.

use super::conv::{split_batch, sum_over_batch_ranges, ConvGeom};
use super::{gemm::PARALLEL_MACS, isa};
use half::bf16;

/// Lanes per output segment (one zmm of float32).
const LANES: usize = 16;
/// Output channels per weight-gradient tile (two zmm).
const WG_COLS: usize = 32;
/// Lines per weight-gradient tile.
const WG_ROWS: usize = 12;
/// Words read past the last position of a padded buffer by a segment's full
/// 16-word load (or a word read at an odd bf16 offset): zero slack.
const SLACK: usize = 2 * LANES;

/// Whether the direct kernels run this geometry: a `vdpbf16ps` CPU, unit
/// stride along the last dim, and output lines long enough to fill most of
/// a 16-lane segment (8-wide lines would leave half the lanes idle).
pub fn applies(g: &ConvGeom) -> bool {
    let ow = g.output[2];
    cfg!(target_arch = "x86_64")
        && isa::use_avx512_bf16()
        && g.stride[2] == 1
        && ow > 0
        && 4 * ow >= 3 * ow.div_ceil(LANES) * LANES
        && g.cg_out() >= 4
}

/// Whether the direct weight gradient runs: as `applies`, with even output
/// lines (a position pair never straddles two lines) and at least 16 output
/// channels per group (32 lanes).
pub fn weight_grad_applies(g: &ConvGeom) -> bool {
    applies(g) && g.output[2].is_multiple_of(2) && g.cg_out() >= 16
}

/// Zero-padded sizes of one channel (plane) of the input: `dims` and the
/// words (or elements) of one channel.
#[derive(Clone, Copy)]
struct Padded {
    dims: [usize; 3],
    plane: usize,
}

impl Padded {
    fn new(g: &ConvGeom) -> Padded {
        let mut dims = [0; 3];
        for (i, d) in dims.iter_mut().enumerate() {
            *d = g.input[i] + 2 * g.pad[i];
        }
        Padded {
            dims,
            plane: dims.iter().product(),
        }
    }

    /// Offset of padded position (z, y, x).
    fn at(&self, z: usize, y: usize, x: usize) -> usize {
        (z * self.dims[1] + y) * self.dims[2] + x
    }

    /// Offsets of every kernel tap (kz, ky, kx) relative to tap 0.
    fn taps(&self, g: &ConvGeom) -> Vec<usize> {
        let d = g.dilation;
        let mut v = Vec::with_capacity(g.kvol());
        for kz in 0..g.kernel[0] {
            for ky in 0..g.kernel[1] {
                for kx in 0..g.kernel[2] {
                    v.push(self.at(kz * d[0], ky * d[1], kx * d[2]));
                }
            }
        }
        v
    }

    /// Offsets of the first input read by each output line (z, y).
    fn line_starts(&self, g: &ConvGeom) -> Vec<usize> {
        let mut v = Vec::with_capacity(g.output[0] * g.output[1]);
        for z in 0..g.output[0] {
            for y in 0..g.output[1] {
                v.push(self.at(z * g.stride[0], y * g.stride[1], 0));
            }
        }
        v
    }

    /// Copies the interior of each channel of `src` (channels x in_plane)
    /// through `put(dst_offset, src_row)`, row by row.
    fn for_rows(&self, g: &ConvGeom, channels: usize, mut put: impl FnMut(usize, usize, usize)) {
        let [d0, d1, d2] = g.input;
        for c in 0..channels {
            for z in 0..d0 {
                for y in 0..d1 {
                    let dst = c * self.plane + self.at(z + g.pad[0], y + g.pad[1], g.pad[2]);
                    put(c, dst, (z * d1 + y) * d2);
                }
            }
        }
    }
}

/// bf16 pair as one word: `lo` in the low half (the even depth).
#[inline(always)]
fn pair(lo: bf16, hi: bf16) -> u32 {
    lo.to_bits() as u32 | (hi.to_bits() as u32) << 16
}

/// One 16-lane output segment: input offset of its first position (tap 0),
/// output offset, live lanes.
#[derive(Clone, Copy)]
struct Segment {
    input: usize,
    output: usize,
    mask: u16,
}

fn segments(g: &ConvGeom, pad: &Padded) -> Vec<Segment> {
    let ow = g.output[2];
    let mut v = Vec::new();
    for (line, &start) in pad.line_starts(g).iter().enumerate() {
        for x0 in (0..ow).step_by(LANES) {
            let live = (ow - x0).min(LANES);
            v.push(Segment {
                input: start + x0,
                output: line * ow + x0,
                mask: ((1u32 << live) - 1) as u16,
            });
        }
    }
    v
}

/// Output channels per forward tile: 12 unless 8 wastes fewer rows.
fn forward_rows(cgo: usize) -> usize {
    if cgo.div_ceil(8) * 8 < cgo.div_ceil(12) * 12 {
        8
    } else {
        12
    }
}

/// Forward in float32: y (batch, c_out, out_plane) = conv(x, w) + bias.
/// x: (batch, c_in, in_plane), w: (c_out, cg_in, kvol), contiguous bf16.
pub fn forward(g: &ConvGeom, x: &[bf16], w: &[bf16], bias: Option<&[f32]>) -> Vec<f32> {
    forward_as::<f32>(g, x, w, bias)
}

/// The forward rounded to bf16 in the registers (one rounding, as
/// `half::narrow` of `forward`, without the float32 buffer).
pub fn forward_bf16(g: &ConvGeom, x: &[bf16], w: &[bf16], bias: Option<&[f32]>) -> Vec<bf16> {
    forward_as::<bf16>(g, x, w, bias)
}

/// Element types the forward stores: float32, or bf16 rounded as
/// `half::bf16::from_f32` (nearest even; NaN kept quiet).
pub trait OutElem: crate::tensor::storage::BufferElem + Copy + Send + Sync {
    const BF16: bool;
}
impl OutElem for f32 {
    const BF16: bool = false;
}
impl OutElem for bf16 {
    const BF16: bool = true;
}

fn forward_as<O: OutElem>(g: &ConvGeom, x: &[bf16], w: &[bf16], bias: Option<&[f32]>) -> Vec<O> {
    let (p, cgo, cgi, ip, kv) = (g.out_plane(), g.cg_out(), g.cg_in(), g.in_plane(), g.kvol());
    let cp = cgi.div_ceil(2);
    let mr = forward_rows(cgo);
    let tiles = cgo.div_ceil(mr);
    let pad = Padded::new(g);
    let taps = pad.taps(g);
    // depth step q = (channel pair, tap): its word offset in the padded input
    let koff: Vec<usize> = (0..cp)
        .flat_map(|c| taps.iter().map(move |&t| c * pad.plane + t))
        .collect();
    let steps = koff.len();
    // weights per group and tile: [step][mr] pairs (w[co, 2c, t], w[co, 2c+1, t])
    let mut panel = vec![0u32; g.groups * tiles * steps * mr];
    for grp in 0..g.groups {
        for co in 0..cgo {
            let wrow = &w[(grp * cgo + co) * cgi * kv..][..cgi * kv];
            let tile = &mut panel[((grp * tiles) + co / mr) * steps * mr..][..steps * mr];
            for c in 0..cp {
                for t in 0..kv {
                    let lo = wrow[2 * c * kv + t];
                    let hi = if 2 * c + 1 < cgi {
                        wrow[(2 * c + 1) * kv + t]
                    } else {
                        bf16::ZERO
                    };
                    tile[(c * kv + t) * mr + co % mr] = pair(lo, hi);
                }
            }
        }
    }
    let mut bias_pad = vec![0f32; g.groups * tiles * mr];
    if let Some(b) = bias {
        for grp in 0..g.groups {
            bias_pad[grp * tiles * mr..][..cgo].copy_from_slice(&b[grp * cgo..][..cgo]);
        }
    }
    let segs = segments(g, &pad);
    let in_sample = g.c_in * ip;
    let mut y = crate::tensor::pool::uninit_vec::<O>(g.batch * g.c_out * p);
    batch_ranges(g, &mut y, g.c_out * p, |n0, ys, threads| {
        let mut xp = vec![0u32; cp * pad.plane + SLACK];
        for (i, yn) in ys.chunks_mut(g.c_out * p).enumerate() {
            let xn = &x[(n0 + i) * in_sample..][..in_sample];
            for grp in 0..g.groups {
                let xg = &xn[grp * cgi * ip..][..cgi * ip];
                pad.for_rows(g, cp, |c, dst, src| {
                    let w2 = g.input[2];
                    let lo = &xg[2 * c * ip + src..][..w2];
                    let out = &mut xp[dst..dst + w2];
                    if 2 * c + 1 < cgi {
                        let hi = &xg[(2 * c + 1) * ip + src..][..w2];
                        for ((o, &l), &h) in out.iter_mut().zip(lo).zip(hi) {
                            *o = pair(l, h);
                        }
                    } else {
                        for (o, &l) in out.iter_mut().zip(lo) {
                            *o = pair(l, bf16::ZERO);
                        }
                    }
                });
                let yg = &mut yn[grp * cgo * p..][..cgo * p];
                let yptr = SendPtr(yg.as_mut_ptr().cast::<u8>());
                let run_tile = |t: usize| {
                    let a = &panel[(grp * tiles + t) * steps * mr..][..steps * mr];
                    let b = &bias_pad[(grp * tiles + t) * mr..][..mr];
                    let rows = mr.min(cgo - t * mr);
                    // SAFETY: tiles write disjoint channels of yg; every
                    // segment's live lanes lie inside its output line; loads
                    // stay inside xp (SLACK past the last position).
                    unsafe {
                        forward_tile::<O>(mr, a, &koff, &xp, b, &segs, yptr, t * mr, rows, p)
                    };
                };
                if threads > 1 && g.macs() / g.batch.max(1) >= PARALLEL_MACS {
                    crate::parallel::for_each_task(tiles, run_tile);
                } else {
                    (0..tiles).for_each(run_tile);
                }
            }
        }
    });
    y
}

struct SendPtr<T>(*mut T);
// SAFETY: used only for disjoint writes by tasks that end before the owner.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// (A method, so closures capture the whole `SendPtr`.)
    fn get(self) -> *mut T {
        self.0
    }
}

/// Run `f(first_sample, out_chunk, threads_inside)` over the batch ranges
/// of `cpu::conv`'s split (outputs consecutive `per_sample` chunks).
fn batch_ranges<O: Send>(
    g: &ConvGeom,
    out: &mut [O],
    per_sample: usize,
    f: impl Fn(usize, &mut [O], usize) + Sync,
) {
    let (per_task, threads) = split_batch(g);
    if per_sample == 0 || out.is_empty() {
        return;
    }
    if per_task >= g.batch {
        f(0, out, threads);
    } else {
        crate::parallel::for_each_chunk_mut(out, per_task * per_sample, |t, chunk| {
            f(t * per_task, chunk, 1)
        });
    }
}

/// All segments of one tile of output channels `co0..co0+rows`.
#[allow(clippy::too_many_arguments)]
unsafe fn forward_tile<O: OutElem>(
    mr: usize,
    a: &[u32],
    koff: &[usize],
    xp: &[u32],
    bias: &[f32],
    segs: &[Segment],
    y: SendPtr<u8>,
    co0: usize,
    rows: usize,
    plane: usize,
) {
    let last = *koff.last().unwrap_or(&0);
    debug_assert!(segs.iter().all(|s| s.input + last + LANES <= xp.len()));
    let out = y.get().add(co0 * plane * std::mem::size_of::<O>());
    #[cfg(target_arch = "x86_64")]
    {
        let mut pairs = segs.chunks_exact(2);
        for two in &mut pairs {
            if mr == 8 {
                fwd_kernel::<8, 2, O>(a, koff, xp, bias, [two[0], two[1]], out, rows, plane);
            } else {
                fwd_kernel::<12, 2, O>(a, koff, xp, bias, [two[0], two[1]], out, rows, plane);
            }
        }
        for &one in pairs.remainder() {
            if mr == 8 {
                fwd_kernel::<8, 1, O>(a, koff, xp, bias, [one], out, rows, plane);
            } else {
                fwd_kernel::<12, 1, O>(a, koff, xp, bias, [one], out, rows, plane);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (mr, a, koff, xp, bias, segs, out, rows, plane);
}

/// C[MR channels x S segments of 16] = bias + sum over steps of the
/// broadcast weight pairs times the input pairs at `koff[q]`.
///
/// # Safety
/// The CPU has AVX512_BF16; `a` holds `koff.len() * MR` words; every
/// segment's loads are inside `xp`; rows `< rows` of the segments' live
/// lanes are inside the output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bf16,avx512f,avx512bw,avx512vl")]
#[allow(clippy::too_many_arguments)]
unsafe fn fwd_kernel<const MR: usize, const S: usize, O: OutElem>(
    a: &[u32],
    koff: &[usize],
    xp: &[u32],
    bias: &[f32],
    segs: [Segment; S],
    out: *mut u8,
    rows: usize,
    plane: usize,
) {
    use std::arch::x86_64::*;
    // float32 bits rounded to bf16 bits as `half`: nearest even, NaN quiet
    let round = |v: __m512| -> __m256i {
        let x = _mm512_castps_si512(v);
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(x), _mm512_set1_epi32(1));
        let bias = _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff));
        let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(x, bias));
        let abs = _mm512_and_si512(x, _mm512_set1_epi32(0x7fff_ffff));
        let nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
        let quiet = _mm512_or_si512(_mm512_srli_epi32::<16>(x), _mm512_set1_epi32(0x40));
        _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet))
    };
    let mut acc = [[_mm512_setzero_ps(); S]; MR];
    for (i, row) in acc.iter_mut().enumerate() {
        *row = [_mm512_set1_ps(bias[i]); S];
    }
    let bases: [*const u32; S] = std::array::from_fn(|s| xp.as_ptr().add(segs[s].input));
    let mut ap = a.as_ptr();
    for &off in koff {
        let v: [__m512bh; S] = std::array::from_fn(|s| {
            std::mem::transmute(_mm512_loadu_si512(bases[s].add(off) as *const _))
        });
        for (i, row) in acc.iter_mut().enumerate() {
            let w: __m512bh = std::mem::transmute(_mm512_set1_epi32(*ap.add(i) as i32));
            for s in 0..S {
                row[s] = _mm512_dpbf16_ps(row[s], w, v[s]);
            }
        }
        ap = ap.add(MR);
    }
    for (i, row) in acc.iter().enumerate().take(rows) {
        for s in 0..S {
            let at = i * plane + segs[s].output;
            if O::BF16 {
                let p = out.cast::<i16>().add(at);
                _mm256_mask_storeu_epi16(p as *mut _, segs[s].mask, round(row[s]));
            } else {
                _mm512_mask_storeu_ps(out.cast::<f32>().add(at), segs[s].mask, row[s]);
            }
        }
    }
}

/// Weight gradient in float32: gw (c_out, cg_in, kvol) = sum over samples
/// and output positions of gy times the input under each tap.
pub fn backward_weight(g: &ConvGeom, x: &[bf16], gy: &[bf16]) -> Vec<f32> {
    let (p, cgo, cgi, ip, kv) = (g.out_plane(), g.cg_out(), g.cg_in(), g.in_plane(), g.kvol());
    let ow = g.output[2];
    // (even: `weight_grad_applies`)
    let half = ow / 2;
    let pad = Padded::new(g);
    let taps = pad.taps(g);
    let starts = pad.line_starts(g);
    let lines = cgi * kv;
    let (ltiles, cblocks) = (lines.div_ceil(WG_ROWS), cgo.div_ceil(WG_COLS));
    let ld = cblocks * WG_COLS;
    // (line = (channel, tap)) -> element offset of its tap-0 input
    let line_off: Vec<usize> = (0..ltiles * WG_ROWS)
        .map(|l| {
            let l = if l < lines { l } else { 0 };
            (l / kv) * pad.plane + taps[l % kv]
        })
        .collect();
    let steps = starts.len() * half;
    let (in_sample, out_sample) = (g.c_in * ip, g.c_out * p);
    // gw^T per group: (lines padded) x (channels padded), summed over samples
    let per_group = ltiles * WG_ROWS * ld;
    let partial = |range: std::ops::Range<usize>, threads: usize| {
        let mut gwt = vec![0f32; g.groups * per_group];
        let mut xb = vec![bf16::ZERO; cgi * pad.plane + 2 * SLACK];
        let mut gyp = vec![0u32; cblocks * steps * WG_COLS];
        for n in range {
            for grp in 0..g.groups {
                let xg = &x[n * in_sample + grp * cgi * ip..][..cgi * ip];
                pad.for_rows(g, cgi, |c, dst, src| {
                    let w2 = g.input[2];
                    xb[dst..dst + w2].copy_from_slice(&xg[c * ip + src..][..w2]);
                });
                let gyg = &gy[n * out_sample + grp * cgo * p..][..cgo * p];
                for co in 0..cgo {
                    let dst = &mut gyp[(co / WG_COLS) * steps * WG_COLS + co % WG_COLS..];
                    let src = &gyg[co * p..][..p];
                    for (r, line) in src.chunks(ow).enumerate() {
                        for (j, two) in line.chunks_exact(2).enumerate() {
                            dst[(r * half + j) * WG_COLS] = pair(two[0], two[1]);
                        }
                    }
                }
                let out = SendPtr(gwt[grp * per_group..].as_mut_ptr());
                let run_tile = |lt: usize| {
                    let offs: &[usize; WG_ROWS] = line_off[lt * WG_ROWS..][..WG_ROWS]
                        .try_into()
                        .expect("12 lines");
                    for cb in 0..cblocks {
                        let b = &gyp[cb * steps * WG_COLS..][..steps * WG_COLS];
                        // SAFETY: tiles add into disjoint rows of gwt; every
                        // word read lies inside xb (padded rows, SLACK).
                        unsafe {
                            weight_tile(
                                &xb,
                                offs,
                                &starts,
                                half,
                                b,
                                out.get().add(lt * WG_ROWS * ld + cb * WG_COLS),
                                ld,
                            )
                        };
                    }
                };
                if threads > 1 {
                    crate::parallel::for_each_task(ltiles, run_tile);
                } else {
                    (0..ltiles).for_each(run_tile);
                }
            }
        }
        gwt
    };
    let gwt = sum_over_batch_ranges(g, partial);
    let mut gw = vec![0f32; g.c_out * lines];
    for grp in 0..g.groups {
        for co in 0..cgo {
            let dst = &mut gw[(grp * cgo + co) * lines..][..lines];
            for (l, d) in dst.iter_mut().enumerate() {
                *d = gwt[grp * per_group + l * ld + co];
            }
        }
    }
    gw
}

/// Adds one weight-gradient tile (12 lines x 32 channels) of one sample.
unsafe fn weight_tile(
    xb: &[bf16],
    offs: &[usize; WG_ROWS],
    starts: &[usize],
    half: usize,
    b: &[u32],
    out: *mut f32,
    ld: usize,
) {
    debug_assert!(b.len() >= starts.len() * half * WG_COLS);
    debug_assert!(offs
        .iter()
        .all(|&o| o + starts.last().unwrap_or(&0) + 2 * half + 1 < xb.len()));
    #[cfg(target_arch = "x86_64")]
    wg_kernel(xb, offs, starts, half, b, out, ld);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (xb, offs, starts, half, b, out, ld);
}

/// # Safety
/// The CPU has AVX512_BF16; all reads inside `xb` and `b`; `out` holds 12
/// rows of `ld` >= 32 floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bf16,avx512f,avx512bw,avx512vl")]
unsafe fn wg_kernel(
    xb: &[bf16],
    offs: &[usize; WG_ROWS],
    starts: &[usize],
    half: usize,
    b: &[u32],
    out: *mut f32,
    ld: usize,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; WG_ROWS];
    let mut bp = b.as_ptr();
    let lines: [*const half::bf16; WG_ROWS] = std::array::from_fn(|i| xb.as_ptr().add(offs[i]));
    for &start in starts {
        for j in 0..half {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp as *const _));
            let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.add(16) as *const _));
            let at = start + 2 * j;
            for (i, row) in acc.iter_mut().enumerate() {
                let word = (lines[i].add(at) as *const u32).read_unaligned();
                let v: __m512bh = std::mem::transmute(_mm512_set1_epi32(word as i32));
                row[0] = _mm512_dpbf16_ps(row[0], v, b0);
                row[1] = _mm512_dpbf16_ps(row[1], v, b1);
            }
            bp = bp.add(WG_COLS);
        }
    }
    for (i, row) in acc.iter().enumerate() {
        let p = out.add(i * ld);
        _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), row[0]));
        _mm512_storeu_ps(p.add(16), _mm512_add_ps(_mm512_loadu_ps(p.add(16)), row[1]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bf16 store rounds in the registers exactly as `half` rounds the
    /// float32 result (nearest even, inf, NaN), on a layer with partial
    /// segments and idle tile rows.
    #[test]
    fn bf16_store_rounds_as_half() {
        if !isa::use_avx512_bf16() {
            return;
        }
        let g = ConvGeom {
            batch: 2,
            c_in: 5,
            c_out: 13,
            groups: 1,
            input: [1, 6, 21],
            output: [1, 6, 21],
            kernel: [1, 3, 3],
            stride: [1; 3],
            pad: [0, 1, 1],
            dilation: [1; 3],
        };
        let mut x: Vec<bf16> = crate::cpu::test_values::values(g.batch * g.c_in * g.in_plane(), 7)
            .into_iter()
            .map(|v| bf16::from_f64(v * 3.0))
            .collect();
        x[10] = bf16::INFINITY;
        x[200] = bf16::NAN;
        let w: Vec<bf16> = crate::cpu::test_values::values(g.c_out * g.c_in * 9, 8)
            .into_iter()
            .map(bf16::from_f64)
            .collect();
        let bias: Vec<f32> = (0..g.c_out).map(|i| i as f32 * 0.37).collect();
        let wide = forward(&g, &x, &w, Some(&bias));
        let narrow = forward_bf16(&g, &x, &w, Some(&bias));
        for (a, b) in wide.iter().zip(&narrow) {
            assert_eq!(bf16::from_f32(*a).to_bits(), b.to_bits(), "{a}");
        }
    }
}
