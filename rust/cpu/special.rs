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
