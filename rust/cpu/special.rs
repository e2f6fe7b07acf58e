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
