//! Convolution kernels on plain slices (no autograd, no shape checks).
//!
//! One N-d implementation: 1-d and 2-d convolutions are 3-d ones with
//! leading size-1 spatial dims. A convolution is im2col (vol2col) followed by
//! a GEMM per sample and group; a 1x1, stride-1, unpadded convolution skips
//! im2col (the input already is the column matrix). The gradients reuse the
//! same pieces: weight grad = grad_out @ columns^T, input grad = col2im of
//! W^T @ grad_out. A transposed convolution is the input gradient of the
//! convolution whose output has the transposed conv's input shape, so the ops
//! layer builds it from these three functions with an explicit geometry.
//! Three geometries go to specialised kernels first: Winograd
//! (`conv_winograd`), the implicit GEMM for other stride-1 layers
//! (`conv_implicit`, f32) and depthwise (`conv_depthwise`).
//!
//! Threads: with at least as many samples as threads, the batch is split into
//! one contiguous range per thread (one im2col buffer each, single-threaded
//! GEMMs); otherwise samples run in order and each GEMM uses every thread.

use super::conv_depthwise as depthwise;
use super::conv_implicit as implicit;
use super::conv_winograd as winograd;
use super::gemm::MatRef;
use super::lanes::copy_few;
use crate::parallel;
use crate::tensor::dtype::Float;

/// Below this many multiply-adds a whole convolution runs on one thread.
pub(super) const PARALLEL_MACS: usize = 1 << 18;

/// Sizes of one convolution. Spatial arrays are (D, H, W); unused leading
/// dims are size 1 with kernel 1, stride 1, padding 0, dilation 1.
/// `output` is explicit (not recomputed) so a transposed convolution can use
/// an input with trailing rows no output position reads (output_padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub groups: usize,
    pub input: [usize; 3],
    pub output: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub pad: [usize; 3],
    pub dilation: [usize; 3],
}

impl ConvGeom {
    pub fn in_plane(&self) -> usize {
        self.input.iter().product()
    }
    pub fn out_plane(&self) -> usize {
        self.output.iter().product()
    }
    pub fn kvol(&self) -> usize {
        self.kernel.iter().product()
    }
    pub fn cg_in(&self) -> usize {
        self.c_in / self.groups
    }
    pub fn cg_out(&self) -> usize {
        self.c_out / self.groups
    }
    /// Rows of the column matrix of one group: (channel, kd, kh, kw).
    pub fn col_rows(&self) -> usize {
        self.cg_in() * self.kvol()
    }
    /// Multiply-adds of one direction (forward, input grad or weight grad).
    pub fn macs(&self) -> usize {
        self.batch * self.c_out * self.col_rows() * self.out_plane()
    }
    /// 1x1 kernel, stride 1, no padding, same size: columns == input.
    fn pointwise(&self) -> bool {
        self.kvol() == 1 && self.stride == [1; 3] && self.pad == [0; 3] && self.input == self.output
    }
}

/// Output indices `x` in `0..n_out` whose input index `x*stride + shift` is
/// inside `0..n_in`, as a range `lo..hi`.
#[inline(always)]
pub(super) fn valid_range(
    n_out: usize,
    n_in: usize,
    stride: usize,
    shift: isize,
) -> (usize, usize) {
    let lo = if shift >= 0 {
        0
    } else {
        (shift.unsigned_abs()).div_ceil(stride)
    }
    .min(n_out);
    let last = n_in as isize - 1 - shift;
    let hi = if last < 0 {
        0
    } else {
        (last as usize / stride + 1).min(n_out)
    };
    (lo, hi.max(lo))
}

/// Output lines (z, y) per column tile: a tile holds `col_rows` x (lines *
/// W_out) values, kept near `COL_TILE` so im2col writes and the GEMM reads
/// stay in L2 instead of streaming a whole-plane column matrix through memory.
fn tile_lines(g: &ConvGeom) -> usize {
    const COL_TILE: usize = 1 << 16;
    let per_line = (g.col_rows() * g.output[2]).max(1);
    (COL_TILE / per_line).clamp(1, (g.output[0] * g.output[1]).max(1))
}

/// Length of the per-thread column buffer (none when no im2col is needed).
fn cols_len(g: &ConvGeom) -> usize {
    if g.pointwise() || depthwise::applies(g) {
        0
    } else {
        g.col_rows() * tile_lines(g) * g.output[2]
    }
}

/// Line ranges `l0..l1` of the output plane, `tile_lines(g)` lines each.
fn tiles(g: &ConvGeom) -> impl Iterator<Item = (usize, usize)> {
    let (lines, step) = (g.output[0] * g.output[1], tile_lines(g));
    (0..lines)
        .step_by(step)
        .map(move |l0| (l0, (l0 + step).min(lines)))
}

/// One output line of one column-matrix row, as visited by `for_each_line`.
#[derive(Clone, Copy)]
pub(super) struct Line {
    /// Column-matrix row (c, a, b, e).
    pub row: usize,
    /// Start of the line within its row of the tile: (l - l0) * W_out.
    pub col: usize,
    /// Start of the input line read, or None where it is all padding.
    pub src: Option<usize>,
    /// Output positions `lo..hi` read input `src + x*stride + shift`; the
    /// rest of the line reads padding.
    pub lo: usize,
    pub hi: usize,
    pub shift: isize,
}

/// Visit each column-matrix row (c, a, b, e) of one group and each output
/// line (z, y) in `l0..l1`. Shared by im2col, col2im and the depthwise
/// kernels so all walk the same index map. Divisions are hoisted out of the
/// per-line loop: lines are short, a division costs as much as the line.
#[inline(always)]
pub(super) fn for_each_line(g: &ConvGeom, (l0, l1): (usize, usize), mut f: impl FnMut(Line)) {
    let [id, ih, iw] = g.input;
    let [_, oh, ow] = g.output;
    let [kd, kh, kw] = g.kernel;
    let [sd, sh, sw] = g.stride;
    let [pd, ph, pw] = g.pad;
    let [dd, dh, dw] = g.dilation;
    let (z0, y0) = (l0 / oh.max(1), l0 % oh.max(1));
    let mut row = 0;
    for c in 0..g.cg_in() {
        for a in 0..kd {
            for b in 0..kh {
                for e in 0..kw {
                    let shift = (e * dw) as isize - pw as isize;
                    let (lo, hi) = valid_range(ow, iw, sw, shift);
                    let (mut z, mut y) = (z0, y0);
                    for l in 0..l1 - l0 {
                        let zi = (z * sd + a * dd) as isize - pd as isize;
                        let yi = (y * sh + b * dh) as isize - ph as isize;
                        let inside =
                            (0..id as isize).contains(&zi) && (0..ih as isize).contains(&yi);
                        let src = inside.then(|| ((c * id + zi as usize) * ih + yi as usize) * iw);
                        f(Line {
                            row,
                            col: l * ow,
                            src,
                            lo,
                            hi,
                            shift,
                        });
                        y += 1;
                        if y == oh {
                            (y, z) = (0, z + 1);
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

crate::multiversion! {
    /// Column tile of one sample's group `x` (cg_in x in_plane) for output
    /// lines `lines`: cols[(c,a,b,e), (z,y,x)] = x[c, z*s+a*d-p, ...] or 0.
    /// Compiled for AVX2 too: lines are 8-32 values, copied in a few moves.
    pub fn im2col(g: &ConvGeom, x: &[T], lines: (usize, usize), cols: &mut [T]) => im2col_impl
}

#[inline(always)]
fn im2col_impl<T: Float>(g: &ConvGeom, x: &[T], lines: (usize, usize), cols: &mut [T]) {
    let (ow, sw) = (g.output[2], g.stride[2]);
    let width = (lines.1 - lines.0) * ow;
    // Checked once here, so the per-line work (lines are often 10-32 values,
    // and per-line overhead was most of im2col's time) uses raw pointers.
    assert!(
        x.len() >= g.cg_in() * g.in_plane() && cols.len() >= g.col_rows() * width,
        "im2col: buffers smaller than the geometry"
    );
    let (xp, cp) = (x.as_ptr(), cols.as_mut_ptr());
    for_each_line(
        g,
        lines,
        #[inline(always)]
        |ln| {
            // SAFETY: `for_each_line` yields rows < col_rows, columns + ow <=
            // width and input lines inside the group (src + iw <= cg_in *
            // in_plane); lo <= hi <= ow and input indices lo..hi are inside the
            // line (valid_range); both buffers were checked above.
            unsafe {
                let out = cp.add(ln.row * width + ln.col);
                let Some(src) = ln.src else {
                    std::ptr::write_bytes(out, 0, ow);
                    return;
                };
                let (lo, hi) = (ln.lo, ln.hi);
                zero_few(out, lo);
                zero_few(out.add(hi), ow - hi);
                let line = xp.add(src);
                if hi == lo {
                    // (a dilated tap past a short line: it would start before it)
                } else if sw == 1 {
                    copy_few(out.add(lo), line.offset(lo as isize + ln.shift), hi - lo);
                } else {
                    for xo in lo..hi {
                        *out.add(xo) = *line.offset((xo * sw) as isize + ln.shift);
                    }
                }
            }
        },
    );
}

/// Zero `n` values: usually the one or two padding columns of a line, for
/// which a `memset` call (what a plain fill compiles to) costs more than the
/// stores.
///
/// # Safety
/// `dst` is valid for `n` values.
#[inline(always)]
pub(super) unsafe fn zero_few<T: Float>(dst: *mut T, n: usize) {
    if n > 4 {
        std::ptr::write_bytes(dst, 0, n);
        return;
    }
    for j in 0..n {
        std::ptr::write_volatile(dst.add(j), T::zero());
    }
}

crate::multiversion! {
    /// Adjoint of `im2col`: x[c, ...] += cols[(c,a,b,e), (z,y,x)] (accumulates).
    pub fn col2im(g: &ConvGeom, cols: &[T], lines: (usize, usize), x: &mut [T]) => col2im_impl
}

#[inline(always)]
fn col2im_impl<T: Float>(g: &ConvGeom, cols: &[T], lines: (usize, usize), x: &mut [T]) {
    let (iw, ow, sw) = (g.input[2], g.output[2], g.stride[2]);
    let width = (lines.1 - lines.0) * ow;
    for_each_line(
        g,
        lines,
        #[inline(always)]
        |ln| {
            let Some(src) = ln.src else { return };
            let (lo, hi) = (ln.lo, ln.hi);
            if lo == hi {
                // a dilated tap that reaches no output of the line (it would
                // start before the line: padding='same' with a wide dilation)
                return;
            }
            let dst = ln.row * width + ln.col;
            let row = &cols[dst..dst + ow];
            let xr = &mut x[src..src + iw];
            if sw == 1 {
                let s0 = (lo as isize + ln.shift) as usize;
                for (o, &v) in xr[s0..s0 + hi - lo].iter_mut().zip(&row[lo..hi]) {
                    *o += v;
                }
            } else {
                for (xo, &v) in (lo..hi).zip(&row[lo..hi]) {
                    xr[((xo * sw) as isize + ln.shift) as usize] += v;
                }
            }
        },
    );
}

/// A row-major matrix with `ncols` columns starting at `off`.
pub(super) fn rows(off: usize, ncols: usize) -> MatRef {
    MatRef {
        off,
        rs: ncols as isize,
        cs: 1,
    }
}

/// C (m x n) = A (m x k) @ B (k x n), plus C when `acc`, on `threads` threads.
/// The thread count is chosen per call: batch-split convolutions must not
/// fork inside a worker.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    c: &mut [T],
    cv: MatRef,
    acc: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |v: MatRef, r: usize, cc: usize| {
        v.off as isize + (r as isize - 1) * v.rs + (cc as isize - 1) * v.cs
    };
    assert!(
        last(cv, m, n) < c.len() as isize,
        "conv gemm: C view out of bounds"
    );
    // (k == 0 reads nothing: the GEMM only zeroes C unless accumulating.)
    assert!(
        k == 0 || (last(av, m, k) < a.len() as isize && last(bv, k, n) < b.len() as isize),
        "conv gemm: view out of bounds"
    );
    let threads = if m * n * k < PARALLEL_MACS {
        1
    } else {
        threads
    };
    // SAFETY: the asserts above keep every view inside its slice.
    unsafe { T::gemm(m, n, k, a, av, b, bv, c, cv, acc, threads) }
}

/// How to spread `batch` samples: (samples per task, GEMM threads).
pub(super) fn split_batch(g: &ConvGeom) -> (usize, usize) {
    let threads = parallel::num_threads();
    if threads == 1 || g.macs() < PARALLEL_MACS || g.batch == 0 {
        return (g.batch.max(1), 1);
    }
    if g.batch >= threads {
        (g.batch.div_ceil(threads), 1)
    } else {
        (g.batch, threads)
    }
}

/// Run `f(first_sample, out_chunk, gemm_threads)` over batch ranges whose
/// outputs are consecutive `per_sample`-sized chunks of `out`.
pub(super) fn for_batch_ranges<T: Float>(
    g: &ConvGeom,
    out: &mut [T],
    per_sample: usize,
    f: impl Fn(usize, &mut [T], usize) + Sync,
) {
    batch_ranges(g, out, per_sample, 1, f)
}

/// `for_batch_ranges` for work with no setup per task (the implicit GEMM's
/// forward and input gradient): up to four ranges per thread, claimed as
/// threads come free, so a thread that starts late or is preempted (a
/// shared machine) takes fewer samples instead of holding up the join.
pub(super) fn for_batch_blocks<T: Float>(
    g: &ConvGeom,
    out: &mut [T],
    per_sample: usize,
    f: impl Fn(usize, &mut [T], usize) + Sync,
) {
    batch_ranges(g, out, per_sample, 4, f)
}

/// The batch split behind both: `split_batch`'s ranges, or (when the batch
/// is split at all) `blocks_per_thread` ranges per thread.
fn batch_ranges<T: Float>(
    g: &ConvGeom,
    out: &mut [T],
    per_sample: usize,
    blocks_per_thread: usize,
    f: impl Fn(usize, &mut [T], usize) + Sync,
) {
    let (per_task, threads) = split_batch(g);
    if per_sample == 0 || out.is_empty() {
        return;
    }
    if per_task >= g.batch {
        f(0, out, threads);
        return;
    }
    let per_task = if blocks_per_thread > 1 {
        g.batch
            .div_ceil(parallel::num_threads() * blocks_per_thread)
            .max(1)
    } else {
        per_task
    };
    parallel::for_each_chunk_mut(out, per_task * per_sample, |t, chunk| {
        f(t * per_task, chunk, 1)
    });
}

/// Whether a stride-1 geometry that im2col would take goes to the
/// implicit GEMM instead (f32 only; the caller checks the element type).
fn uses_implicit<T: Float>(g: &ConvGeom) -> bool {
    T::as_f32(&[]).is_some() && !g.pointwise() && !depthwise::applies(g) && implicit::applies(g)
}

/// Forward: y (batch, c_out, out_plane) = conv(x, w) + bias.
/// x: (batch, c_in, in_plane); w: (c_out, cg_in, kvol) contiguous.
pub fn forward<T: Float>(g: &ConvGeom, x: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
    if winograd::applies(g) {
        return winograd::forward(g, x, w, bias);
    }
    if uses_implicit::<T>(g) {
        let mut y = crate::tensor::pool::uninit_vec::<T>(g.batch * g.c_out * g.out_plane());
        if let (Some(xf), Some(wf), Some(yf)) = (T::as_f32(x), T::as_f32(w), T::as_f32_mut(&mut y))
        {
            implicit::forward(g, xf, wf, bias.and_then(T::as_f32), yf);
            return y;
        }
    }
    let (p, kk, cgo, cgi, ip, ow) = (
        g.out_plane(),
        g.col_rows(),
        g.cg_out(),
        g.cg_in(),
        g.in_plane(),
        g.output[2],
    );
    let in_sample = g.c_in * ip;
    // Every element is set below: bias rows, zeros for the accumulating
    // depthwise kernel, or overwritten by the GEMM.
    let mut y = crate::tensor::pool::uninit_vec::<T>(g.batch * g.c_out * p);
    let (pointwise, direct) = (g.pointwise(), depthwise::applies(g));
    for_batch_ranges(g, &mut y, g.c_out * p, |n0, ys, threads| {
        let mut cols = crate::tensor::pool::Scratch::<T>::uninit(cols_len(g));
        for (i, yn) in ys.chunks_mut(g.c_out * p).enumerate() {
            let xn = &x[(n0 + i) * in_sample..][..in_sample];
            for grp in 0..g.groups {
                let xg = &xn[grp * cgi * ip..][..cgi * ip];
                let yg = &mut yn[grp * cgo * p..][..cgo * p];
                if let Some(b) = bias {
                    for (co, row) in yg.chunks_mut(p).enumerate() {
                        row.fill(b[grp * cgo + co]);
                    }
                } else if direct {
                    yg.fill(T::zero());
                }
                let wg = &w[grp * cgo * kk..][..cgo * kk];
                if direct {
                    depthwise::forward_group(g, xg, wg, yg);
                    continue;
                }
                let wv = rows(grp * cgo * kk, kk);
                if pointwise {
                    matmul(
                        cgo,
                        p,
                        kk,
                        w,
                        wv,
                        xg,
                        rows(0, p),
                        yg,
                        rows(0, p),
                        bias.is_some(),
                        threads,
                    );
                    continue;
                }
                for lines in tiles(g) {
                    let width = (lines.1 - lines.0) * ow;
                    im2col(g, xg, lines, &mut cols);
                    let yv = MatRef {
                        off: lines.0 * ow,
                        rs: p as isize,
                        cs: 1,
                    };
                    matmul(
                        cgo,
                        width,
                        kk,
                        w,
                        wv,
                        &cols,
                        rows(0, width),
                        yg,
                        yv,
                        bias.is_some(),
                        threads,
                    );
                }
            }
        }
    });
    y
}

/// Whether every value is finite. Checked in blocks without an early exit
/// inside a block, so the comparisons vectorize: the element-by-element
/// `all` ran one value a cycle, serial work after every input and weight
/// gradient.
pub(crate) fn all_finite<T: Float>(v: &[T]) -> bool {
    v.chunks(4096)
        .all(|block| block.iter().fold(true, |ok, e| ok & e.to_f64().is_finite()))
}

/// Input gradient: gx (batch, c_in, in_plane) from gy (batch, c_out, out_plane).
pub fn backward_input<T: Float>(g: &ConvGeom, gy: &[T], w: &[T]) -> Vec<T> {
    // The Winograd and implicit paths also multiply the weights by zero
    // padding (or mix neighbouring values): a non-finite weight or gradient
    // turns elements NaN that the exact sums below (PyTorch's col2im) keep
    // finite, so a non-finite result is recomputed with them.
    let finite = all_finite::<T>;
    if winograd::applies(g) {
        let gx = winograd::backward_input(g, gy, w);
        if finite(&gx) {
            return gx;
        }
    }
    if uses_implicit::<T>(g) && implicit::applies_backward_input(g) {
        let mut gx = crate::tensor::pool::uninit_vec::<T>(g.batch * g.c_in * g.in_plane());
        if let (Some(gyf), Some(wf), Some(gxf)) =
            (T::as_f32(gy), T::as_f32(w), T::as_f32_mut(&mut gx))
        {
            implicit::backward_input(g, gyf, wf, gxf);
            if finite(&gx) {
                return gx;
            }
        }
    }
    let (p, kk, cgo, cgi, ip, ow) = (
        g.out_plane(),
        g.col_rows(),
        g.cg_out(),
        g.cg_in(),
        g.in_plane(),
        g.output[2],
    );
    let out_sample = g.c_out * p;
    let (pointwise, direct) = (g.pointwise(), depthwise::applies(g));
    // col2im and the depthwise kernel accumulate; a pointwise GEMM writes
    // every element (zeroing 4 MiB was 5% of a 64-channel 1x1 layer).
    let mut gx = if pointwise {
        crate::tensor::pool::uninit_vec::<T>(g.batch * g.c_in * ip)
    } else {
        crate::tensor::pool::zeroed_vec::<T>(g.batch * g.c_in * ip)
    };
    for_batch_ranges(g, &mut gx, g.c_in * ip, |n0, gxs, threads| {
        let mut cols = crate::tensor::pool::Scratch::<T>::uninit(cols_len(g));
        for (i, gxn) in gxs.chunks_mut(g.c_in * ip).enumerate() {
            let gyn = &gy[(n0 + i) * out_sample..][..out_sample];
            for grp in 0..g.groups {
                let gxg = &mut gxn[grp * cgi * ip..][..cgi * ip];
                if direct {
                    let (gyg, wg) = (
                        &gyn[grp * cgo * p..][..cgo * p],
                        &w[grp * cgo * kk..][..cgo * kk],
                    );
                    depthwise::backward_input_group(g, gyg, wg, gxg);
                    continue;
                }
                // W_g^T: (kk x cgo), element (r, co) at w[(grp*cgo + co)*kk + r].
                let wt = MatRef {
                    off: grp * cgo * kk,
                    rs: 1,
                    cs: kk as isize,
                };
                if pointwise {
                    matmul(
                        kk,
                        p,
                        cgo,
                        w,
                        wt,
                        gyn,
                        rows(grp * cgo * p, p),
                        gxg,
                        rows(0, p),
                        false,
                        threads,
                    );
                    continue;
                }
                for lines in tiles(g) {
                    let width = (lines.1 - lines.0) * ow;
                    let gyv = MatRef {
                        off: grp * cgo * p + lines.0 * ow,
                        rs: p as isize,
                        cs: 1,
                    };
                    matmul(
                        kk,
                        width,
                        cgo,
                        w,
                        wt,
                        gyn,
                        gyv,
                        &mut cols,
                        rows(0, width),
                        false,
                        threads,
                    );
                    col2im(g, &cols, lines, gxg);
                }
            }
        }
    });
    gx
}

/// Weight gradient: gw (c_out, cg_in, kvol) = sum over samples of
/// gy_n @ columns(x_n)^T, per group. Each batch range sums into its own
/// buffer; the buffers are added at the end.
pub fn backward_weight<T: Float>(g: &ConvGeom, x: &[T], gy: &[T]) -> Vec<T> {
    if winograd::applies(g) {
        let gw = winograd::backward_weight(g, x, gy);
        if all_finite(&gw) {
            return gw;
        }
        // (Winograd's transforms mix neighbouring inputs: a non-finite one
        // turns taps NaN that the direct sums keep finite.)
    }
    let (p, kk, cgo, cgi, ip) = (
        g.out_plane(),
        g.col_rows(),
        g.cg_out(),
        g.cg_in(),
        g.in_plane(),
    );
    let (in_sample, out_sample, ow) = (g.c_in * ip, g.c_out * p, g.output[2]);
    let wlen = g.c_out * kk;
    let (pointwise, direct) = (g.pointwise(), depthwise::applies(g));
    let partial_with = |range: std::ops::Range<usize>, threads: usize, implicit: bool| {
        let mut gw = vec![T::zero(); wlen];
        // Where the implicit GEMM runs the forward (f32): dot products over
        // the padded input for small weights, else columns copied from it
        // (whole lines instead of im2col).
        if implicit && implicit::applies_weight_grad_dots(g) {
            if let (Some(xf), Some(gyf), Some(gwf)) =
                (T::as_f32(x), T::as_f32(gy), T::as_f32_mut(&mut gw))
            {
                implicit::WeightGrad::new(g).accumulate(g, (xf, gyf), range, gwf, threads);
                return gw;
            }
        }
        let mut cols = crate::tensor::pool::Scratch::<T>::uninit(cols_len(g));
        let mut padded = implicit.then(|| implicit::Columns::new(g));
        for n in range {
            for grp in 0..g.groups {
                let xg = &x[n * in_sample + grp * cgi * ip..][..cgi * ip];
                let gyg = &gy[n * out_sample + grp * cgo * p..][..cgo * p];
                let gwg = &mut gw[grp * cgo * kk..][..cgo * kk];
                if let (Some(pc), Some(xf)) = (padded.as_mut(), T::as_f32(xg)) {
                    pc.load(xf);
                }
                if direct {
                    depthwise::backward_weight_group(g, xg, gyg, gwg);
                    continue;
                }
                let gwv = rows(grp * cgo * kk, kk);
                if pointwise {
                    // x_g^T: (p x kk), element (j, r) at xg[r*p + j].
                    let xt = MatRef {
                        off: 0,
                        rs: 1,
                        cs: p as isize,
                    };
                    let gyv = rows(n * out_sample + grp * cgo * p, p);
                    matmul(cgo, kk, p, gy, gyv, xg, xt, &mut gw, gwv, true, threads);
                    continue;
                }
                for lines in tiles(g) {
                    let width = (lines.1 - lines.0) * ow;
                    match (padded.as_ref(), T::as_f32_mut(&mut cols)) {
                        (Some(pc), Some(cf)) => pc.fill(lines, cf),
                        _ => im2col(g, xg, lines, &mut cols),
                    }
                    let ct = MatRef {
                        off: 0,
                        rs: 1,
                        cs: width as isize,
                    };
                    let gyv = MatRef {
                        off: n * out_sample + grp * cgo * p + lines.0 * ow,
                        rs: p as isize,
                        cs: 1,
                    };
                    matmul(
                        cgo, kk, width, gy, gyv, &cols, ct, &mut gw, gwv, true, threads,
                    );
                }
            }
        }
        gw
    };
    let partial = |range: std::ops::Range<usize>, threads: usize| {
        let implicit = uses_implicit::<T>(g);
        let gw = partial_with(range.clone(), threads, implicit);
        if implicit && !all_finite(&gw) {
            // The implicit paths also multiply padding columns by zero
            // gradients: a non-finite input read only there turns a finite
            // tap into NaN. Exact columns give PyTorch's answer.
            return partial_with(range, threads, false);
        }
        gw
    };
    sum_over_batch_ranges(g, partial)
}

/// The sum over the batch of `partial(samples, gemm_threads)`, buffers of one
/// length: one call over the whole batch, or one per thread's range of
/// samples, added together (weight gradients).
pub(super) fn sum_over_batch_ranges<T: Float, B>(
    g: &ConvGeom,
    partial: impl Fn(std::ops::Range<usize>, usize) -> B + Sync,
) -> B
where
    B: std::ops::DerefMut<Target = [T]> + Send,
{
    let (per_task, threads) = split_batch(g);
    if per_task >= g.batch {
        return partial(0..g.batch, threads);
    }
    let parts: Vec<B> = parallel::map_tasks(g.batch.div_ceil(per_task), |t| {
        partial(t * per_task..((t + 1) * per_task).min(g.batch), 1)
    });
    let sum = parts.into_iter().reduce(|mut sum, part| {
        for (a, &b) in sum.iter_mut().zip(part.iter()) {
            *a += b;
        }
        sum
    });
    // (At least two parts here; an empty batch took the branch above.)
    sum.unwrap_or_else(|| partial(0..0, 1))
}

crate::multiversion! {
    /// Bias gradient: per channel, the sum of gy (batch, channels, plane) over
    /// batch and plane (lane partial sums in the element type per 4K block,
    /// combined in f64).
    pub fn backward_bias(gy: &[T], batch: usize, channels: usize, plane: usize) -> Vec<T> => backward_bias_impl
}

#[inline(always)]
fn backward_bias_impl<T: Float>(gy: &[T], batch: usize, channels: usize, plane: usize) -> Vec<T> {
    let mut sums = vec![0.0f64; channels];
    for n in 0..batch {
        for (c, s) in sums.iter_mut().enumerate() {
            let row = &gy[(n * channels + c) * plane..][..plane];
            *s += crate::cpu::sum::run_sum_impl(row, crate::cpu::sum::Terms::Values);
        }
    }
    sums.into_iter().map(T::from_f64).collect()
}

/// y[n, c, :] += bias[c] for y (batch, channels, plane).
pub fn add_bias<T: Float>(y: &mut [T], bias: &[T], channels: usize, plane: usize) {
    if plane == 0 || channels == 0 {
        return;
    }
    for (i, row) in y.chunks_mut(plane).enumerate() {
        let b = bias[i % channels];
        for v in row {
            *v += b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_values::values;

    fn geom(
        input: [usize; 3],
        kernel: [usize; 3],
        stride: [usize; 3],
        pad: [usize; 3],
        dilation: [usize; 3],
        groups: usize,
    ) -> ConvGeom {
        let mut output = [0; 3];
        for i in 0..3 {
            output[i] = (input[i] + 2 * pad[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1;
        }
        ConvGeom {
            batch: 2,
            c_in: 2 * groups,
            c_out: 3 * groups,
            groups,
            input,
            output,
            kernel,
            stride,
            pad,
            dilation,
        }
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Direct definition of the convolution, for comparison.
    fn reference(g: &ConvGeom, x: &[f64], w: &[f64]) -> Vec<f64> {
        let (cgi, cgo) = (g.cg_in(), g.cg_out());
        let mut y = vec![0.0; g.batch * g.c_out * g.out_plane()];
        for n in 0..g.batch {
            for co in 0..g.c_out {
                let grp = co / cgo;
                for (oi, yv) in y[(n * g.c_out + co) * g.out_plane()..][..g.out_plane()]
                    .iter_mut()
                    .enumerate()
                {
                    let o = [
                        oi / (g.output[1] * g.output[2]),
                        oi / g.output[2] % g.output[1],
                        oi % g.output[2],
                    ];
                    for ci in 0..cgi {
                        for ki in 0..g.kvol() {
                            let k = [
                                ki / (g.kernel[1] * g.kernel[2]),
                                ki / g.kernel[2] % g.kernel[1],
                                ki % g.kernel[2],
                            ];
                            let pos: Vec<isize> = (0..3)
                                .map(|d| {
                                    (o[d] * g.stride[d] + k[d] * g.dilation[d]) as isize
                                        - g.pad[d] as isize
                                })
                                .collect();
                            if (0..3).all(|d| pos[d] >= 0 && (pos[d] as usize) < g.input[d]) {
                                let xi = ((n * g.c_in + grp * cgi + ci) * g.input[0]
                                    + pos[0] as usize)
                                    * g.input[1]
                                    * g.input[2]
                                    + pos[1] as usize * g.input[2]
                                    + pos[2] as usize;
                                *yv += x[xi] * w[(co * cgi + ci) * g.kvol() + ki];
                            }
                        }
                    }
                }
            }
        }
        y
    }

    fn cases() -> Vec<ConvGeom> {
        vec![
            geom([1, 1, 9], [1, 1, 3], [1, 1, 2], [0, 0, 1], [1, 1, 1], 1),
            geom([1, 5, 7], [1, 3, 3], [1, 1, 1], [0, 1, 1], [1, 1, 1], 1),
            geom([1, 8, 7], [1, 3, 2], [1, 2, 3], [0, 2, 1], [1, 2, 1], 2),
            geom([3, 4, 5], [2, 3, 1], [2, 1, 1], [1, 0, 0], [1, 1, 1], 1),
            geom([1, 4, 4], [1, 1, 1], [1, 1, 1], [0, 0, 0], [1, 1, 1], 3),
            ConvGeom {
                c_in: 3,
                c_out: 6,
                ..geom([1, 7, 9], [1, 3, 3], [1, 2, 2], [0, 1, 2], [1, 2, 1], 3)
            },
            ConvGeom {
                c_in: 4,
                c_out: 4,
                ..geom([3, 5, 6], [2, 3, 3], [1, 1, 1], [1, 1, 1], [1, 1, 1], 4)
            },
            // Stride 2 over 19- and 8-value lines.
            geom([1, 5, 37], [1, 3, 3], [1, 2, 2], [0, 1, 1], [1, 1, 1], 1),
            geom([1, 4, 16], [1, 3, 3], [1, 2, 2], [0, 1, 1], [1, 1, 1], 1),
            // 800 column rows x 21-wide lines: several line tiles per plane.
            ConvGeom {
                c_in: 32,
                c_out: 3,
                ..geom([2, 11, 21], [1, 5, 5], [1, 1, 1], [0, 2, 2], [1, 1, 1], 1)
            },
        ]
    }

    /// 3x3 stride-1 geometries the Winograd kernels take: odd and even
    /// sizes, padding 0-2, and an output smaller than the input allows (as a
    /// transposed convolution with output_padding builds).
    fn winograd_cases() -> Vec<ConvGeom> {
        let wide = |input, pad, batch, c_in, c_out| ConvGeom {
            batch,
            c_in,
            c_out,
            ..geom(input, [1, 3, 3], [1; 3], pad, [1; 3], 1)
        };
        vec![
            wide([1, 6, 6], [0, 1, 1], 2, 16, 17),
            wide([1, 7, 5], [0, 0, 2], 3, 17, 16),
            wide([1, 3, 9], [0, 2, 0], 1, 18, 20),
            wide([1, 1, 1], [0, 1, 1], 2, 16, 16),
            // 11 tiles per row: a whole block of 8 and a partial one.
            wide([1, 4, 21], [0, 1, 1], 2, 16, 16),
            ConvGeom {
                output: [1, 5, 4],
                ..wide([1, 7, 7], [0, 1, 1], 2, 16, 16)
            },
            // A plane too large for one chunk: bands of tile rows.
            wide([1, 39, 41], [0, 1, 1], 1, 16, 16),
            // 9 tiles per sample, chunks of 11 samples and a partial one:
            // the output transform runs over a chunk's samples together.
            wide([1, 8, 8], [0, 0, 0], 13, 16, 16),
        ]
    }

    #[test]
    fn winograd_matches_direct_loops_and_is_adjoint() {
        for g in winograd_cases() {
            assert!(winograd::applies(&g), "{g:?}");
            let x = values(g.batch * g.c_in * g.in_plane(), 11);
            let w = values(g.c_out * g.col_rows(), 12);
            let gy = values(g.batch * g.c_out * g.out_plane(), 13);
            let y = forward(&g, &x, &w, None);
            let r = reference(&g, &x, &w);
            assert!(y.iter().zip(&r).all(|(a, b)| (a - b).abs() < 1e-9), "{g:?}");
            let lhs = dot(&y, &gy);
            let gx = backward_input(&g, &gy, &w);
            assert!((lhs - dot(&x, &gx)).abs() < 1e-9, "{g:?}");
            let gw = backward_weight(&g, &x, &gy);
            assert!((lhs - dot(&w, &gw)).abs() < 1e-9, "{g:?}");
        }
    }

    #[test]
    fn winograd_f32_is_close_and_thread_independent() {
        // Large enough to split the batch over threads.
        let g = ConvGeom {
            batch: 4,
            c_in: 16,
            c_out: 16,
            ..geom([1, 10, 10], [1, 3, 3], [1; 3], [0, 1, 1], [1; 3], 1)
        };
        assert!(g.macs() >= PARALLEL_MACS);
        let x: Vec<f32> = values(g.batch * g.c_in * g.in_plane(), 14)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let w: Vec<f32> = values(g.c_out * g.col_rows(), 15)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let wd: Vec<f64> = w.iter().map(|&v| v as f64).collect();
        let r = reference(&g, &xd, &wd);
        let scale = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for threads in [1, 2] {
            crate::parallel::set_num_threads(threads);
            let y = forward(&g, &x, &w, None);
            let err = y
                .iter()
                .zip(&r)
                .fold(0.0f64, |m, (&a, b)| m.max((a as f64 - b).abs()));
            assert!(
                err < 1e-5 * scale,
                "threads {threads}: error {err} of {scale}"
            );
        }
    }

    /// Geometries the implicit GEMM takes (f32): 1-d, 2-d, 3-d, strides,
    /// dilation, groups, padding past the kernel,
    /// an explicit output smaller than the input allows, depth over one
    /// kernel call (accumulated), several bands per plane, and batches below
    /// and above the thread count.
    fn implicit_cases() -> Vec<ConvGeom> {
        let sized = |g: ConvGeom, batch, c_in, c_out| ConvGeom {
            batch,
            c_in,
            c_out,
            ..g
        };
        vec![
            sized(
                geom([1, 1, 40], [1, 1, 5], [1; 3], [0; 3], [1; 3], 1),
                3,
                16,
                32,
            ),
            sized(
                geom([1, 1, 37], [1, 1, 4], [1; 3], [0, 0, 3], [1, 1, 2], 1),
                2,
                3,
                7,
            ),
            sized(
                geom([1, 9, 11], [1, 3, 3], [1; 3], [0, 1, 1], [1; 3], 1),
                2,
                3,
                5,
            ),
            sized(
                geom([1, 28, 28], [1, 5, 5], [1; 3], [0, 2, 2], [1; 3], 1),
                2,
                1,
                6,
            ),
            sized(
                geom([1, 10, 7], [1, 3, 2], [1; 3], [0, 2, 0], [1, 1, 2], 2),
                2,
                4,
                6,
            ),
            sized(
                geom([6, 7, 5], [3, 3, 3], [1; 3], [1; 3], [1; 3], 1),
                2,
                4,
                8,
            ),
            sized(
                geom([5, 6, 7], [2, 3, 1], [1; 3], [1, 0, 0], [1; 3], 1),
                1,
                2,
                3,
            ),
            sized(
                geom([1, 12, 13], [1, 5, 5], [1; 3], [0, 2, 2], [1; 3], 1),
                1,
                12,
                13,
            ),
            sized(
                geom([1, 5, 5], [1, 1, 1], [1; 3], [0, 1, 1], [1; 3], 1),
                2,
                3,
                4,
            ),
            sized(
                geom([1, 70, 90], [1, 3, 3], [1; 3], [0, 1, 1], [1; 3], 1),
                1,
                2,
                8,
            ),
            ConvGeom {
                output: [1, 5, 4],
                ..sized(
                    geom([1, 7, 7], [1, 3, 3], [1; 3], [0, 1, 1], [1; 3], 1),
                    2,
                    3,
                    4,
                )
            },
            // Rows tiled one by one (16- and 64-wide, stride 2 at 32 wide),
            // one large enough to split its bands over threads.
            sized(
                geom([1, 9, 16], [1, 3, 3], [1; 3], [0, 1, 1], [1; 3], 1),
                2,
                3,
                7,
            ),
            sized(
                geom([1, 1, 68], [1, 1, 5], [1; 3], [0; 3], [1; 3], 1),
                3,
                16,
                32,
            ),
            sized(
                geom([1, 64, 64], [1, 3, 3], [1; 3], [0, 1, 1], [1; 3], 1),
                1,
                3,
                16,
            ),
            sized(
                geom([1, 20, 64], [1, 3, 3], [1, 2, 2], [0, 1, 1], [1; 3], 1),
                2,
                3,
                5,
            ),
            // Strided forwards run on polyphase planes; their input
            // gradients one plan per phase of gx.
            sized(
                geom([1, 15, 17], [1, 3, 3], [1, 2, 2], [0, 1, 1], [1; 3], 1),
                2,
                3,
                5,
            ),
            sized(
                geom([1, 9, 11], [1, 5, 4], [1, 2, 3], [0, 2, 1], [1, 1, 2], 2),
                2,
                4,
                6,
            ),
            // Dilation a multiple of the stride: every tap reaches the
            // same phases, the others get zeros.
            sized(
                geom([1, 11, 12], [1, 3, 2], [1, 2, 2], [0, 2, 1], [1, 2, 2], 1),
                2,
                3,
                4,
            ),
            sized(
                geom([7, 8, 9], [3, 3, 3], [2; 3], [1; 3], [1; 3], 1),
                1,
                2,
                3,
            ),
            sized(
                geom([1, 1, 50], [1, 1, 7], [1, 1, 3], [0, 0, 3], [1; 3], 1),
                2,
                2,
                4,
            ),
            // Stride 2 along the rows only (the deinterleaving pad_input):
            // 1-d with dilation, and 2-d with stride (1, 2) and odd widths.
            sized(
                geom([1, 1, 41], [1, 1, 3], [1, 1, 2], [0, 0, 2], [1, 1, 2], 1),
                2,
                3,
                5,
            ),
            sized(
                geom([1, 6, 35], [1, 3, 5], [1, 1, 2], [0, 1, 2], [1; 3], 1),
                3,
                2,
                4,
            ),
            // A kernel wider than the padded planes' slack (15 taps).
            sized(
                geom([1, 1, 40], [1, 1, 15], [1; 3], [0, 0, 7], [1; 3], 1),
                2,
                3,
                4,
            ),
            // 1x1 stride 2 (polyphase planes without taps).
            sized(
                geom([1, 9, 10], [1, 1, 1], [1, 2, 2], [0; 3], [1; 3], 1),
                2,
                5,
                3,
            ),
            // Padding past the kernel's half.
            sized(
                geom([1, 8, 9], [1, 3, 3], [1, 2, 2], [0, 2, 2], [1; 3], 1),
                2,
                3,
                4,
            ),
            // Weights too large for the weight gradient's dot products
            // (64 x 288 entries): columns and a GEMM.
            sized(
                geom([1, 9, 10], [1, 3, 3], [1, 2, 2], [0, 1, 1], [1; 3], 1),
                2,
                32,
                64,
            ),
            // Trailing input rows no output reads (explicit output size).
            ConvGeom {
                output: [1, 3, 4],
                ..sized(
                    geom([1, 9, 11], [1, 3, 3], [1, 2, 2], [0, 1, 1], [1; 3], 1),
                    2,
                    4,
                    3,
                )
            },
        ]
    }

    #[test]
    fn implicit_f32_matches_f64_at_any_thread_count() {
        let dots = implicit_cases()
            .iter()
            .filter(|g| implicit::applies_weight_grad_dots(g))
            .count();
        assert!(
            dots > 0 && dots < implicit_cases().len(),
            "both weight-gradient paths"
        );
        for g in implicit_cases() {
            assert!(uses_implicit::<f32>(&g), "{g:?}");
            assert!(implicit::applies_backward_input(&g), "{g:?}");
            let to32 = |v: Vec<f64>| -> Vec<f32> { v.iter().map(|&v| v as f32).collect() };
            let to64 = |v: &[f32]| -> Vec<f64> { v.iter().map(|&v| v as f64).collect() };
            let x = to32(values(g.batch * g.c_in * g.in_plane(), 21));
            let w = to32(values(g.c_out * g.col_rows(), 22));
            let b = to32(values(g.c_out, 23));
            let gy = to32(values(g.batch * g.c_out * g.out_plane(), 24));
            let (xd, wd, bd, gyd) = (to64(&x), to64(&w), to64(&b), to64(&gy));
            let mut want_y = reference(&g, &xd, &wd);
            add_bias(&mut want_y, &bd, g.c_out, g.out_plane());
            let want_gx = backward_input(&g, &gyd, &wd);
            let want_gw = backward_weight(&g, &xd, &gyd);
            let close = |got: &[f32], want: &[f64], what: &str| {
                let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
                let err = got
                    .iter()
                    .zip(want)
                    .fold(0.0f64, |m, (&a, b)| m.max((a as f64 - b).abs()));
                assert!(
                    got.len() == want.len() && err < 1e-5 * scale,
                    "{what} {g:?}: {err}"
                );
            };
            for threads in [1, 2] {
                crate::parallel::set_num_threads(threads);
                close(&forward(&g, &x, &w, Some(&b)), &want_y, "forward");
                close(&backward_input(&g, &gy, &w), &want_gx, "input grad");
                close(&backward_weight(&g, &x, &gy), &want_gw, "weight grad");
            }
        }
    }

    #[test]
    fn large_case_spans_several_tiles() {
        let g = cases().pop().unwrap();
        assert!(tiles(&g).count() > 3, "{}", tile_lines(&g));
    }

    #[test]
    fn im2col_col2im_are_adjoint() {
        for g in cases() {
            let (xl, cl) = (g.cg_in() * g.in_plane(), g.col_rows() * g.out_plane());
            let (x, c) = (values(xl, 1), values(cl, 2));
            let all = (0, g.output[0] * g.output[1]);
            let mut cols = vec![0.0; cl];
            im2col(&g, &x, all, &mut cols);
            let mut back = vec![0.0; xl];
            col2im(&g, &c, all, &mut back);
            assert!((dot(&cols, &c) - dot(&x, &back)).abs() < 1e-9, "{g:?}");
        }
    }

    #[test]
    fn forward_matches_direct_loops() {
        for g in cases() {
            let x = values(g.batch * g.c_in * g.in_plane(), 3);
            let w = values(g.c_out * g.col_rows(), 4);
            let y = forward(&g, &x, &w, None);
            let r = reference(&g, &x, &w);
            assert_eq!(y.len(), r.len());
            assert!(y.iter().zip(&r).all(|(a, b)| (a - b).abs() < 1e-9), "{g:?}");
        }
    }

    #[test]
    fn gradients_are_adjoint_to_forward() {
        // <conv(x, w), gy> = <x, backward_input(gy)> = <w, backward_weight(x, gy)>
        for g in cases() {
            let x = values(g.batch * g.c_in * g.in_plane(), 5);
            let w = values(g.c_out * g.col_rows(), 6);
            let gy = values(g.batch * g.c_out * g.out_plane(), 7);
            let lhs = dot(&forward(&g, &x, &w, None), &gy);
            assert!(
                (lhs - dot(&x, &backward_input(&g, &gy, &w))).abs() < 1e-9,
                "{g:?}"
            );
            assert!(
                (lhs - dot(&w, &backward_weight(&g, &x, &gy))).abs() < 1e-9,
                "{g:?}"
            );
        }
    }

    #[test]
    fn bias_is_added_and_summed() {
        let g = geom([1, 3, 3], [1, 2, 2], [1, 1, 1], [0, 0, 0], [1, 1, 1], 1);
        let x = values(g.batch * g.c_in * g.in_plane(), 8);
        let w = values(g.c_out * g.col_rows(), 9);
        let b = [0.5, -1.0, 2.0];
        let with = forward(&g, &x, &w, Some(&b));
        let mut without = forward(&g, &x, &w, None);
        add_bias(&mut without, &b, g.c_out, g.out_plane());
        assert!(with
            .iter()
            .zip(&without)
            .all(|(a, b)| (a - b).abs() < 1e-12));
        let gb = backward_bias(&vec![1.0; with.len()], g.batch, g.c_out, g.out_plane());
        assert_eq!(gb, vec![(g.batch * g.out_plane()) as f64; 3]);
    }

    #[test]
    fn valid_range_edges() {
        assert_eq!(valid_range(5, 5, 1, -1), (1, 5));
        assert_eq!(valid_range(5, 5, 1, 1), (0, 4));
        assert_eq!(valid_range(3, 5, 2, -1), (1, 3));
        assert_eq!(valid_range(3, 2, 1, 5), (0, 0));
        assert_eq!(valid_range(3, 2, 1, -7), (3, 3));
    }
}
