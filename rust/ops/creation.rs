//! Tensor factories: constants, ranges, identity, and random tensors.

use crate::dispatch_all;
use crate::error::{Error, Result};
use crate::tensor::access::buffer_from_f64;
use crate::tensor::storage::BufferElem;
use crate::tensor::{Buffer, DType, Device, Tensor};
use parking_lot::Mutex;

pub fn full(shape: &[usize], value: f64, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    dispatch_all!(dtype, T => {
        let v: T = crate::tensor::access::cast_elem::<f64, T>(value);
        // From the buffer cache: a fresh large allocation costs a page fault
        // per 4 KiB (torch.zeros of 1M floats took 4x PyTorch's time).
        let mut buf = crate::tensor::pool::uninit_vec::<T>(n);
        crate::parallel::fill_chunks(&mut buf, |_, c| c.fill(v));
        Tensor::from_vec(buf, shape)
    })
}

/// A fill value must be representable in an integer dtype, as PyTorch
/// checks ("value cannot be converted to type int64_t without overflow").
pub fn check_fits(v: f64, dtype: DType) -> Result<()> {
    // The half types' finite values end early (c10::Half has 65504).
    let half_max = match dtype {
        DType::F16 => Some((65504.0, "c10::Half")),
        DType::BF16 => Some((3.3895313892515355e38, "c10::BFloat16")),
        _ => None,
    };
    if let Some((max, name)) = half_max {
        if v.is_finite() && v.abs() > max {
            return Err(Error::Runtime(format!(
                "value cannot be converted to type {name} without overflow"
            )));
        }
        return Ok(());
    }
    let Some((lo, hi)) = dtype.integer_range() else {
        return Ok(());
    };
    // c10's rule for unsigned types accepts -max..max (-1 wraps to 255).
    let lo = if lo == 0.0 { -hi } else { lo };
    // (A float truncates toward 0 first: 127.9 fits int8, -128.5 too.)
    // (`v >= lo` as well: int64's lo - 1 rounds back to lo in f64, and -2**63 fits.)
    if v.is_finite() && (v > lo - 1.0 || v >= lo) && v < hi + 1.0 {
        return Ok(());
    }
    let name = match dtype {
        DType::U8 => "uint8_t",
        DType::I8 => "int8_t",
        DType::I16 => "int16_t",
        DType::I32 => "int",
        _ => "int64_t",
    };
    Err(Error::Runtime(format!(
        "value cannot be converted to type {name} without overflow"
    )))
}

/// `check_fits` for a value that may be a float: c10 converts a float
/// (double) strictly, so a negative float overflows an unsigned type
/// (`full((), -1.5, dtype=uint8)` raises where `-1` wraps to 255), and NaN or
/// an infinity overflows any integer type.
pub fn check_fits_scalar(v: f64, is_float: bool, dtype: DType) -> Result<()> {
    if is_float && v.is_finite() && v < 0.0 && dtype == DType::U8 {
        return Err(Error::Runtime(
            "value cannot be converted to type uint8_t without overflow".into(),
        ));
    }
    check_fits(v, dtype)
}

pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
    Tensor::zeros(shape, dtype)
}

/// `full` on `device`.
pub fn full_on(shape: &[usize], value: f64, dtype: DType, device: Device) -> Result<Tensor> {
    match device {
        Device::Cpu => Ok(full(shape, value, dtype)),
        Device::Wgpu => crate::gpu::ops::full(shape, value, dtype),
        Device::Meta => Ok(Tensor::meta(shape, dtype)),
    }
}

/// Zeros of `shape` on `device`.
pub fn zeros_on(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
    full_on(shape, 0.0, dtype, device)
}

/// A 0-d tensor holding `v` in `like`'s dtype (for scalars inside formulas).
pub fn scalar_like(v: f64, like: &Tensor) -> Tensor {
    full(&[], v, like.dtype())
}

pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
    let n = arange_len(start, end, step)?;
    Ok(arange_fill(start, step, n, dtype))
}

/// The number of elements of `arange(start, end, step)`, after PyTorch's
/// checks of the bounds and step.
pub fn arange_len(start: f64, end: f64, step: f64) -> Result<usize> {
    let show = |v: f64| format!("{v}").to_lowercase();
    if !step.is_finite() {
        return Err(Error::Runtime(format!(
            "step must be finite but got {}",
            show(step)
        )));
    }
    if !start.is_finite() || !end.is_finite() {
        return Err(Error::Runtime(format!(
            "unsupported range: {} -> {}",
            show(start),
            show(end)
        )));
    }
    if step == 0.0 {
        return Err(Error::Runtime("step must be nonzero".into()));
    }
    if (step > 0.0 && end < start) || (step < 0.0 && end > start) {
        return Err(Error::Runtime(format!(
            "upper bound and larger bound inconsistent with step sign (start={start}, end={end}, step={step})"
        )));
    }
    let n = ((end - start) / step).ceil().max(0.0);
    if n >= i64::MAX as f64 {
        return Err(Error::Runtime(format!(
            "invalid size, possible overflow? (start={start}, end={end}, step={step})"
        )));
    }
    Ok(n as usize)
}

fn arange_fill(start: f64, step: f64, n: usize, dtype: DType) -> Tensor {
    // Straight into a cached buffer of the result's dtype (an f64 vector and
    // a converted copy, both fresh, cost 47x PyTorch's time in page faults).
    // The loops count with an induction variable of the arithmetic's type,
    // which vectorises (an index converted per element did not).
    // An integer result counts from the truncated start by the truncated
    // step (the length still comes from the exact bounds), as PyTorch.
    let integral = !dtype.is_float();
    dispatch_all!(dtype, T => {
        let mut buf = crate::tensor::pool::uninit_vec::<T>(n);
        crate::parallel::fill_chunks(&mut buf, |first, c| {
            if integral {
                let (s, st) = (start as i64, step as i64);
                let mut v = s.wrapping_add((first as i64).wrapping_mul(st));
                for o in c.iter_mut() {
                    *o = crate::tensor::access::cast_elem::<i64, T>(v);
                    v = v.wrapping_add(st);
                }
            } else if first + c.len() <= i32::MAX as usize {
                // (i32 -> f64 converts in vector lanes; i64 -> f64 needs AVX-512.)
                for (k, o) in (first as i32..).zip(c.iter_mut()) {
                    *o = crate::tensor::access::cast_elem::<f64, T>(start + k as f64 * step);
                }
            } else {
                for (k, o) in (first..).zip(c.iter_mut()) {
                    *o = crate::tensor::access::cast_elem::<f64, T>(start + k as f64 * step);
                }
            }
        });
        Tensor::from_vec(buf, &[n])
    })
}

/// PyTorch converts the ends it reads (none for 0 steps, the start for 1)
/// to an integer dtype with an overflow check on the truncated value (uint8
/// also takes -255..-1, which wrap).
pub fn check_linspace_ends(start: f64, end: f64, steps: usize, dtype: DType) -> Result<()> {
    // (lowest accepted, one past the highest) as exact f64 values
    let (lo, past_hi, name) = match dtype {
        DType::U8 => (-255.0, 256.0, "uint8_t"),
        DType::I8 => (-128.0, 128.0, "int8_t"),
        DType::I16 => (-32768.0, 32768.0, "int16_t"),
        DType::I32 => (-2147483648.0, 2147483648.0, "int"),
        DType::I64 => (-9223372036854775808.0, 9223372036854775808.0, "int64_t"),
        _ => return Ok(()),
    };
    let read = match steps {
        0 => &[][..],
        1 => &[start][..],
        _ => &[start, end][..],
    };
    for &v in read {
        let t = v.trunc();
        if t.is_nan() || t < lo || t >= past_hi {
            return Err(Error::Runtime(format!(
                "value cannot be converted to type {name} without overflow"
            )));
        }
    }
    Ok(())
}

pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Tensor {
    // An integer result steps between the truncated ends, as PyTorch.
    let (start, end) = match dtype.is_float() {
        true => (start, end),
        false => (start.trunc(), end.trunc()),
    };
    let vals: Vec<f64> = if steps == 1 {
        vec![start]
    } else {
        let step = (end - start) / (steps - 1) as f64;
        // Symmetric evaluation from both ends, as PyTorch does.
        let half = steps / 2;
        (0..steps)
            .map(|i| {
                if i < half {
                    start + step * i as f64
                } else {
                    end - step * (steps - 1 - i) as f64
                }
            })
            .collect()
    };
    Tensor::from_buffer(buffer_from_f64(&vals, dtype), &[steps])
}

pub fn eye(n: usize, m: usize, dtype: DType) -> Tensor {
    let mut vals = vec![0.0; n * m];
    for i in 0..n.min(m) {
        vals[i * m + i] = 1.0;
    }
    Tensor::from_buffer(buffer_from_f64(&vals, dtype), &[n, m])
}

// ---- random numbers ----

/// xoshiro256** seeded through splitmix64: small, fast, reproducible.
pub struct Rng {
    s: [u64; 4],
    /// Second value of the last Box-Muller pair.
    spare_normal: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E3779B97F4A7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D049BB133111EB);
            x ^ (x >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
            spare_normal: None,
        }
    }
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    pub fn normal(&mut self) -> f64 {
        if let Some(v) = self.spare_normal.take() {
            return v;
        }
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (2.0 * std::f64::consts::PI * u2).sin_cos();
        self.spare_normal = Some(r * s);
        r * c
    }
    /// Uniforms in [0, 1) with 24 random bits each, two per draw.
    pub fn fill_uniform_f32(&mut self, out: &mut [f32]) {
        const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
        let mut pairs = out.chunks_exact_mut(2);
        for p in &mut pairs {
            let v = self.next_u64();
            p[0] = (v >> 40) as f32 * SCALE;
            p[1] = ((v >> 8) & 0xFF_FFFF) as f32 * SCALE;
        }
        if let [last] = pairs.into_remainder() {
            *last = (self.next_u64() >> 40) as f32 * SCALE;
        }
    }
    /// Uniforms in [0, 1) with 53 random bits each.
    pub fn fill_uniform_f64(&mut self, out: &mut [f64]) {
        out.iter_mut().for_each(|o| *o = self.uniform());
    }
    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's nearly-divisionless method would be faster; this is exact.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
    pub fn state(&self) -> [u64; 4] {
        self.s
    }
    pub fn set_state(&mut self, s: [u64; 4]) {
        self.s = s;
        self.spare_normal = None;
    }
}

pub static GLOBAL_RNG: Mutex<Option<Rng>> = Mutex::new(None);

pub fn manual_seed(seed: u64) {
    *GLOBAL_RNG.lock() = Some(Rng::new(seed));
}

/// Run `f` with the global generator (seeded from the clock on first use).
pub fn with_rng<R>(f: impl FnOnce(&mut Rng) -> R) -> R {
    let mut g = GLOBAL_RNG.lock();
    let rng = g.get_or_insert_with(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Rng::new(t)
    });
    f(rng)
}

fn from_values<T: BufferElem>(vals: Vec<f64>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(vals.into_iter().map(T::from_f64).collect::<Vec<T>>(), shape)
}

fn float_only(dtype: DType, what: &str) -> Result<()> {
    if !dtype.is_float() {
        return Err(Error::not_implemented(what, dtype));
    }
    Ok(())
}

/// Uniform in [low, high).
pub fn rand(
    shape: &[usize],
    low: f64,
    high: f64,
    dtype: DType,
    rng: Option<&mut Rng>,
) -> Result<Tensor> {
    float_only(dtype, "check_uniform_bounds")?;
    let n: usize = shape.iter().product();
    let gen = |r: &mut Rng| match dtype {
        DType::F64 => {
            let mut v = crate::tensor::pool::uninit_vec::<f64>(n);
            r.fill_uniform_f64(&mut v);
            v.iter_mut().for_each(|u| *u = low + (high - low) * *u);
            f64::wrap(v)
        }
        _ => {
            let mut v = crate::tensor::pool::uninit_vec::<f32>(n);
            r.fill_uniform_f32(&mut v);
            let (low, span) = (low as f32, (high - low) as f32);
            v.iter_mut().for_each(|u| *u = low + span * *u);
            f32::wrap(v)
        }
    };
    let vals = match rng {
        Some(r) => gen(r),
        None => with_rng(gen),
    };
    // (half types: drawn as float32, rounded)
    Ok(crate::tensor::half::narrow(
        Tensor::from_buffer(vals, shape),
        dtype,
    ))
}

/// Normal with the given mean and std.
pub fn randn(
    shape: &[usize],
    mean: f64,
    std: f64,
    dtype: DType,
    rng: Option<&mut Rng>,
) -> Result<Tensor> {
    float_only(dtype, "normal_kernel_cpu")?;
    if std < 0.0 {
        return Err(Error::Runtime(format!(
            "normal expects std >= 0.0, but found std {std}"
        )));
    }
    let n: usize = shape.iter().product();
    let out = match rng {
        Some(r) => normal_values(r, n, mean, std, dtype),
        None => with_rng(|r| normal_values(r, n, mean, std, dtype)),
    };
    Ok(crate::tensor::half::narrow(
        Tensor::from_buffer(out, shape),
        dtype,
    ))
}

/// `n` normal values: uniforms drawn in order, transformed in blocks
/// (`cpu::normal`); the last partial block through a scratch block.
fn normal_values(r: &mut Rng, n: usize, mean: f64, std: f64, dtype: DType) -> Buffer {
    use crate::cpu::normal::{normal_from_uniform_f32, normal_from_uniform_f64, BLOCK};
    let full = n / BLOCK * BLOCK;
    macro_rules! fill {
        ($T:ty, $uniform:ident, $normal:ident) => {{
            let mut v = crate::tensor::pool::uninit_vec::<$T>(n);
            r.$uniform(&mut v[..full]);
            $normal(&mut v[..full], mean, std);
            if full < n {
                let mut tail = [0.0 as $T; BLOCK];
                r.$uniform(&mut tail);
                $normal(&mut tail, mean, std);
                v[full..].copy_from_slice(&tail[..n - full]);
            }
            <$T as BufferElem>::wrap(v)
        }};
    }
    match dtype {
        DType::F64 => fill!(f64, fill_uniform_f64, normal_from_uniform_f64),
        // (Other float types: only f32 and f64 exist; `float_only` checked.)
        _ => fill!(f32, fill_uniform_f32, normal_from_uniform_f32),
    }
}

/// Integers uniform in [low, high).
pub fn randint(
    low: i64,
    high: i64,
    shape: &[usize],
    dtype: DType,
    rng: Option<&mut Rng>,
) -> Result<Tensor> {
    if high <= low {
        return Err(Error::Runtime(format!(
            "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )));
    }
    let n: usize = shape.iter().product();
    let span = (high - low) as u64;
    let gen = |r: &mut Rng| {
        (0..n)
            .map(|_| (low + r.below(span) as i64) as f64)
            .collect::<Vec<f64>>()
    };
    let vals = match rng {
        Some(r) => gen(r),
        None => with_rng(gen),
    };
    Ok(dispatch_all!(dtype, T => from_values::<T>(vals, shape)))
}

/// A random permutation of 0..n (Fisher-Yates).
pub fn randperm(n: usize, rng: Option<&mut Rng>) -> Vec<i64> {
    let mut p: Vec<i64> = (0..n as i64).collect();
    let shuffle = |r: &mut Rng, p: &mut Vec<i64>| {
        for i in (1..p.len()).rev() {
            let j = r.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
    };
    match rng {
        Some(r) => shuffle(r, &mut p),
        None => with_rng(|r| shuffle(r, &mut p)),
    }
    p
}

/// Bernoulli(p) mask values 0/1 in `dtype` (for dropout).
pub fn bernoulli(shape: &[usize], p: f64, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let vals = with_rng(|r| {
        (0..n)
            .map(|_| if r.uniform() < p { 1.0 } else { 0.0 })
            .collect::<Vec<f64>>()
    });
    Tensor::from_buffer(buffer_from_f64(&vals, dtype), shape)
}
