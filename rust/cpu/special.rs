//! Special functions not in std.

pub fn erf_f64(x: f64) -> f64 {
    libm::erf(x)
}

/// (Phi(x), phi(x)), the standard normal CDF and density: the f64
/// counterpart of `vmath::normal_cdf_pdf_f32`.
pub fn normal_cdf_pdf_f64(x: f64) -> (f64, f64) {
    let cdf = 0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2);
    let inv_sqrt_2pi = 0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;
    (cdf, (-0.5 * x * x).exp() * inv_sqrt_2pi)
}

/// The inverse error function: a rational first guess (central range and
/// tails, as in PyTorch's `calc_erfinv`) refined by Newton steps on erf.
/// erfinv(+-1) = +-inf; |y| > 1 and NaN give NaN; the sign of zero is kept.
pub fn erfinv_f64(y: f64) -> f64 {
    const A: [f64; 4] = [0.886226899, -1.645349621, 0.914624893, -0.140543331];
    const B: [f64; 4] = [-2.118377725, 1.442710462, -0.329097515, 0.012229801];
    const C: [f64; 4] = [-1.970840454, -1.624906493, 3.429567803, 1.641345311];
    const D: [f64; 2] = [3.543889200, 1.637067800];
    let a = y.abs();
    if a.is_nan() || a > 1.0 {
        return f64::NAN;
    }
    if a == 1.0 {
        return f64::INFINITY.copysign(y);
    }
    if y == 0.0 {
        return y;
    }
    let mut x = if a <= 0.7 {
        let z = y * y;
        let num = ((A[3] * z + A[2]) * z + A[1]) * z + A[0];
        let den = (((B[3] * z + B[2]) * z + B[1]) * z + B[0]) * z + 1.0;
        y * num / den
    } else {
        let z = (-((1.0 - a) / 2.0).ln()).sqrt();
        let num = ((C[3] * z + C[2]) * z + C[1]) * z + C[0];
        let den = (D[1] * z + D[0]) * z + 1.0;
        num.copysign(y) / den
    };
    // Newton steps; the guess is good to ~1e-6 and each step squares the
    // relative error. Away from 0 they solve erfc(|x|) = 1 - |y| instead
    // (1 - |y| is exact there): erf(x) - y loses every digit as y nears 1.
    let slope = |x: f64| std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp();
    for _ in 0..4 {
        let step = if a <= 0.5 {
            (libm::erf(x) - y) / slope(x)
        } else {
            let ax = x.abs();
            ((1.0 - a) - libm::erfc(ax)) / slope(ax) * y.signum()
        };
        if !step.is_finite() {
            break;
        }
        x -= step;
    }
    x
}

/// erfinv in float32: the float64 result rounded.
pub fn erfinv_f32(y: f32) -> f32 {
    erfinv_f64(y as f64) as f32
}

/// The digamma function psi(x) = d ln Gamma(x) / dx (Cephes' algorithm, as
/// PyTorch's `calc_digamma`): reflection below 0, the recurrence up to 10,
/// then the asymptotic series. psi(0) = -inf with the sign flipped for -0,
/// NaN at the negative integers.
pub fn digamma_f64(mut x: f64) -> f64 {
    const PSI_10: f64 = 2.251_752_589_066_721;
    if x == 0.0 {
        return f64::INFINITY.copysign(-x);
    }
    if x < 0.0 {
        if x == x.trunc() {
            return f64::NAN;
        }
        let r = x - x.trunc();
        return digamma_f64(1.0 - x) - std::f64::consts::PI / (std::f64::consts::PI * r).tan();
    }
    let mut result = 0.0;
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    if x == 10.0 {
        return result + PSI_10;
    }
    const A: [f64; 7] = [
        8.333_333_333_333_333e-2,
        -2.109_279_609_279_609_4e-2,
        7.575_757_575_757_576e-3,
        -4.166_666_666_666_667e-3,
        3.968_253_968_253_968e-3,
        -8.333_333_333_333_333e-3,
        8.333_333_333_333_333e-2,
    ];
    let y = if x < 1.0e17 {
        let z = 1.0 / (x * x);
        z * A.iter().fold(0.0, |acc, &c| acc * z + c)
    } else {
        0.0
    };
    result + x.ln() - 0.5 / x - y
}

pub fn digamma_f32(x: f32) -> f32 {
    digamma_f64(x as f64) as f32
}

/// The trigamma function psi'(x) (PyTorch's `calc_trigamma`).
pub fn trigamma_f64(mut x: f64) -> f64 {
    let mut sign = 1.0;
    let mut result = 0.0;
    if x < 0.5 {
        sign = -1.0;
        let s = (std::f64::consts::PI * x).sin();
        result -= std::f64::consts::PI * std::f64::consts::PI / (s * s);
        x = 1.0 - x;
    }
    for _ in 0..6 {
        result += 1.0 / (x * x);
        x += 1.0;
    }
    let ixx = 1.0 / (x * x);
    result +=
        (1.0 + 1.0 / (2.0 * x) + ixx * (1.0 / 6.0 - ixx * (1.0 / 30.0 - ixx * (1.0 / 42.0)))) / x;
    sign * result
}

/// trigamma in float32 arithmetic, as PyTorch computes it for float
/// tensors (near the poles its rounding decides the huge value returned).
pub fn trigamma_f32(mut x: f32) -> f32 {
    let pi = std::f32::consts::PI;
    let mut sign = 1.0f32;
    let mut result = 0.0f32;
    if x < 0.5 {
        sign = -1.0;
        let s = (pi * x).sin();
        result -= pi * pi / (s * s);
        x = 1.0 - x;
    }
    for _ in 0..6 {
        result += 1.0 / (x * x);
        x += 1.0;
    }
    let ixx = 1.0 / (x * x);
    result +=
        (1.0 + 1.0 / (2.0 * x) + ixx * (1.0 / 6.0 - ixx * (1.0 / 30.0 - ixx * (1.0 / 42.0)))) / x;
    sign * result
}

/// The Hurwitz zeta function zeta(s, q) = sum_k (k + q)^-s (Cephes' `zeta`,
/// as PyTorch's): direct sum, then the Euler-Maclaurin tail.
pub fn zeta_f64(s: f64, q: f64) -> f64 {
    const MACHEP: f64 = 1.110_223_024_625_156_5e-16;
    const A: [f64; 12] = [
        12.0,
        -720.0,
        30240.0,
        -1_209_600.0,
        47_900_160.0,
        -1.892_437_580_318_379_2e9,
        7.472_424_96e10,
        -2.950_130_727_918_164e12,
        1.164_678_281_435_006_7e14,
        -4.597_978_722_407_473e15,
        1.815_210_540_194_354_7e17,
        -7.166_165_256_175_667e18,
    ];
    if s == 1.0 {
        return f64::INFINITY;
    }
    if s < 1.0 {
        return f64::NAN;
    }
    if q <= 0.0 {
        if q == q.trunc() {
            return f64::INFINITY;
        }
        if s != s.trunc() {
            return f64::NAN;
        }
    }
    let mut sum = q.powf(-s);
    let mut a = q;
    let mut b = 0.0;
    let mut i = 0;
    while i < 9 || a <= 9.0 {
        i += 1;
        a += 1.0;
        b = a.powf(-s);
        sum += b;
        if (-MACHEP * sum < b) && (b < MACHEP * sum) {
            return sum;
        }
    }
    let w = a;
    sum += b * w / (s - 1.0);
    sum -= 0.5 * b;
    let mut a = 1.0;
    let mut k = 0.0;
    for c in A {
        a *= s + k;
        b /= w;
        let t = a * b / c;
        sum += t;
        if (t / sum).abs() < MACHEP {
            return sum;
        }
        k += 1.0;
        a *= s + k;
        b /= w;
        k += 1.0;
    }
    sum
}

/// The polygamma function psi^(n)(x) for n >= 2 (n = 0, 1 are digamma and
/// trigamma): (-1)^(n+1) n! zeta(n + 1, x), as PyTorch computes it.
pub fn polygamma_f64(n: u32, x: f64) -> f64 {
    match n {
        0 => digamma_f64(x),
        1 => trigamma_f64(x),
        _ => {
            let sign = if n % 2 == 1 { 1.0 } else { -1.0 };
            sign * libm::lgamma(n as f64 + 1.0).exp() * zeta_f64(n as f64 + 1.0, x)
        }
    }
}
