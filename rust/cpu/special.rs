//! Special functions not in std.

pub fn erf_f64(x: f64) -> f64 {
    libm::erf(x)
}
