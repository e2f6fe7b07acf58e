//! Vectorisable math: an `exp` made only of multiplies, adds and bit
//! operations, so loops calling it compile to SIMD (libm's `expf` is a call
//! per element). Cephes' single-precision polynomial: relative error about
//! 2e-7 on the clamped range, below float32 rounding of most results.

/// e^x for f32, branch-free, over the whole range: inf above ln(f32::MAX),
/// subnormal results down to e^-103.9 and 0 below (so exp(-inf) = 0), NaN
/// kept.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // n = round(x log2 e) stays within [-150, 128].
    let (y, n) = exp_reduced(x.clamp(-104.0, 88.73));
    // 2^n as 2^(n/2) 2^(n - n/2), both normal floats: the product overflows
    // to inf past ln(f32::MAX) and rounds once into the subnormals below
    // e^-87.3 (three integer operations and a multiply more than one scale).
    let half = (n >> 1) << 23;
    let whole = (n + 127) << 23;
    let s1 = f32::from_bits((half + (127 << 23)) as u32);
    let s2 = f32::from_bits((whole - half) as u32);
    y * s1 * s2
}

/// e^x for x <= 0 (softmax, log-softmax, cross-entropy, the normal
/// density: arguments shifted by their maximum), in fewer operations than
/// `exp_f32`: one scale 2^n, whose exponent field is 0 for n = -127, so
/// results below e^-87.7 are 0 (exp(-inf) = 0: masked entries exactly zero)
/// and the subnormals above that are kept. Larger x saturate at e^88.4.
#[inline(always)]
pub fn exp_nonpositive_f32(x: f32) -> f32 {
    // n = round(x log2 e) within [-127, 127].
    let (y, n) = exp_reduced(x.clamp(-88.0, 88.376_26));
    y * f32::from_bits(((n + 127) << 23) as u32)
}

/// (e^r, n) with x = n ln 2 + r, |r| <= ln(2)/2, for a clamped x: Cephes'
/// single-precision polynomial (relative error about 2e-7).
#[inline(always)]
fn exp_reduced(x: f32) -> (f32, i32) {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // round-to-nearest by the 1.5 * 2^23 trick (plain adds, SSE2-friendly)
    const MAGIC: f32 = 12_582_912.0;
    let t = x.mul_add(LOG2E, MAGIC);
    let n = t - MAGIC;
    let r = (-n).mul_add(C1, x);
    let r = (-n).mul_add(C2, r);
    // Estrin's scheme (pairs, then powers of r): half the dependent steps of
    // Horner's, which matters in long element functions like GELU's, whose
    // loops are bound by latency (few iterations fit in the out-of-order
    // window).
    let r2 = r * r;
    let p01 = 0.166_666_65_f32.mul_add(r, 0.5);
    let p23 = 8.333_452e-3_f32.mul_add(r, 4.166_579_6e-2);
    let p45 = 1.987_569_1e-4_f32.mul_add(r, 1.398_199_9e-3);
    let p = p45.mul_add(r2, p23).mul_add(r2, p01);
    let y = p.mul_add(r2, r) + 1.0;
    // n is an integer in the mantissa of t.
    (y, (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32))
}

/// Natural log for f32 without branches, so loops over it vectorise (libm's
/// logf is a call per element). x = m * 2^e with m in [sqrt(1/2), sqrt(2)),
/// ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^11/11) with s = (m-1)/(m+1),
/// |s| <= 0.172 (the next term is below 3e-9 relative); ln 2 in two parts.
/// Subnormals are scaled by 2^23 first; 0 -> -inf, negative -> NaN, inf and
/// NaN kept.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let tiny = x < f32::MIN_POSITIVE;
    let xs = if tiny { x * 8_388_608.0 } else { x };
    let bits = xs.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127 - if tiny { 23 } else { 0 };
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let high = m > std::f32::consts::SQRT_2;
    let m = if high { m * 0.5 } else { m };
    let e = (if high { e + 1 } else { e }) as f32;
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let p = 1.0 / 11.0_f32;
    let p = p.mul_add(z, 1.0 / 9.0);
    let p = p.mul_add(z, 1.0 / 7.0);
    let p = p.mul_add(z, 1.0 / 5.0);
    let p = p.mul_add(z, 1.0 / 3.0);
    let r = e * LN2_HI + (2.0 * s + (2.0 * s * z * p + e * LN2_LO));
    if x > 0.0 && x < f32::INFINITY {
        r
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x < 0.0 {
        f32::NAN
    } else {
        x // +inf or NaN
    }
}

/// ln(1 + x) for f32 without branches, from `ln_f32`: with w = 1 + x
/// rounded, ln(w) * x / (w - 1) cancels the rounding of w (Goldberg's
/// identity), so small x keep their relative accuracy; w == 1 gives x.
/// -1 -> -inf, below -1 -> NaN, inf and NaN kept.
#[inline(always)]
pub fn ln_1p_f32(x: f32) -> f32 {
    let w = 1.0 + x;
    // One log, then selects (a second call in a branch kept loops scalar).
    let l = ln_f32(w);
    let r = l * (x / (w - 1.0));
    if w == 1.0 {
        x
    } else if w == f32::INFINITY || w == 0.0 {
        l
    } else {
        r
    }
}

/// tanh for f32 without branches, so loops over it vectorise (libm's tanhf
/// is a call per element: 20-26 ns, against ~1 here). |x| < 0.5: the odd
/// Taylor series to x^15 (the next term is below 1e-8 relative there);
/// otherwise 1 - 2 / (e^(2|x|) + 1), which has no cancellation for results
/// >= 0.46. |x| is capped at 10, where tanh rounds to 1.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs().min(10.0);
    let big = 1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0);
    let z = a * a;
    let p = -929_569.0 / 638_512_875.0_f32;
    let p = p.mul_add(z, 21_844.0 / 6_081_075.0);
    let p = p.mul_add(z, -1_382.0 / 155_925.0);
    let p = p.mul_add(z, 62.0 / 2_835.0);
    let p = p.mul_add(z, -17.0 / 315.0);
    let p = p.mul_add(z, 2.0 / 15.0);
    let p = p.mul_add(z, -1.0 / 3.0);
    let small = a + a * z * p;
    let r = if a < 0.5 { small } else { big };
    if x.is_nan() {
        x
    } else {
        r.copysign(x)
    }
}

/// erf for f32 without branches, so loops over it vectorise (libm's erff is
/// a call per element: exact GELU took 10 ms per million values). Both
/// pieces are least-squares fits made for this function (Chebyshev nodes, in
/// float64), checked in float32 against float64 erf:
/// - |x| < 1: x + x q(x^2), q of degree 6, within 1 ulp relative;
/// - |x| >= 1: 1 - e^(-x^2) r(t), t = 1 / (1 + |x|/2), r of degree 7 fitting
///   erfc(x) e^(x^2) on [1, 4]; |x| is capped at 4, where erf rounds to 1.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let a = x.abs().min(4.0);
    let z = a * a;
    let q = 8.010484e-05_f32;
    let q = q.mul_add(z, -0.0008051752);
    let q = q.mul_add(z, 0.005192274);
    let q = q.mul_add(z, -0.026855407);
    let q = q.mul_add(z, 0.1128361);
    let q = q.mul_add(z, -0.37612626);
    let q = q.mul_add(z, 0.12837917);
    let small = a + a * q;
    let t = 1.0 / (1.0 + 0.5 * a);
    let r = 0.11928063_f32;
    let r = r.mul_add(t, -0.47104993);
    let r = r.mul_add(t, 0.5631671);
    let r = r.mul_add(t, -0.10361797);
    let r = r.mul_add(t, 0.34784374);
    let r = r.mul_add(t, 0.25966668);
    let r = r.mul_add(t, 0.28491703);
    let r = r.mul_add(t, -0.00015454405);
    let large = 1.0 - exp_f32(-z) * r;
    let e = if a < 1.0 { small } else { large };
    if x.is_nan() {
        x
    } else {
        e.copysign(x)
    }
}

/// The standard normal distribution's CDF and density, (Phi(x), phi(x)), for
/// f32 without branches: GELU's pieces. Phi(x) = erfc(-x/sqrt 2) / 2, taken
/// from erfc(|x|/sqrt 2) on both sides (1 + erf(x) would cancel for negative
/// x), and phi shares its exponential. erfc(a) = e^(-a^2) r(t) with t = 1 /
/// (1 + a/2) and r of degree 9: a least-squares fit of erfc(a) e^(a^2) over a
/// in [0, 10] made for this function, within 3.5e-7 relative. x^2/2 is
/// split exactly with an FMA (x/2 is exact), so the exponential keeps that
/// accuracy in the tail. Below x = -13.2 (Phi < 5e-40) the tail is 0.
#[inline(always)]
pub fn normal_cdf_pdf_f32(x: f32) -> (f32, f32) {
    const CUTOFF: f32 = 13.2; // e^(-x^2/2) stays above exp_f32's clamp
    let xa = x.abs().min(14.0);
    let half = xa * 0.5;
    let z = half * xa;
    let dz = half.mul_add(xa, -z);
    let e = exp_nonpositive_f32(-z);
    // a = |x|/sqrt 2, t = 1 / (1 + a/2)
    let t = 1.0 / xa.mul_add(std::f32::consts::FRAC_1_SQRT_2 * 0.5, 1.0);
    // Estrin's scheme, as in `exp_f32`: depth 4 instead of 9.
    let t2 = t * t;
    let t4 = t2 * t2;
    let p01 = 0.282_196_28_f32.mul_add(t, -4.925_994e-6);
    let p23 = 0.248_475_4_f32.mul_add(t, 0.281_342_95);
    let p45 = 0.008_011_045_f32.mul_add(t, 0.185_588_57);
    let p67 = (-0.451_375_7_f32).mul_add(t, 0.233_258_05);
    let p89 = (-0.055_951_133_f32).mul_add(t, 0.268_459_4);
    let low = p23.mul_add(t2, p01);
    let high = p67.mul_add(t2, p45);
    let r = p89.mul_add(t4, high).mul_add(t4, low);
    // e^(-z - dz) = e^(-z) (1 - dz). The exponential is the longest chain, so
    // every other factor (and the cut-off) is applied to what multiplies it.
    let keep = if xa > CUTOFF { 0.0 } else { 1.0 - dz };
    let tail = e * (r * (0.5 * keep));
    let pdf = e * (keep * 0.398_942_3);
    let cdf = if x < 0.0 { tail } else { 1.0 - tail };
    (cdf, pdf)
}

/// Maximum of a slice (NaN if any element is NaN; -inf for an empty slice),
/// in 8 lanes so it vectorises. Always inlined, so that it takes the
/// instruction set of a multiversioned caller.
#[inline(always)]
pub fn max_lanes<T: crate::tensor::dtype::Float>(x: &[T]) -> T {
    let neg = T::c(f64::NEG_INFINITY);
    let mut acc = [neg; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for ch in chunks {
        for j in 0..8 {
            let v = ch[j];
            acc[j] = if v > acc[j] || v.is_nan() { v } else { acc[j] };
        }
    }
    let mut m = neg;
    for &v in acc.iter().chain(rest) {
        if v > m || v.is_nan() {
            m = v;
        }
        if m.is_nan() {
            return m;
        }
    }
    m
}

/// Sum of a slice in 32 partial sums of the slice's type, combined in f64.
/// (Four vectors of f32 lanes: one accumulator would wait on each add's
/// latency, 8 lanes per 3 cycles.)
#[inline(always)]
pub fn sum_lanes<T: crate::tensor::dtype::Float>(x: &[T]) -> f64 {
    sum_lanes_of(x, |v| v)
}

/// Sum of squares of a slice, as `sum_lanes` (the 2-norm's).
#[inline(always)]
pub fn sum_squares_lanes<T: crate::tensor::dtype::Float>(x: &[T]) -> f64 {
    sum_lanes_of(x, |v| v * v)
}

#[inline(always)]
fn sum_lanes_of<T: crate::tensor::dtype::Float>(x: &[T], term: impl Fn(T) -> T) -> f64 {
    const LANES: usize = 32;
    let mut acc = [T::zero(); LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for ch in chunks {
        for j in 0..LANES {
            acc[j] += term(ch[j]);
        }
    }
    // (Plain loops: an iterator chain here became a separate baseline-code
    // function; combining the lanes in several f64 chains or halving them
    // first made LLVM vectorise the main loop worse, 2x slower.)
    let mut total = 0.0;
    for &v in &acc {
        total += v.to_f64();
    }
    for &v in rest {
        total += term(v).to_f64();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_to_float_precision() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.7 {
            let a = exp_f32(x) as f64;
            let b = (x as f64).exp();
            worst = worst.max(((a - b) / b).abs());
            x += 0.000_37;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        // Subnormal results: within one step of the subnormal spacing.
        let mut x = -103.9f32;
        while x < -87.0 {
            let (a, b) = (exp_f32(x) as f64, (x as f64).exp());
            assert!((a - b).abs() <= 1.5e-45 + 5e-7 * b, "{x}: {a} vs {b}");
            x += 0.0013;
        }
        assert_eq!(exp_f32(0.0), 1.0);
        let top = (88.72f32 as f64).exp();
        assert!((exp_f32(88.72) as f64 - top).abs() < 5e-7 * top);
        for x in [88.73, 89.0, 1000.0, f32::INFINITY] {
            assert_eq!(exp_f32(x), f32::INFINITY, "{x}");
        }
        for x in [-104.0, -1000.0, f32::NEG_INFINITY] {
            assert_eq!(exp_f32(x), 0.0, "{x}");
        }
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn exp_nonpositive_matches_exp_down_to_its_cutoff() {
        let mut x = -87.6f32;
        while x <= 0.0 {
            let (a, b) = (exp_nonpositive_f32(x), exp_f32(x));
            assert!((a - b).abs() <= 1.5e-45 + 1e-7 * b, "{x}: {a} vs {b}");
            x += 0.00071;
        }
        for x in [-87.8, -100.0, f32::NEG_INFINITY] {
            assert_eq!(exp_nonpositive_f32(x), 0.0, "{x}");
        }
        assert!(exp_nonpositive_f32(f32::NAN).is_nan());
    }
}
