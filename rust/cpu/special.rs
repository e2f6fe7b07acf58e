//! Special functions not in std.

pub fn erf_f64(x: f64) -> f64 {
    libm::erf(x)
}

/// (erfc(a), e^(-a^2)): the f64 counterpart of `vmath::erfc_gauss_f32`.
pub fn erfc_gauss_f64(a: f64) -> (f64, f64) {
    (libm::erfc(a), (-a * a).exp())
}
