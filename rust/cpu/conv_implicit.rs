//! Implicit-GEMM convolution for the layers Winograd does not take (kernels
//! other than 3x3, fewer than 16 channels, strides: first layers, LeNet's
//! 5x5s, conv1d, conv3d, downsampling layers). The GEMM micro-kernel reads its B rows straight
//! from a zero-padded copy of the input, shifted by each kernel tap
//! (`sgemm::kernel::Shifted`), instead of from an im2col matrix: no column
//! matrix is written, packed or read back, and there are no per-line copies
//! (im2col's per-line overhead was most of its time on short lines).
//!
//! The layout that makes this work: in the padded volume (Dp, Hp, Wp), output
//! position (z, y, x) reads padded position (z + a*dd, y + b*dh, x + e*dw) for
//! tap (a, b, e), i.e. flat index q + offset(tap) with q = (z*Hp + y)*Wp + x.
//! Sixteen consecutive q are sixteen consecutive floats for every tap, so a
//! 6x16 tile of outputs (six output channels) is one kernel call. The kernel
//! computes every q of a band of output rows, including the Wp - Wo columns
//! past each row's end, into a band buffer; the valid columns are then copied
//! out with the bias.
//!
//! Strided layers split the padded input into polyphase planes (see `Plan`),
//! where the same holds.
//!
//! The input gradient is the same kind of convolution, of the padded output
//! gradient with the channel-transposed kernel: for stride 1 the flipped
//! kernel (padding d*(k-1) - p); with stride s, one plan per phase of gx
//! (input positions u*s + r), each with the taps that reach it, written
//! interleaved into gx: no column matrix and no col2im scatter. The weight
//! gradient of a layer with small weights is a block of dot products over
//! the padded planes read in place (`WeightGrad`); larger ones stay a GEMM
//! against a column matrix filled from the padded planes (`Columns`). f32 on
//! AVX2+FMA only.

use super::conv::zero_few;
use super::conv::{for_batch_blocks, ConvGeom};
use super::lanes::{copy_few, LANES};
use super::sgemm::kernel::{Shifted, SplitShifted, Tile};
use super::sgemm::NR;
use crate::parallel;
use crate::tensor::pool::Scratch;

/// Floats of one band buffer (output channels x band span): 64 KiB.
const BAND_FLOATS: usize = 16 * 1024;

/// Most input rows one tile may touch (channels x kernel depth x kernel
/// height), about two cache lines each: beyond this the tile's B rows no
/// longer stay in L1 across the output-channel panels, and im2col, which
/// streams them in order, was faster (7x7 input gradient with 64 channels:
/// 37 ms against 30 ms).
const MAX_ROWS_PER_TILE: usize = 256;

/// The micro-kernel of a plan: `mr` output channels per panel times NR (16)
/// consecutive output positions. AVX2: `sgemm`'s 6 x 16; AVX-512: 16 x 16
/// or 8 x 16 (one zmm per channel), whichever pads the channels less. The
/// 16-wide rows keep the tiling of the narrow planes these layers have (a
/// 32-wide tile, as sgemm's AVX-512 kernel has, would waste most of an 8- or
/// 9-wide phase row).
#[derive(Clone, Copy)]
struct RowKernel {
    mr: usize,
    run: unsafe fn(usize, *const f32, Shifted, Tile),
    /// The same kernel on tiles of two output rows of 8 (`Plan::pair_rows`).
    run_pairs: unsafe fn(usize, *const f32, SplitShifted, Tile),
}

impl RowKernel {
    /// The kernel for `rows` output channels at the active ISA level.
    fn for_rows(rows: usize) -> RowKernel {
        #[cfg(target_arch = "x86_64")]
        {
            use super::sgemm::kernel;
            if crate::cpu::isa::use_avx512() && rows >= 8 {
                let mr = if rows.div_ceil(16) * 16 <= rows.div_ceil(8) * 8 {
                    16
                } else {
                    8
                };
                return if mr == 16 {
                    RowKernel {
                        mr,
                        run: kernel::kernel_avx512_x16::<16, Shifted>,
                        run_pairs: kernel::kernel_avx512_x16::<16, SplitShifted>,
                    }
                } else {
                    RowKernel {
                        mr,
                        run: kernel::kernel_avx512_x16::<8, Shifted>,
                        run_pairs: kernel::kernel_avx512_x16::<8, SplitShifted>,
                    }
                };
            }
            RowKernel {
                mr: super::sgemm::MR,
                run: kernel::kernel_6x16::<Shifted>,
                run_pairs: kernel::kernel_6x16::<SplitShifted>,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("the implicit GEMM runs on x86-64 only (`applies`)")
    }
}

/// Whether the implicit GEMM computes the forward of `g`. The caller has
/// already ruled out Winograd, depthwise and pointwise cases.
pub fn applies(g: &ConvGeom) -> bool {
    super::sgemm::is_supported() && g.cg_in() * g.kernel[0] * g.kernel[1] <= MAX_ROWS_PER_TILE
}

/// One convolution of a group: `c_in` source planes of size `src`, padded by
/// `lo_pad` on the low side, to `c_out` planes of size `out`.
///
/// Strided forwards use polyphase planes: with stride s, padded position
/// u*s + r goes to phase plane r at position u, so tap t (dilated: t*d) reads
/// phase (t*d) % s at offset (t*d) / s, and output x reads phase position
/// x + (t*d) / s: consecutive again. Stride 1 has one phase, the padded input.
struct Plan {
    c_in: usize,
    c_out: usize,
    src: [usize; 3],
    out: [usize; 3],
    lo_pad: [usize; 3],
    stride: [usize; 3],
    /// Dims of one phase plane: out + (d * (k - 1)) / s.
    phase: [usize; 3],
    /// Offset of each depth index (channel, tap) in the phase planes.
    offsets: Vec<usize>,
    /// Output rows (y) per band.
    band_rows: usize,
    /// Tile each output row on its own (`band_by_rows`) rather than the
    /// flat span of a band: when that wastes no more columns than the
    /// padded ones of the flat span (rows of 16, 32, ... or wide rows).
    row_tiles: bool,
    /// Tile output rows of 8 (half a tile) two at a time (`band_by_pairs`),
    /// when the padded rows are wider: the flat span computed the padded
    /// columns too and rounded each band up to whole tiles (80 columns for
    /// the 64 outputs of an 8x8 plane with 9-wide phase rows).
    pair_rows: bool,
    /// Where the outputs go.
    layout: OutLayout,
    /// The micro-kernel, and so the weights' panel height (`pack_weights`).
    kernel: RowKernel,
}

/// Where a plan stores output (channel c, z, y, x): `base + c * channel +
/// z * steps[0] + y * steps[1] + x * steps[2]`. Dense planes for a forward;
/// a strided layer's input gradient computes each phase of gx as its own
/// plan and interleaves it into gx this way.
#[derive(Clone, Copy)]
struct OutLayout {
    base: usize,
    channel: usize,
    steps: [usize; 3],
}

impl OutLayout {
    fn dense(out: [usize; 3]) -> OutLayout {
        let [_, oh, ow] = out;
        OutLayout {
            base: 0,
            channel: out.iter().product(),
            steps: [oh * ow, ow, 1],
        }
    }
    fn row(&self, z: usize, y: usize) -> usize {
        self.base + z * self.steps[0] + y * self.steps[1]
    }
}

impl Plan {
    fn new(
        g: &ConvGeom,
        (c_in, c_out): (usize, usize),
        (src, out): ([usize; 3], [usize; 3]),
        lo_pad: [usize; 3],
        stride: [usize; 3],
    ) -> Plan {
        let phase: [usize; 3] =
            std::array::from_fn(|i| out[i] + g.dilation[i] * (g.kernel[i] - 1) / stride[i]);
        let plane = phase.iter().product::<usize>();
        let phases = stride.iter().product::<usize>();
        let [kd, kh, kw] = g.kernel;
        let [dd, dh, dw] = g.dilation;
        let [sd, sh, sw] = stride;
        let mut offsets = Vec::with_capacity(c_in * g.kvol());
        for c in 0..c_in {
            for a in 0..kd {
                for b in 0..kh {
                    for e in 0..kw {
                        let (a, b, e) = (a * dd, b * dh, e * dw);
                        let which = ((a % sd) * sh + b % sh) * sw + e % sw;
                        offsets.push(
                            (c * phases + which) * plane
                                + (a / sd * phase[1] + b / sh) * phase[2]
                                + e / sw,
                        );
                    }
                }
            }
        }
        Plan::with_offsets((c_in, c_out), (src, out), lo_pad, stride, phase, offsets)
    }

    /// A plan whose depth indices read the phase planes at `offsets`.
    fn with_offsets(
        (c_in, c_out): (usize, usize),
        (src, out): ([usize; 3], [usize; 3]),
        lo_pad: [usize; 3],
        stride: [usize; 3],
        phase: [usize; 3],
        offsets: Vec<usize>,
    ) -> Plan {
        let kernel = RowKernel::for_rows(c_out);
        let rows_pad = c_out.div_ceil(kernel.mr) * kernel.mr;
        let band_rows = (BAND_FLOATS / (rows_pad * phase[2]).max(1)).clamp(1, out[1].max(1));
        // Columns computed per valid column: ceil(Wo/16)*16 / Wo against Wp / Wo.
        let row_tiles = out[2].div_ceil(NR) * NR <= phase[2];
        let pair_rows = !row_tiles && out[2] == NR / 2 && phase[2] > out[2];
        // Whole pairs per band (the flat span's bands may be odd).
        let band_rows = if pair_rows && band_rows > 1 {
            band_rows / 2 * 2
        } else {
            band_rows
        };
        Plan {
            c_in,
            c_out,
            src,
            out,
            lo_pad,
            stride,
            phase,
            offsets,
            band_rows,
            row_tiles,
            pair_rows,
            layout: OutLayout::dense(out),
            kernel,
        }
    }

    /// The plan of `g`'s forward (also the weight gradient's, which reads
    /// the same padded input).
    fn forward(g: &ConvGeom) -> Plan {
        Plan::new(
            g,
            (g.cg_in(), g.cg_out()),
            (g.input, g.output),
            g.pad,
            g.stride,
        )
    }

    fn depth(&self) -> usize {
        self.offsets.len()
    }
    /// Floats of all phase planes of one channel.
    fn channel_len(&self) -> usize {
        self.stride.iter().product::<usize>() * self.phase.iter().product::<usize>()
    }
    fn out_plane(&self) -> usize {
        self.out.iter().product()
    }
    /// Input buffer length: the last tile of the last band reads up to 15
    /// floats past the last plane.
    fn padded_len(&self) -> usize {
        self.c_in * self.channel_len() + NR
    }

    /// `dst` = the phase planes of one group's zero-padded source. Each row
    /// is written once: zeros, source values, zeros.
    fn pad_input(&self, src: &[f32], dst: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::isa::use_avx512() && self.stride[2] <= 2 {
            // SAFETY: the CPU has AVX-512 F/BW/VL/DQ, AVX2 and FMA.
            return unsafe { self.pad_input_avx512(src, dst) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::isa::use_avx2() {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { self.pad_input_avx2(src, dst) };
        }
        self.pad_input_with::<false>(src, dst)
    }

    /// `pad_input` with AVX-512, for width strides of 1 and 2: each run of
    /// 16 values of a phase row is two masked loads of the source row (the
    /// lanes outside it read as zeros, so the padding costs nothing), one
    /// permute that picks every `stride`-th value, and one full store (its
    /// spill past the row lands in the next row, written later, or in the
    /// slack, zeroed last: masked stores are slow on Zen 4). The short phase
    /// rows of strided layers (9 values for a 16-wide input) were mostly
    /// edge handling in `write_row`: 20% of a stride-2 forward.
    ///
    /// # Safety
    /// The CPU has AVX-512 F/BW/VL/DQ, AVX2 and FMA; `self.stride[2] <= 2`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
    unsafe fn pad_input_avx512(&self, src: &[f32], dst: &mut [f32]) {
        use std::arch::x86_64::*;
        let [sd, sh, sw] = self.src;
        let [pd, ph, pw] = self.phase;
        let [ld, lh, lw] = self.lo_pad;
        let [td, th, tw] = self.stride;
        let planes = self.c_in * self.channel_len();
        assert!(
            tw <= 2 && dst.len() >= planes + 16 && src.len() >= self.c_in * sd * sh * sw,
            "pad_input: buffers too short"
        );
        // Lanes [lo, hi) of 16, clamped.
        let lanes = |lo: isize, hi: isize| -> __mmask16 {
            let (lo, hi) = (lo.clamp(0, 16) as u32, hi.clamp(0, 16) as u32);
            ((((1u32 << hi) - 1) & !((1u32 << lo) - 1)) & 0xffff) as __mmask16
        };
        if sw <= 16 && pw <= 16 {
            return self.pad_short_rows_avx512(src, dst);
        }
        // Per width phase rx and run u0 of a row: the source column of lane
        // 0, and the lanes of the two loads inside the source row.
        let runs = pw.div_ceil(16);
        let loads: Vec<(isize, __mmask16, __mmask16)> = (0..tw * runs)
            .map(|i| {
                let (rx, u0) = (i / runs, i % runs * 16);
                let s0 = (u0 * tw + rx) as isize - lw as isize;
                let inside = |at: isize| lanes(-at, sw as isize - at);
                (s0, inside(s0), if tw == 2 { inside(s0 + 16) } else { 0 })
            })
            .collect();
        let picks: [i32; 16] = std::array::from_fn(|i| (i * tw) as i32);
        let pick = _mm512_loadu_si512(picks.as_ptr().cast());
        let zero = _mm512_setzero_ps();
        let base = dst.as_mut_ptr();
        let mut next = 0;
        let src_channel = sd * sh * sw;
        for c in 0..self.c_in {
            if c + 1 < self.c_in {
                super::conv_winograd::prefetch_span(&src[(c + 1) * src_channel..][..src_channel]);
            }
            for rz in 0..td {
                for ry in 0..th {
                    for rx in 0..tw {
                        let loads = &loads[rx * runs..][..runs];
                        for uz in 0..pd {
                            let z = (uz * td + rz) as isize - ld as isize;
                            for uy in 0..ph {
                                // SAFETY (stores): rows are written in memory
                                // order, each run's 16 values inside `dst`
                                // (16 values of slack past the last row).
                                let row = base.add(next);
                                next += pw;
                                let y = (uy * th + ry) as isize - lh as isize;
                                if !(0..sd as isize).contains(&z) || !(0..sh as isize).contains(&y)
                                {
                                    for u0 in (0..pw).step_by(16) {
                                        _mm512_storeu_ps(row.add(u0), zero);
                                    }
                                    continue;
                                }
                                let line = src
                                    .as_ptr()
                                    .add(((c * sd + z as usize) * sh + y as usize) * sw);
                                for (run, &(s0, ma, mb)) in loads.iter().enumerate() {
                                    // SAFETY: only lanes inside the source row
                                    // are read (masked-off lanes never fault).
                                    let a = _mm512_maskz_loadu_ps(ma, line.wrapping_offset(s0));
                                    // (most runs of a 16-wide row need none of
                                    // the second load's lanes: skip it)
                                    let b = if mb == 0 {
                                        zero
                                    } else {
                                        _mm512_maskz_loadu_ps(mb, line.wrapping_offset(s0 + 16))
                                    };
                                    let v = _mm512_permutex2var_ps(a, pick, b);
                                    _mm512_storeu_ps(row.add(run * 16), v);
                                }
                            }
                        }
                    }
                }
            }
        }
        dst[planes..].fill(0.0);
    }

    /// `pad_input_avx512` for source and phase rows of at most 16 values
    /// (a 16-wide input at stride 2: phase rows of 9): each phase row is
    /// one load of its source row, one permute that picks the row's columns
    /// of this width phase and zeroes the padding lanes, and one store. The
    /// general loop's two masked loads and two-source permute per row, with
    /// its per-run bookkeeping, were 15% of a stride-2 forward's time.
    ///
    /// # Safety
    /// As `pad_input_avx512`, with source and phase rows of at most 16.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
    unsafe fn pad_short_rows_avx512(&self, src: &[f32], dst: &mut [f32]) {
        use std::arch::x86_64::*;
        let [sd, sh, sw] = self.src;
        let [pd, ph, pw] = self.phase;
        let [ld, lh, lw] = self.lo_pad;
        let [td, th, tw] = self.stride;
        let planes = self.c_in * self.channel_len();
        assert!(
            sw <= 16
                && pw <= 16
                && dst.len() >= planes + 16
                && src.len() >= self.c_in * sd * sh * sw,
            "pad_input: buffers too short"
        );
        // Per width phase rx: lane u takes source column u*tw + rx - lw,
        // where that is inside the row (other lanes are zero).
        let phases: Vec<(__m512i, __mmask16)> = (0..tw)
            .map(|rx| {
                let mut idx = [0i32; 16];
                let mut valid: u32 = 0;
                for (u, ix) in idx.iter_mut().enumerate().take(pw) {
                    let col = (u * tw + rx) as isize - lw as isize;
                    if (0..sw as isize).contains(&col) {
                        *ix = col as i32;
                        valid |= 1 << u;
                    }
                }
                (_mm512_loadu_si512(idx.as_ptr().cast()), valid as __mmask16)
            })
            .collect();
        let row_lanes = ((1u32 << sw) - 1) as __mmask16;
        let zero = _mm512_setzero_ps();
        let base = dst.as_mut_ptr();
        let mut next = 0;
        let src_channel = sd * sh * sw;
        for c in 0..self.c_in {
            if c + 1 < self.c_in {
                super::conv_winograd::prefetch_span(&src[(c + 1) * src_channel..][..src_channel]);
            }
            for rz in 0..td {
                for ry in 0..th {
                    for &(idx, valid) in &phases {
                        for uz in 0..pd {
                            let z = (uz * td + rz) as isize - ld as isize;
                            let z_inside = (0..sd as isize).contains(&z);
                            for uy in 0..ph {
                                // SAFETY (stores): rows are written in memory
                                // order, each one's 16 values inside `dst`
                                // (16 values of slack past the last row); the
                                // lanes past a row land in the next, written
                                // later.
                                let row = base.add(next);
                                next += pw;
                                let y = (uy * th + ry) as isize - lh as isize;
                                if !z_inside || !(0..sh as isize).contains(&y) {
                                    _mm512_storeu_ps(row, zero);
                                    continue;
                                }
                                let line = src
                                    .as_ptr()
                                    .add(((c * sd + z as usize) * sh + y as usize) * sw);
                                // SAFETY: only the row's sw values are read.
                                let v = _mm512_maskz_loadu_ps(row_lanes, line);
                                _mm512_storeu_ps(row, _mm512_maskz_permutexvar_ps(valid, idx, v));
                            }
                        }
                    }
                }
            }
        }
        dst[planes..].fill(0.0);
    }

    /// `pad_input` with AVX2: a width stride of 2 splits rows with shuffles.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pad_input_avx2(&self, src: &[f32], dst: &mut [f32]) {
        self.pad_input_with::<true>(src, dst)
    }

    #[inline(always)]
    fn pad_input_with<const AVX2: bool>(&self, src: &[f32], dst: &mut [f32]) {
        let [sd, sh, sw] = self.src;
        let [pd, ph, pw] = self.phase;
        let [ld, lh, lw] = self.lo_pad;
        let [td, th, tw] = self.stride;
        let planes = self.c_in * self.channel_len();
        assert!(
            dst.len() >= planes + LANES && src.len() >= self.c_in * sd * sh * sw,
            "pad_input: buffers too short"
        );
        let base = dst.as_mut_ptr();
        let mut next = 0;
        // Phase position u of phase r holds source index u*s + r - lo_pad.
        let src_channel = sd * sh * sw;
        for c in 0..self.c_in {
            if c + 1 < self.c_in {
                super::conv_winograd::prefetch_span(&src[(c + 1) * src_channel..][..src_channel]);
            }
            for rz in 0..td {
                for ry in 0..th {
                    for rx in 0..tw {
                        // Phase positions x whose source column is inside.
                        let shift = rx as isize - lw as isize;
                        let (lo, hi) = super::conv::valid_range(pw, sw, tw, shift);
                        for uz in 0..pd {
                            let z = (uz * td + rz) as isize - ld as isize;
                            for uy in 0..ph {
                                // SAFETY: rows are written in memory order,
                                // c_in * channel_len / pw of them: inside
                                // `dst`, and a row's spill (write_row) lands
                                // in the next row, written later, or in the
                                // slack (LANES at least), zeroed last.
                                let row = unsafe { base.add(next) };
                                next += pw;
                                let y = (uy * th + ry) as isize - lh as isize;
                                if !(0..sd as isize).contains(&z)
                                    || !(0..sh as isize).contains(&y)
                                    || lo >= hi
                                {
                                    // SAFETY: as above.
                                    unsafe { zero_few(row, pw) };
                                    continue;
                                }
                                let line = ((c * sd + z as usize) * sh + y as usize) * sw;
                                let first = line + ((lo * tw) as isize + shift) as usize;
                                // SAFETY: lo <= hi <= pw, valid_range keeps
                                // first + (hi-lo-1)*tw inside the line, and
                                // src.len() - first values are readable.
                                unsafe {
                                    write_row::<AVX2>(
                                        (row, pw),
                                        (lo, hi),
                                        (src.as_ptr().add(first), src.len() - first),
                                        tw,
                                    )
                                };
                            }
                        }
                    }
                }
            }
        }
        dst[planes..].fill(0.0);
    }

    /// Bands of output rows: (z, y0, y1).
    fn bands(&self) -> Vec<(usize, usize, usize)> {
        let [od, oh, _] = self.out;
        (0..od)
            .flat_map(|z| {
                (0..oh)
                    .step_by(self.band_rows)
                    .map(move |y0| (z, y0, (y0 + self.band_rows).min(oh)))
            })
            .collect()
    }

    /// One band: out[co, z, y0..y1, :] = (sum over depth of w * shifted
    /// input) + bias. `out` is the group's whole output (c_out x out_plane),
    /// written only inside the band.
    ///
    /// # Safety
    /// `xp` holds `padded_len()` floats, `w` the packed weights
    /// (`pack_weights`), and `out` c_out x out_plane floats; the CPU has AVX2
    /// and FMA (`applies`).
    #[cfg(target_arch = "x86_64")]
    unsafe fn band(
        &self,
        xp: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        (z, y0, y1): (usize, usize, usize),
        out: *mut f32,
    ) {
        let [_, ph, pw] = self.phase;
        let ow = self.out[2];
        if self.row_tiles {
            return self.band_by_rows(xp, w, bias, (z, y0, y1), out);
        }
        if self.pair_rows && self.layout.steps[2] == 1 && self.layout.steps[1] == ow {
            return self.band_by_pairs(xp, w, bias, (z, y0, y1), out);
        }
        let mr = self.kernel.mr;
        let panels = self.c_out.div_ceil(mr);
        let first = (z * ph + y0) * pw;
        // Band buffer rows: the flat span of the band (output row y at
        // (y - y0) * pw), or, pairing rows, the output rows back to back.
        let (span, line) = if self.pair_rows {
            ((y1 - y0) * ow, ow)
        } else {
            ((y1 - y0 - 1) * pw + ow, pw)
        };
        let stride = span.div_ceil(NR) * NR;
        let mut c = Scratch::<f32>::uninit(panels * mr * stride);
        let cp = c.as_mut_ptr();
        let at = |t: usize| {
            move |panel: usize, first_slice: bool| Tile {
                ptr: cp.add(panel * mr * stride + t),
                rs: stride as isize,
                cs: 1,
                rows: mr,
                cols: NR,
                overwrite: first_slice,
                epilogue: crate::cpu::sgemm::kernel::Epilogue::NONE,
            }
        };
        if self.pair_rows {
            for y in (y0..y1).step_by(2) {
                let (base, t) = (xp.as_ptr().add(first + (y - y0) * pw), (y - y0) * ow);
                if y + 1 < y1 {
                    self.tile_column_pairs(base, pw, w, at(t));
                } else {
                    // A last odd row: its 16 columns are its 8 outputs and
                    // the padded ones after them (the buffer's slack).
                    self.tile_column(base, w, at(t));
                }
            }
        } else {
            for t in (0..span).step_by(NR) {
                self.tile_column(xp.as_ptr().add(first + t), w, at(t));
            }
        }
        let (layout, step) = (self.layout, self.layout.steps[2]);
        for co in 0..self.c_out {
            let b = bias.map_or(0.0, |b| b[co]);
            for y in y0..y1 {
                let src = &c[co * stride + (y - y0) * line..][..ow];
                let dst = out.add(co * layout.channel + layout.row(z, y));
                if step == 1 {
                    let dst = std::slice::from_raw_parts_mut(dst, ow);
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = s + b;
                    }
                } else {
                    for (x, &s) in src.iter().enumerate() {
                        *dst.add(x * step) = s + b;
                    }
                }
            }
        }
    }
}

/// One padded row of `len` values: zeros, `hi - lo` source values `stride`
/// apart from `src`, zeros. Rows are 8-40 values, so no memset/memcpy calls
/// (their call overhead was most of the padding time). With `AVX2` a stride
/// of 2 takes the even values of 16 with two shuffles, 8 per store: the
/// value-by-value gather cost 17% of a stride-2 forward.
///
/// # Safety
/// `lo <= hi <= len`; `row` is writable for `len` values, and for 7 more
/// that are written again later; `src` is readable for `readable` values,
/// among them every `(j - lo) * stride` for j in lo..hi; with `AVX2`, the
/// CPU has AVX2.
#[inline(always)]
unsafe fn write_row<const AVX2: bool>(
    (row, len): (*mut f32, usize),
    (lo, hi): (usize, usize),
    (src, readable): (*const f32, usize),
    stride: usize,
) {
    zero_few(row, lo);
    let (dst, n) = (row.add(lo), hi - lo);
    if stride == 1 {
        copy_few(dst, src, n);
    } else {
        let mut j = 0;
        #[cfg(target_arch = "x86_64")]
        if AVX2 && stride == 2 {
            use std::arch::x86_64::*;
            // The last block may store up to 7 values past hi: zeroed
            // below, or past the row (the caller's slack).
            while j < n && 2 * j + 2 * LANES <= readable {
                let (a, b) = (
                    _mm256_loadu_ps(src.add(2 * j)),
                    _mm256_loadu_ps(src.add(2 * j + LANES)),
                );
                let even = _mm256_castpd_ps(_mm256_permute4x64_pd(
                    _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)),
                    0xD8,
                ));
                _mm256_storeu_ps(dst.add(j), even);
                j += LANES;
            }
        }
        for j in j..n {
            *dst.add(j) = *src.add(j * stride);
        }
    }
    zero_few(row.add(hi), len - hi);
}

impl Plan {
    /// `band` for wide rows: tiles start at each output row's start and are
    /// stored straight into the output (partial tiles at row ends), with no
    /// band buffer to copy out. With bias, the rows are filled with it first
    /// and the tiles accumulate.
    ///
    /// # Safety
    /// As for `band`.
    #[cfg(target_arch = "x86_64")]
    unsafe fn band_by_rows(
        &self,
        xp: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        (z, y0, y1): (usize, usize, usize),
        out: *mut f32,
    ) {
        let [_, ph, pw] = self.phase;
        let (ow, mr) = (self.out[2], self.kernel.mr);
        let (layout, step) = (self.layout, self.layout.steps[2]);
        for y in y0..y1 {
            let (first, row) = ((z * ph + y) * pw, layout.row(z, y));
            if let Some(b) = bias {
                for (co, &bv) in b[..self.c_out].iter().enumerate() {
                    let dst = out.add(co * layout.channel + row);
                    (0..ow).for_each(|x| *dst.add(x * step) = bv);
                }
            }
            for x0 in (0..ow).step_by(NR) {
                self.tile_column(xp.as_ptr().add(first + x0), w, |panel, first_slice| Tile {
                    ptr: out.add(panel * mr * layout.channel + row + x0 * step),
                    rs: layout.channel as isize,
                    cs: step as isize,
                    rows: mr.min(self.c_out - panel * mr),
                    cols: NR.min(ow - x0),
                    overwrite: first_slice && bias.is_none(),
                    epilogue: crate::cpu::sgemm::kernel::Epilogue::NONE,
                });
            }
        }
    }
}

impl Plan {
    /// One column of 16 outputs at padded position `base` (channel 0), for
    /// every output-channel panel and depth slice (`sgemm::depth_slice`: the
    /// tile's B rows stay in L1 across the panels); `tile(panel, first_slice)`
    /// says where each 6 x 16 result goes.
    ///
    /// # Safety
    /// As for `band`; every tile is inside its buffer.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    unsafe fn tile_column(&self, base: *const f32, w: &[f32], tile: impl Fn(usize, bool) -> Tile) {
        let depth = self.depth();
        let slice = super::sgemm::depth_slice(depth);
        for k0 in (0..depth).step_by(slice) {
            let rows = Shifted {
                base,
                offsets: self.offsets.as_ptr().add(k0),
            };
            let mr = self.kernel.mr;
            for panel in 0..self.c_out.div_ceil(mr) {
                let a = w.as_ptr().add((panel * depth + k0) * mr);
                (self.kernel.run)(slice.min(depth - k0), a, rows, tile(panel, k0 == 0));
            }
        }
    }
}

impl Plan {
    /// `band` for rows of 8 paired (`pair_rows`) into dense output rows: two
    /// rows are 16 consecutive outputs, so the tiles are stored straight into
    /// the output (with bias, the rows are filled with it first and the
    /// tiles accumulate), with no band buffer to copy out.
    ///
    /// # Safety
    /// As for `band`; the layout's rows are dense (`ow` apart, step 1).
    #[cfg(target_arch = "x86_64")]
    unsafe fn band_by_pairs(
        &self,
        xp: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        (z, y0, y1): (usize, usize, usize),
        out: *mut f32,
    ) {
        let [_, ph, pw] = self.phase;
        let (ow, mr, layout) = (self.out[2], self.kernel.mr, self.layout);
        if let Some(b) = bias {
            for (co, &bv) in b[..self.c_out].iter().enumerate() {
                let dst = out.add(co * layout.channel + layout.row(z, y0));
                std::slice::from_raw_parts_mut(dst, (y1 - y0) * ow).fill(bv);
            }
        }
        for y in (y0..y1).step_by(2) {
            let base = xp.as_ptr().add((z * ph + y) * pw);
            let cols = if y + 1 < y1 { 2 * ow } else { ow };
            let tile = |panel: usize, first_slice: bool| Tile {
                ptr: out.add(panel * mr * layout.channel + layout.row(z, y)),
                rs: layout.channel as isize,
                cs: 1,
                rows: mr.min(self.c_out - panel * mr),
                cols,
                overwrite: first_slice && bias.is_none(),
                epilogue: crate::cpu::sgemm::kernel::Epilogue::NONE,
            };
            if y + 1 < y1 {
                self.tile_column_pairs(base, pw, w, tile);
            } else {
                // A last odd row: the first 8 of a plain 16-column tile.
                self.tile_column(base, w, tile);
            }
        }
    }

    /// `tile_column` for two output rows of 8 (`pair_rows`): the tile's
    /// columns are 8 at `base` and 8 at `base + gap` (the next row).
    ///
    /// # Safety
    /// As for `tile_column`.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    unsafe fn tile_column_pairs(
        &self,
        base: *const f32,
        gap: usize,
        w: &[f32],
        tile: impl Fn(usize, bool) -> Tile,
    ) {
        let depth = self.depth();
        let slice = super::sgemm::depth_slice(depth);
        let mr = self.kernel.mr;
        for k0 in (0..depth).step_by(slice) {
            let rows = SplitShifted {
                base,
                offsets: self.offsets.as_ptr().add(k0),
                gap,
            };
            for panel in 0..self.c_out.div_ceil(mr) {
                let a = w.as_ptr().add((panel * depth + k0) * mr);
                (self.kernel.run_pairs)(slice.min(depth - k0), a, rows, tile(panel, k0 == 0));
            }
        }
    }
}

/// Panels of `mr` output channels (the plan's kernel), depth-major (`mr`
/// values per depth index), zero rows past `rows`: the micro-kernel's A
/// operand.
fn pack_weights(mr: usize, rows: usize, depth: usize, w: impl Fn(usize, usize) -> f32) -> Vec<f32> {
    let panels = rows.div_ceil(mr);
    let mut packed = vec![0.0; panels * mr * depth];
    for panel in 0..panels {
        for k in 0..depth {
            for i in 0..mr.min(rows - panel * mr) {
                packed[(panel * depth + k) * mr + i] = w(panel * mr + i, k);
            }
        }
    }
    packed
}

/// Run `plans` on every sample and group of `g`'s batch: `src` (batch,
/// groups x c_in planes) to `out` (batch, groups x c_out planes of the
/// plans' layout); `weights[plan][grp]` packed. All plans read the same
/// padded source (one `pad_input` per sample and group) and write disjoint
/// outputs. The batch is split over threads in blocks of samples
/// (`conv::for_batch_blocks`); a batch too small to split has each sample's
/// bands split instead.
fn run(
    g: &ConvGeom,
    plans: &[Plan],
    src: &[f32],
    weights: &[Vec<Vec<f32>>],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let Some(first) = plans.first() else { return };
    let src_group = first.c_in * first.src.iter().product::<usize>();
    let out_group = first.c_out * first.layout.channel;
    let (src_sample, out_sample) = (g.groups * src_group, g.groups * out_group);
    let bands: Vec<(usize, (usize, usize, usize))> = (plans.iter().enumerate())
        .flat_map(|(i, plan)| plan.bands().into_iter().map(move |band| (i, band)))
        .collect();
    for_batch_blocks(g, out, out_sample, |n0, outs, threads| {
        let mut xp = Scratch::<f32>::uninit(first.padded_len());
        for (i, out_n) in outs.chunks_mut(out_sample).enumerate() {
            for grp in 0..g.groups {
                let xs = &src[(n0 + i) * src_sample + grp * src_group..][..src_group];
                first.pad_input(xs, &mut xp);
                // Each band writes its own rows of the group's output.
                let out_g = parallel::SendPtr(out_n[grp * out_group..][..out_group].as_mut_ptr());
                let b = bias.map(|b| &b[grp * first.c_out..]);
                // SAFETY: buffers sized by the plans; `applies` checked the CPU.
                let one = |&(p, band): &(usize, (usize, usize, usize))| unsafe {
                    #[cfg(target_arch = "x86_64")]
                    plans[p].band(&xp, &weights[p][grp], b, band, { out_g }.0);
                };
                if threads > 1 {
                    parallel::for_each_task(bands.len(), |i| one(&bands[i]));
                } else {
                    bands.iter().for_each(one);
                }
            }
        }
    });
}

/// Forward: y (batch, c_out, out_plane) = conv(x, w) + bias, overwriting `y`.
pub fn forward(g: &ConvGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let (cgo, kk) = (g.cg_out(), g.col_rows());
    let plan = Plan::forward(g);
    let weights: Vec<Vec<f32>> = (0..g.groups)
        .map(|grp| {
            pack_weights(plan.kernel.mr, cgo, kk, |co, k| {
                w[(grp * cgo + co) * kk + k]
            })
        })
        .collect();
    run(g, &[plan], x, &[weights], bias, y);
}

/// The taps of one dim that reach input phase r (input index u*s + r):
/// gx[u*s + r] = sum over them of w[t] gy[u + k], as (t, k). From output o
/// reading input o*s + t*d - p: equal to u*s + r when t*d - p - r is a
/// multiple of s, with k = (r + p - t*d) / s.
fn phase_taps(g: &ConvGeom, dim: usize, r: usize) -> Vec<(usize, isize)> {
    let (s, d, p) = (
        g.stride[dim] as isize,
        g.dilation[dim] as isize,
        g.pad[dim] as isize,
    );
    (0..g.kernel[dim])
        .filter_map(|t| {
            let shift = r as isize + p - t as isize * d;
            (shift.rem_euclid(s) == 0).then_some((t, shift / s))
        })
        .collect()
}

/// Input positions of phase r in a dim of `n`: u*s + r < n.
fn phase_len(n: usize, s: usize, r: usize) -> usize {
    n.saturating_sub(r).div_ceil(s)
}

/// The input gradient as one plan per phase of gx (every combination of
/// residues modulo the stride; stride 1 has one, the whole of gx): each a
/// stride-1 convolution of the padded output gradient with the taps that
/// reach the phase (`phase_taps`), its channels transposed, written
/// interleaved into gx (`OutLayout`). No column matrix, and no col2im
/// scatter. Phases no tap reaches are not planned: gx is zero there.
/// Returns the plans and, per plan, the kernel taps its depth indices read.
fn input_grad_plans(g: &ConvGeom) -> Vec<(Plan, Vec<usize>)> {
    let (cgi, cgo) = (g.cg_in(), g.cg_out());
    let taps: [Vec<Vec<(usize, isize)>>; 3] =
        std::array::from_fn(|i| (0..g.stride[i]).map(|r| phase_taps(g, i, r)).collect());
    // Padding of gy: low enough for the most negative k, high enough for
    // the last position of every phase.
    let lo: [usize; 3] = std::array::from_fn(|i| {
        let min_k = taps[i].iter().flatten().map(|&(_, k)| k).min().unwrap_or(0);
        (-min_k).max(0) as usize
    });
    let padded: [usize; 3] = std::array::from_fn(|i| {
        let ends = (0..g.stride[i]).flat_map(|r| {
            let len = phase_len(g.input[i], g.stride[i], r) as isize;
            taps[i][r]
                .iter()
                .map(move |&(_, k)| (len + k) as usize + lo[i])
        });
        ends.fold(g.output[i] + lo[i], usize::max)
    });
    let plane: usize = padded.iter().product();
    let [_, ih, iw] = g.input;
    let [sd, sh, sw] = g.stride;
    let mut plans = Vec::new();
    for rz in 0..sd {
        for ry in 0..sh {
            for rx in 0..sw {
                let r = [rz, ry, rx];
                let out: [usize; 3] =
                    std::array::from_fn(|i| phase_len(g.input[i], g.stride[i], r[i]));
                // (kernel tap, offset in a padded plane) of every tap reaching r.
                let mut reach = Vec::new();
                for &(tz, kz) in &taps[0][rz] {
                    for &(ty, ky) in &taps[1][ry] {
                        for &(tx, kx) in &taps[2][rx] {
                            let at = |k: isize, i: usize| (k + lo[i] as isize) as usize;
                            let off = (at(kz, 0) * padded[1] + at(ky, 1)) * padded[2] + at(kx, 2);
                            reach.push(((tz * g.kernel[1] + ty) * g.kernel[2] + tx, off));
                        }
                    }
                }
                // In memory order (for stride 1: the flipped kernel's).
                reach.sort_unstable_by_key(|&(_, off)| off);
                if reach.is_empty() || out.contains(&0) {
                    continue;
                }
                let offsets = (0..cgo)
                    .flat_map(|co| reach.iter().map(move |&(_, off)| co * plane + off))
                    .collect();
                let mut plan =
                    Plan::with_offsets((cgo, cgi), (g.output, out), lo, [1; 3], padded, offsets);
                plan.layout = OutLayout {
                    base: (rz * ih + ry) * iw + rx,
                    channel: g.in_plane(),
                    steps: [sd * ih * iw, sh * iw, sw],
                };
                plans.push((plan, reach.iter().map(|&(tap, _)| tap).collect()));
            }
        }
    }
    plans
}

/// Whether the implicit GEMM computes the input gradient (`input_grad_plans`):
/// each phase's tiles read at most `MAX_ROWS_PER_TILE` rows, as a forward's.
pub fn applies_backward_input(g: &ConvGeom) -> bool {
    let rows = |i: usize| {
        (0..g.stride[i])
            .map(|r| phase_taps(g, i, r).len())
            .max()
            .unwrap_or(0)
    };
    super::sgemm::is_supported() && g.cg_out() * rows(0) * rows(1) <= MAX_ROWS_PER_TILE
}

/// Input gradient: gx (batch, c_in, in_plane) from gy, overwriting `gx`.
pub fn backward_input(g: &ConvGeom, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    let (cgi, cgo, kv) = (g.cg_in(), g.cg_out(), g.kvol());
    let plans = input_grad_plans(g);
    let reached: usize = plans.iter().map(|(p, _)| p.out_plane()).sum();
    if reached < g.in_plane() {
        gx.fill(0.0);
    }
    let weights: Vec<Vec<Vec<f32>>> = (plans.iter())
        .map(|(plan, taps)| {
            (0..g.groups)
                .map(|grp| {
                    pack_weights(plan.kernel.mr, cgi, cgo * taps.len(), |ci, k| {
                        let (co, tap) = (k / taps.len(), taps[k % taps.len()]);
                        w[((grp * cgo + co) * cgi + ci) * kv + tap]
                    })
                })
                .collect()
        })
        .collect();
    let plans: Vec<Plan> = plans.into_iter().map(|(plan, _)| plan).collect();
    run(g, &plans, gy, &weights, None, gx);
}

/// im2col for the weight gradient, read from the padded (phase) planes: the
/// column tile of output lines `l0..l1` in `conv::im2col`'s layout (one row
/// per depth index, (l1 - l0) * Wo wide). There every line is a single
/// contiguous copy, with none of im2col's per-line padding logic (lines of
/// 10-28 values made that logic most of im2col's time).
pub struct Columns {
    plan: Plan,
    xp: Scratch<f32>,
}

impl Columns {
    pub fn new(g: &ConvGeom) -> Columns {
        let plan = Plan::forward(g);
        let xp = Scratch::uninit(plan.padded_len());
        Columns { plan, xp }
    }

    /// Pad one group's input (cg_in x in_plane) for the following `fill`s.
    pub fn load(&mut self, xg: &[f32]) {
        self.plan.pad_input(xg, &mut self.xp);
    }

    pub fn fill(&self, (l0, l1): (usize, usize), cols: &mut [f32]) {
        let [_, oh, ow] = self.plan.out;
        assert!(
            l0 <= l1
                && l1 <= self.plan.out[0] * oh
                && cols.len() >= self.plan.depth() * (l1 - l0) * ow,
            "implicit columns: tile outside the geometry"
        );
        // SAFETY: `applies` checked AVX2; the assert bounds the writes, and
        // every read is of a padded position some output reads.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            fill_lines(&self.plan, &self.xp, (l0, l1), cols)
        }
    }
}

/// # Safety
/// AVX2 is available; `cols` holds depth x (l1 - l0) * Wo floats and the
/// lines are inside the output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_lines(plan: &Plan, xp: &[f32], (l0, l1): (usize, usize), cols: &mut [f32]) {
    let [_, ph, pw] = plan.phase;
    let [_, oh, ow] = plan.out;
    let width = (l1 - l0) * ow;
    let (z0, y0) = (l0 / oh.max(1), l0 % oh.max(1));
    for (k, &off) in plan.offsets.iter().enumerate() {
        let dst = cols.as_mut_ptr().add(k * width);
        let (mut z, mut y) = (z0, y0);
        for l in 0..l1 - l0 {
            copy_few(
                dst.add(l * ow),
                xp.as_ptr().add(off + (z * ph + y) * pw),
                ow,
            );
            y += 1;
            if y == oh {
                (y, z) = (0, z + 1);
            }
        }
    }
}

/// The weight gradient from the padded (phase) planes, with no column matrix:
/// gw[co][k] = sum over output positions q of gy[co][q] * xp[offset(k) + q],
/// where q runs over each output depth slice's rows at the padded width
/// (the columns past each row's end, and a tail rounding a slice to 8, see
/// a zero gradient). Both operands of every dot product are contiguous runs
/// of memory read in place: no im2col, and none of a GEMM's packing, which
/// for these small-m, small-n, long-k products cost as much as the
/// multiply-adds. (A non-finite input value read only by those padding
/// columns turns its tap's gradient into NaN, where it would be finite.)
pub struct WeightGrad {
    plan: Plan,
    /// Samples padded at once: their dot products run as one, so the
    /// per-block set-up and final sums are paid once per chunk (single
    /// samples of a small layer made dots of only ~100 floats).
    chunk: usize,
    xp: Scratch<f32>,
    /// gy at the padded width, per sample: c_out rows of `od` x `slice`.
    gyp: Scratch<f32>,
    /// Floats per output depth slice in `gyp`: (oh - 1) x Wp + ow, rounded
    /// up to 8.
    slice: usize,
}

/// Weight-gradient entries (c_out x depth of a group) up to which the dot
/// products beat a GEMM on columns: measured fwd+bwd weight gradient, 1
/// thread: 3->32 k3 (32 x 27) 3.3 -> 2.0 ms, 8->16 k3 (16 x 72) 3.0 -> 1.6,
/// conv1d 16->32 k5 (32 x 80) 3.2 -> 2.4, conv3d 4->8 (8 x 108) fwd+bwd
/// 4.4 -> 2.9; 3->64 k7 (64 x 147) even; 32->64 k3 stride 2 (64 x 288)
/// 2.8 -> 3.0 and 32->64 k5 (64 x 800) 12.0 -> 13.5 lose (there a GEMM
/// tile reuses each packed value 6 or 16 times from L1).
const MAX_DOT_OUTPUTS: usize = 12 * 1024;

/// Whether `WeightGrad` computes the weight gradient of an implicit layer.
pub fn applies_weight_grad_dots(g: &ConvGeom) -> bool {
    g.cg_out() * g.col_rows() <= MAX_DOT_OUTPUTS
}

/// Floats of padded input and gradient kept for one chunk of samples: about
/// 192 KiB, to stay in the L2 cache while every block of dots reads them.
const CHUNK_FLOATS: usize = 48 * 1024;

impl WeightGrad {
    pub fn new(g: &ConvGeom) -> WeightGrad {
        let plan = Plan::forward(g);
        // Up to the last valid column of a depth slice, rounded up to 8:
        // reads then end at most 7 floats past a position some output reads,
        // inside the plan's slack.
        let [_, oh, ow] = plan.out;
        let span = if oh * ow == 0 {
            0
        } else {
            (oh - 1) * plan.phase[2] + ow
        };
        let slice = span.next_multiple_of(8);
        let per_sample = plan.padded_len() + plan.c_out * plan.out[0] * slice;
        let chunk = (CHUNK_FLOATS / per_sample).clamp(1, g.batch.max(1));
        WeightGrad {
            xp: Scratch::uninit(chunk * plan.padded_len()),
            gyp: Scratch::uninit(chunk * plan.c_out * plan.out[0] * slice),
            plan,
            chunk,
            slice,
        }
    }

    /// gw (c_out x groups' depth) += the weight gradient of samples `range`
    /// from x (batch, c_in, in_plane) and gy (batch, c_out, out_plane), on
    /// `threads` threads.
    pub fn accumulate(
        &mut self,
        g: &ConvGeom,
        (x, gy): (&[f32], &[f32]),
        range: std::ops::Range<usize>,
        gw: &mut [f32],
        threads: usize,
    ) {
        let plan = &self.plan;
        let (depth, out_plane) = (plan.depth(), plan.out_plane());
        let (in_group, out_group) = (plan.c_in * g.in_plane(), plan.c_out * out_plane);
        let (xlen, gylen) = (plan.padded_len(), plan.c_out * plan.out[0] * self.slice);
        assert!(
            range.end <= g.batch
                && x.len() >= g.batch * g.groups * in_group
                && gy.len() >= g.batch * g.groups * out_group
                && gw.len() >= g.groups * plan.c_out * depth,
            "implicit weight gradient: buffers smaller than the geometry"
        );
        let [od, oh, ow] = plan.out;
        let pw = plan.phase[2];
        if self.slice == 0 || od == 0 {
            return; // no output positions: nothing to add
        }
        for grp in 0..g.groups {
            for first in range.clone().step_by(self.chunk) {
                let samples = self.chunk.min(range.end - first);
                for j in 0..samples {
                    let n = first + j;
                    let xs = &x[(n * g.groups + grp) * in_group..][..in_group];
                    plan.pad_input(xs, &mut self.xp[j * xlen..][..xlen]);
                    let gys = &gy[(n * g.groups + grp) * out_group..][..out_group];
                    let dst = &mut self.gyp[j * gylen..][..gylen];
                    // Rows of gy at the padded width, zeros past each row and slice.
                    dst.fill(0.0);
                    for (co, rows_z) in dst.chunks_exact_mut(od * self.slice).enumerate() {
                        for (z, ds) in rows_z.chunks_exact_mut(self.slice).enumerate() {
                            for y in 0..oh {
                                ds[y * pw..][..ow].copy_from_slice(
                                    &gys[co * out_plane + (z * oh + y) * ow..][..ow],
                                );
                            }
                        }
                    }
                }
                let segments = Segments {
                    samples,
                    gy_sample: gylen,
                    x_sample: xlen,
                    count: od,
                    gy_stride: self.slice,
                    x_stride: plan.phase[1] * pw,
                    len: self.slice,
                };
                let (gyp, xp) = (&self.gyp[..], &self.xp[..]);
                let gw_g = &mut gw[grp * plan.c_out * depth..][..plan.c_out * depth];
                let out = parallel::SendPtr(gw_g.as_mut_ptr());
                let blocks = plan.c_out.div_ceil(DOT_ROWS);
                let block = |b: usize| {
                    let rows = b * DOT_ROWS..((b + 1) * DOT_ROWS).min(plan.c_out);
                    // SAFETY: `applies` checked AVX2+FMA; block b writes gw
                    // rows `rows` only; reads stay inside gyp and xp (the
                    // plan's slack covers the tail rounding of a slice).
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        dot_rows(gyp, xp, &plan.offsets, segments, rows, { out }.0, depth)
                    }
                };
                if threads > 1 {
                    parallel::for_each_task(blocks, block);
                } else {
                    (0..blocks).for_each(block);
                }
            }
        }
    }
}

/// Rows of gw computed together (and columns, below): a 4 x 3 block keeps
/// 12 accumulators, 3 x-row vectors and one gy vector in the 16 registers.
const DOT_ROWS: usize = 4;
const DOT_COLS: usize = 3;

/// Where the dot products run: for each of `samples` samples (`gy_sample`
/// and `x_sample` floats apart), `count` output depth slices of `len`
/// floats, `gy_stride` apart in gy and `x_stride` apart in the padded planes.
#[derive(Clone, Copy)]
struct Segments {
    samples: usize,
    gy_sample: usize,
    x_sample: usize,
    count: usize,
    gy_stride: usize,
    x_stride: usize,
    len: usize,
}

/// gw[co][k] += dot products for gw rows `rows` and every k.
///
/// # Safety
/// AVX2 and FMA are available; gyp holds c_out x count x gy_stride floats,
/// every xp[offsets[k] + s*x_stride + t] (t < len) is readable, and `gw`
/// (row length `depth`) holds the rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows(
    gyp: &[f32],
    xp: &[f32],
    offsets: &[usize],
    seg: Segments,
    rows: std::ops::Range<usize>,
    gw: *mut f32,
    depth: usize,
) {
    // One gy row (an output channel) of one sample.
    let row_len = seg.count * seg.gy_stride;
    macro_rules! block {
        ($mb:literal, $nb:literal, $i:expr, $k:expr) => {{
            let g: [*const f32; $mb] =
                std::array::from_fn(|r| gyp.as_ptr().add(($i + r) * row_len));
            let x: [*const f32; $nb] = std::array::from_fn(|c| xp.as_ptr().add(offsets[$k + c]));
            let sums = dot_block::<$mb, $nb>(g, x, seg);
            for r in 0..$mb {
                for c in 0..$nb {
                    *gw.add(($i + r) * depth + $k + c) += sums[r][c];
                }
            }
        }};
    }
    for i in rows.clone().step_by(DOT_ROWS) {
        let mb = DOT_ROWS.min(rows.end - i);
        for k in (0..depth).step_by(DOT_COLS) {
            match (mb, DOT_COLS.min(depth - k)) {
                (4, 3) => block!(4, 3, i, k),
                (4, 2) => block!(4, 2, i, k),
                (4, _) => block!(4, 1, i, k),
                (3, 3) => block!(3, 3, i, k),
                (3, 2) => block!(3, 2, i, k),
                (3, _) => block!(3, 1, i, k),
                (2, 3) => block!(2, 3, i, k),
                (2, 2) => block!(2, 2, i, k),
                (2, _) => block!(2, 1, i, k),
                (_, 3) => block!(1, 3, i, k),
                (_, 2) => block!(1, 2, i, k),
                (_, _) => block!(1, 1, i, k),
            }
        }
    }
}

/// MB x NB dot products of gy rows `g` with x rows `x` over the segments.
///
/// # Safety
/// As `dot_rows`; `seg.len` is a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dot_block<const MB: usize, const NB: usize>(
    g: [*const f32; MB],
    x: [*const f32; NB],
    seg: Segments,
) -> [[f32; NB]; MB] {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_ps(); NB]; MB];
    for n in 0..seg.samples {
        for s in 0..seg.count {
            let go = n * seg.gy_sample + s * seg.gy_stride;
            let xo = n * seg.x_sample + s * seg.x_stride;
            for t in (0..seg.len).step_by(8) {
                let xv: [__m256; NB] = std::array::from_fn(|c| _mm256_loadu_ps(x[c].add(xo + t)));
                for r in 0..MB {
                    let gv = _mm256_loadu_ps(g[r].add(go + t));
                    for c in 0..NB {
                        acc[r][c] = _mm256_fmadd_ps(gv, xv[c], acc[r][c]);
                    }
                }
            }
        }
    }
    let mut out = [[0.0; NB]; MB];
    for r in 0..MB {
        for c in 0..NB {
            let v = acc[r][c];
            let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            let h = _mm_add_ss(h, _mm_shuffle_ps::<1>(h, h));
            out[r][c] = _mm_cvtss_f32(h);
        }
    }
    out
}
