//! Pooling kernels on contiguous slices (no autograd).
//!
//! Every pooling op (max, avg, adaptive, 1/2/3-d) is described the same way:
//! the input is `planes` contiguous planes of spatial size `[D, H, W]` (1-d and
//! 2-d pooling use D = 1, H = 1), and along each spatial dim every output
//! position `o` reads the input positions `first + j * step` for `j < count`
//! (its window, already clipped to the input). One kernel then serves all ops.

use super::planes::{for_planes, for_planes2};
use crate::tensor::dtype::Float;

/// The window of one output position along one dim, clipped to the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Win {
    pub first: usize,
    pub count: usize,
    pub step: usize,
    /// Window size counting padding (avg_pool with count_include_pad).
    pub padded: usize,
}

/// Output size of a strided window along one dim, as PyTorch's
/// `pooling_output_shape` (may be <= 0 for inputs that are too small).
pub fn out_size(input: usize, k: usize, stride: usize, pad: usize, dil: usize, ceil: bool) -> i64 {
    let (i, k, s, p, d) = (
        input as i64,
        k as i64,
        stride as i64,
        pad as i64,
        dil as i64,
    );
    let num = i + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut o = num.div_euclid(s) + 1;
    // The last window must start inside the input or the left padding.
    if ceil && (o - 1) * s >= i + p {
        o -= 1;
    }
    o
}

/// Windows of a strided (max/avg) pooling along one dim.
pub fn strided_windows(
    input: usize,
    out: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
) -> Vec<Win> {
    (0..out)
        .map(|o| {
            let start = (o * stride) as i64 - pad as i64;
            let (d, k) = (dil as i64, k as i64);
            // First and one-past-last tap index j with 0 <= start + j*d < input.
            let j0 = if start < 0 { (-start + d - 1) / d } else { 0 };
            let j1 = ((input as i64 - start + d - 1) / d).clamp(0, k);
            let count = (j1 - j0).max(0) as usize;
            let end_padded = (start + k).min(input as i64 + pad as i64);
            Win {
                first: (start + j0 * d).max(0) as usize,
                count,
                step: dil,
                padded: (end_padded - start) as usize,
            }
        })
        .collect()
}

/// Windows of an adaptive pooling along one dim: [floor(o*I/O), ceil((o+1)*I/O)).
pub fn adaptive_windows(input: usize, out: usize) -> Vec<Win> {
    (0..out)
        .map(|o| {
            let s = o * input / out;
            let e = ((o + 1) * input).div_ceil(out);
            Win {
                first: s,
                count: e - s,
                step: 1,
                padded: e - s,
            }
        })
        .collect()
}

/// Spatial geometry of one pooling call.
pub struct Geom {
    pub input: [usize; 3],
    pub wins: [Vec<Win>; 3],
}

impl Geom {
    pub fn in_plane(&self) -> usize {
        self.input.iter().product()
    }
    pub fn out_plane(&self) -> usize {
        self.wins.iter().map(|w| w.len()).product()
    }
    /// With one window over the whole plane (global average pooling, as in
    /// ResNet's head: `adaptive_avg_pool2d(x, 1)`), that window's divisor.
    fn global_divisor(&self, div: Divisor) -> Option<f64> {
        let global = self.wins.iter().zip(self.input).all(|(w, n)| {
            w.len() == 1 && w[0].first == 0 && (w[0].count == n) && (w[0].step == 1 || n == 1)
        });
        global.then(|| divisor(div, &self.wins[0][0], &self.wins[1][0], &self.wins[2][0]))
    }
    /// Calls `f(out_index_in_plane, wd, wh, ww)` for every output position.
    #[inline]
    fn for_each_out(&self, mut f: impl FnMut(usize, &Win, &Win, &Win)) {
        let mut o = 0;
        for wd in &self.wins[0] {
            for wh in &self.wins[1] {
                for ww in &self.wins[2] {
                    f(o, wd, wh, ww);
                    o += 1;
                }
            }
        }
    }
    /// Calls `f(row_start, count, step)` for every row of one window: the
    /// window's inputs in that row are `row_start + j * step`, `j < count`.
    #[inline(always)]
    fn for_each_row(&self, wd: &Win, wh: &Win, ww: &Win, mut f: impl FnMut(usize, usize, usize)) {
        let [_, h, w] = self.input;
        for a in 0..wd.count {
            let d = wd.first + a * wd.step;
            for b in 0..wh.count {
                f(
                    (d * h + wh.first + b * wh.step) * w + ww.first,
                    ww.count,
                    ww.step,
                );
            }
        }
    }
    /// True for the common 2x2 stride-2 unpadded, undilated 2-d window.
    fn is_2x2_s2(&self) -> bool {
        let full2 = |ws: &Vec<Win>| {
            ws.iter()
                .enumerate()
                .all(|(o, w)| w.first == 2 * o && w.count == 2 && w.step == 1)
        };
        self.input[0] == 1
            && self.wins[0].len() == 1
            && self.wins[0][0].count == 1
            && full2(&self.wins[1])
            && full2(&self.wins[2])
    }
}

/// Max pooling forward: values and, when `need_idx`, the flat in-plane
/// argmax. As PyTorch: the first maximum wins, a NaN always wins (so the
/// last NaN's index is kept), and an all -inf window points at its first input.
pub fn max_forward<T: Float>(x: &[T], g: &Geom, need_idx: bool) -> (Vec<T>, Option<Vec<i64>>) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    let planes = x.len().checked_div(ip).unwrap_or(0);
    let mut out = crate::tensor::pool::uninit_vec::<T>(planes * op);
    let mut idx =
        crate::tensor::pool::uninit_vec::<i64>(if need_idx { planes * op } else { planes });
    let nidx = if need_idx { op } else { 1 };
    let fast = g.is_2x2_s2();
    for_planes2(&mut out, op, &mut idx, nidx, x.len(), |p, o, ix| {
        let xp = &x[p * ip..(p + 1) * ip];
        match (fast, need_idx) {
            (true, true) => {
                max_2x2::<T, true>(xp, g.input[2], g.wins[1].len(), g.wins[2].len(), o, ix)
            }
            (true, false) => {
                max_2x2::<T, false>(xp, g.input[2], g.wins[1].len(), g.wins[2].len(), o, ix)
            }
            (false, true) => max_plane::<T, true>(xp, g, o, ix),
            (false, false) => max_plane::<T, false>(xp, g, o, ix),
        }
    });
    (out, need_idx.then_some(idx))
}

/// PyTorch's max update rule: `val > max || isnan(val)`.
#[inline(always)]
fn beats<T: Float>(v: T, m: T) -> bool {
    v > m || v.is_nan()
}

/// Max pooling of one plane through the generic windows.
fn max_plane<T: Float, const IDX: bool>(xp: &[T], g: &Geom, o: &mut [T], ix: &mut [i64]) {
    g.for_each_out(|k, wd, wh, ww| {
        let mut m = T::c(f64::NEG_INFINITY);
        let mut mi = usize::MAX;
        g.for_each_row(wd, wh, ww, |start, count, step| {
            if mi == usize::MAX && count > 0 {
                mi = start;
            }
            if step == 1 {
                for (j, &v) in xp[start..start + count].iter().enumerate() {
                    if beats(v, m) {
                        m = v;
                        if IDX {
                            mi = start + j;
                        }
                    }
                }
            } else {
                for j in 0..count {
                    let v = xp[start + j * step];
                    if beats(v, m) {
                        m = v;
                        if IDX {
                            mi = start + j * step;
                        }
                    }
                }
            }
        });
        o[k] = m;
        if IDX {
            ix[k] = if mi == usize::MAX { -1 } else { mi as i64 };
        }
    });
}

/// 2x2 stride-2 max pooling of one plane of width `w` (the hot CNN case).
/// Written as selects, not branches, so that it vectorises (AVX2 when the CPU
/// has it); the select chain keeps PyTorch's order: first maximum, NaN wins.
fn max_2x2<T: Float, const IDX: bool>(
    x: &[T],
    w: usize,
    oh: usize,
    ow: usize,
    out: &mut [T],
    idx: &mut [i64],
) {
    if IDX {
        max_2x2_idx(x, w, oh, ow, out, idx)
    } else {
        max_2x2_val(x, w, oh, ow, out)
    }
}

crate::multiversion! {
    fn max_2x2_val(x: &[T], w: usize, oh: usize, ow: usize, out: &mut [T]) => max_2x2_val_impl
}

crate::multiversion! {
    fn max_2x2_idx(x: &[T], w: usize, oh: usize, ow: usize, out: &mut [T], idx: &mut [i64]) => max_2x2_idx_impl
}

#[inline(always)]
fn max_2x2_val_impl<T: Float>(x: &[T], w: usize, oh: usize, ow: usize, out: &mut [T]) {
    for r in 0..oh {
        let (r0, r1) = (&x[2 * r * w..][..2 * ow], &x[(2 * r + 1) * w..][..2 * ow]);
        for ((o, a), b) in out[r * ow..][..ow]
            .iter_mut()
            .zip(r0.chunks_exact(2))
            .zip(r1.chunks_exact(2))
        {
            let m = pick(a[1], a[0]);
            let m = pick(b[0], m);
            *o = pick(b[1], m);
        }
    }
}

#[inline(always)]
fn max_2x2_idx_impl<T: Float>(
    x: &[T],
    w: usize,
    oh: usize,
    ow: usize,
    out: &mut [T],
    idx: &mut [i64],
) {
    let w64 = w as i64;
    for r in 0..oh {
        let (r0, r1) = (&x[2 * r * w..][..2 * ow], &x[(2 * r + 1) * w..][..2 * ow]);
        let top = (2 * r * w) as i64;
        for (c, (((o, i), a), b)) in out[r * ow..][..ow]
            .iter_mut()
            .zip(&mut idx[r * ow..][..ow])
            .zip(r0.chunks_exact(2))
            .zip(r1.chunks_exact(2))
            .enumerate()
        {
            let (mut m, mut off) = (a[0], 0i64);
            for (v, d) in [(a[1], 1), (b[0], w64), (b[1], w64 + 1)] {
                let t = beats(v, m);
                m = if t { v } else { m };
                off = if t { d } else { off };
            }
            *o = m;
            *i = top + 2 * c as i64 + off;
        }
    }
}

/// `v` if it beats `m` under PyTorch's max rule, else `m`.
#[inline(always)]
fn pick<T: Float>(v: T, m: T) -> T {
    if beats(v, m) {
        v
    } else {
        m
    }
}

/// Scatter-add `gy` into a zero input-sized gradient at the flat in-plane
/// `idx` of each plane (backward of max pooling; also max_unpool forward).
pub fn scatter_planes<T: Float>(
    gy: &[T],
    idx: &[i64],
    out_plane: usize,
    in_plane: usize,
    planes: usize,
) -> Vec<T> {
    // Each plane is zeroed right before its scatter, while it is in cache
    // (zeroing the whole output first costs a second trip through memory).
    let mut gx = crate::tensor::pool::uninit_vec::<T>(planes * in_plane);
    for_planes(&mut gx, in_plane, gy.len() + planes * in_plane, |p, gp| {
        gp.fill(T::zero());
        let (gs, is) = (
            &gy[p * out_plane..(p + 1) * out_plane],
            &idx[p * out_plane..(p + 1) * out_plane],
        );
        for (&g, &i) in gs.iter().zip(is) {
            if i >= 0 && (i as usize) < in_plane {
                gp[i as usize] += g;
            }
        }
    });
    gx
}

/// Place `x` at the flat per-plane `idx` of a zero output with `out_plane`
/// elements per plane (max_unpool). Indices were checked by the caller.
pub fn unpool_planes<T: Float>(
    x: &[T],
    idx: &[i64],
    in_plane: usize,
    out_plane: usize,
    planes: usize,
) -> Vec<T> {
    let mut out = crate::tensor::pool::uninit_vec::<T>(planes * out_plane);
    for_planes(
        &mut out,
        out_plane,
        x.len() + planes * out_plane,
        |p, op| {
            op.fill(T::zero());
            let (xs, is) = (
                &x[p * in_plane..(p + 1) * in_plane],
                &idx[p * in_plane..(p + 1) * in_plane],
            );
            for (&v, &i) in xs.iter().zip(is) {
                if let Some(o) = op.get_mut(i as usize) {
                    *o = v;
                }
            }
        },
    );
    out
}

/// Gather `x[idx]` per plane (backward of max_unpool).
pub fn gather_planes<T: Float>(
    x: &[T],
    idx: &[i64],
    out_plane: usize,
    in_plane: usize,
    planes: usize,
) -> Vec<T> {
    let mut out = crate::tensor::pool::zeroed_vec::<T>(planes * out_plane);
    let work = out.len();
    for_planes(&mut out, out_plane, work, |p, op| {
        let (xs, is) = (
            &x[p * in_plane..(p + 1) * in_plane],
            &idx[p * out_plane..(p + 1) * out_plane],
        );
        for (o, &i) in op.iter_mut().zip(is) {
            if i >= 0 && (i as usize) < in_plane {
                *o = xs[i as usize];
            }
        }
    });
    out
}

/// How an average divides its window sum.
#[derive(Clone, Copy, Debug)]
pub enum Divisor {
    /// A fixed divisor (`divisor_override`).
    Fixed(f64),
    /// The window size including padding (`count_include_pad=True`).
    Padded,
    /// The number of input elements in the window.
    Valid,
}

fn divisor(div: Divisor, wd: &Win, wh: &Win, ww: &Win) -> f64 {
    match div {
        Divisor::Fixed(d) => d,
        Divisor::Padded => (wd.padded * wh.padded * ww.padded) as f64,
        Divisor::Valid => (wd.count * wh.count * ww.count) as f64,
    }
}

/// Average pooling forward (strided or adaptive, depending on the windows).
pub fn avg_forward<T: Float>(x: &[T], g: &Geom, div: Divisor) -> Vec<T> {
    let (ip, op) = (g.in_plane(), g.out_plane());
    let planes = x.len().checked_div(ip).unwrap_or(0);
    let mut out = crate::tensor::pool::uninit_vec::<T>(planes * op);
    if let Some(d) = g.global_divisor(div) {
        // Each plane is one run of memory: summed in vector lanes.
        crate::cpu::sum::run_sums(x, ip, &mut out, crate::cpu::sum::Terms::Values);
        out.iter_mut().for_each(|o| *o = T::c(o.to_f64() / d));
        return out;
    }
    for_planes(&mut out, op, x.len(), |p, o| {
        let xp = &x[p * ip..(p + 1) * ip];
        g.for_each_out(|k, wd, wh, ww| {
            // One running sum over the window, as PyTorch's kernels (row
            // sums added up differ at -inf, 3e38, 3e38: NaN against -inf).
            let mut s = T::zero();
            g.for_each_row(wd, wh, ww, |start, count, step| {
                if step == 1 {
                    s = xp[start..start + count].iter().fold(s, |a, &v| a + v);
                } else {
                    (0..count).for_each(|j| s += xp[start + j * step]);
                }
            });
            o[k] = s / T::c(divisor(div, wd, wh, ww));
        });
    });
    out
}

/// Average pooling of int64, as PyTorch's kernel: the window summed in
/// int64 (wrapping on overflow), then divided with truncation toward zero.
pub fn avg_forward_i64(x: &[i64], g: &Geom, div: Divisor) -> Vec<i64> {
    let (ip, op) = (g.in_plane(), g.out_plane());
    let planes = x.len().checked_div(ip).unwrap_or(0);
    let mut out = vec![0i64; planes * op];
    for_planes(&mut out, op, x.len(), |p, o| {
        let xp = &x[p * ip..(p + 1) * ip];
        g.for_each_out(|k, wd, wh, ww| {
            let mut s = 0i64;
            g.for_each_row(wd, wh, ww, |start, count, step| {
                (0..count).for_each(|j| s = s.wrapping_add(xp[start + j * step]));
            });
            o[k] = s.wrapping_div(divisor(div, wd, wh, ww) as i64);
        });
    });
    out
}

/// Average pooling backward: each output gradient spread over its window.
pub fn avg_backward<T: Float>(gy: &[T], g: &Geom, div: Divisor, planes: usize) -> Vec<T> {
    let (ip, op) = (g.in_plane(), g.out_plane());
    let mut gx = crate::tensor::pool::uninit_vec::<T>(planes * ip);
    let global = g.global_divisor(div);
    for_planes(&mut gx, ip, gy.len() + planes * ip, |p, gp| {
        let gs = &gy[p * op..(p + 1) * op];
        if let Some(d) = global {
            return gp.fill(gs[0] / T::c(d));
        }
        gp.fill(T::zero());
        g.for_each_out(|k, wd, wh, ww| {
            let v = gs[k] / T::c(divisor(div, wd, wh, ww));
            g.for_each_row(wd, wh, ww, |start, count, step| {
                (0..count).for_each(|j| gp[start + j * step] += v)
            });
        });
    });
    gx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom2(h: usize, w: usize, wh: Vec<Win>, ww: Vec<Win>) -> Geom {
        Geom {
            input: [1, h, w],
            wins: [adaptive_windows(1, 1), wh, ww],
        }
    }

    #[test]
    fn output_sizes_match_pytorch() {
        assert_eq!(out_size(11, 2, 2, 0, 1, false), 5);
        assert_eq!(out_size(10, 3, 2, 0, 1, true), 5);
        assert_eq!(out_size(8, 2, 2, 1, 1, true), 5);
        // ceil_mode must not start a window in the right padding
        assert_eq!(out_size(5, 2, 2, 1, 1, true), 3);
        assert_eq!(out_size(11, 3, 2, 1, 2, false), 5);
        assert!(out_size(1, 3, 1, 0, 1, false) <= 0);
    }

    #[test]
    fn windows_clip_padding_and_dilation() {
        let w = strided_windows(5, 3, 3, 2, 1, 1);
        assert_eq!((w[0].first, w[0].count, w[0].padded), (0, 2, 3));
        assert_eq!((w[2].first, w[2].count, w[2].padded), (3, 2, 3));
        let d = strided_windows(11, 5, 3, 2, 1, 2);
        // start -1, taps -1, 1, 3 -> 1, 3
        assert_eq!((d[0].first, d[0].count, d[0].step), (1, 2, 2));
        let a = adaptive_windows(9, 4);
        assert_eq!(
            a.iter().map(|w| (w.first, w.count)).collect::<Vec<_>>(),
            vec![(0, 3), (2, 3), (4, 3), (6, 3)]
        );
    }

    #[test]
    fn max_pool_first_tie_and_fast_path_agree() {
        let x: Vec<f32> = vec![
            1.0, 1.0, 0.0, 2.0, 1.0, 0.0, 2.0, 2.0, 5.0, 5.0, 3.0, 3.0, 5.0, 5.0, 3.0, 4.0,
        ];
        let g = geom2(
            4,
            4,
            strided_windows(4, 2, 2, 2, 0, 1),
            strided_windows(4, 2, 2, 2, 0, 1),
        );
        assert!(g.is_2x2_s2());
        let (v, i) = max_forward(&x, &g, true);
        let i = i.unwrap();
        assert_eq!(max_forward(&x, &g, false).0, v);
        assert_eq!(v, vec![1.0, 2.0, 5.0, 4.0]);
        assert_eq!(i, vec![0, 3, 8, 15]);
        let (mut v2, mut i2) = (vec![0.0f32; 4], vec![0i64; 4]);
        max_plane::<f32, true>(&x, &g, &mut v2, &mut i2);
        assert_eq!((v2, i2), (v, i.clone()));
        let gx = scatter_planes(&[1.0f32, 2.0, 3.0, 4.0], &i, 4, 16, 1);
        assert_eq!(gx[0] + gx[3] + gx[8] + gx[15], 10.0);
    }

    #[test]
    fn max_2x2_fast_path_matches_generic_with_nans_ties_and_odd_sizes() {
        // values from a small set so ties are common; NaN and -inf mixed in
        let pool = [0.0f32, 1.0, -1.0, 2.0, f32::NAN, f32::NEG_INFINITY];
        for (h, w) in [(4, 4), (5, 7), (9, 33), (2, 18)] {
            let x: Vec<f32> = (0..h * w)
                .map(|i| pool[(i * 7 + i / 3) % pool.len()])
                .collect();
            let g = geom2(
                h,
                w,
                strided_windows(h, h / 2, 2, 2, 0, 1),
                strided_windows(w, w / 2, 2, 2, 0, 1),
            );
            assert!(g.is_2x2_s2());
            let (v, i) = max_forward(&x, &g, true);
            let n = v.len();
            let (mut v2, mut i2) = (vec![0.0f32; n], vec![0i64; n]);
            max_plane::<f32, true>(&x, &g, &mut v2, &mut i2);
            let same = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
            };
            assert!(same(&v, &v2), "{h}x{w}: {v:?} vs {v2:?}");
            assert_eq!(i.unwrap(), i2, "{h}x{w}");
            assert!(same(&max_forward(&x, &g, false).0, &v2));
        }
    }

    #[test]
    fn avg_pool_divisors() {
        let x: Vec<f64> = (0..5).map(|v| v as f64).collect();
        let g = Geom {
            input: [1, 1, 5],
            wins: [
                adaptive_windows(1, 1),
                adaptive_windows(1, 1),
                strided_windows(5, 3, 3, 2, 1, 1),
            ],
        };
        assert_eq!(
            avg_forward(&x, &g, Divisor::Padded),
            vec![1.0 / 3.0, 2.0, 7.0 / 3.0]
        );
        assert_eq!(avg_forward(&x, &g, Divisor::Valid), vec![0.5, 2.0, 3.5]);
        let gx = avg_backward(&[1.0f64, 1.0, 1.0], &g, Divisor::Valid, 1);
        assert_eq!(
            gx,
            vec![0.5, 0.5 + 1.0 / 3.0, 1.0 / 3.0, 0.5 + 1.0 / 3.0, 0.5]
        );
    }
}
