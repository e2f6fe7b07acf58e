//! Special functions not in std.

pub fn erf_f32(x: f32) -> f32 {
    libm::erff(x)
}

pub fn erf_f64(x: f64) -> f64 {
    libm::erf(x)
}
