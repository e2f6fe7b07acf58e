//! Element types and PyTorch's type-promotion rules.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    /// IEEE half precision (`half::f16`); computed in float32 (see `tensor::half`).
    F16,
    /// bfloat16 (`half::bf16`); computed in float32 (see `tensor::half`).
    BF16,
    F32,
    F64,
}

/// Category used by promotion: a higher category always wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Bool,
    Integer,
    Float,
}

impl DType {
    pub const ALL: [DType; 10] = [
        DType::Bool,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The name PyTorch's C++ messages use (`c10::ScalarType`): "Float", "Long", ...
    pub fn scalar_name(self) -> &'static str {
        match self {
            DType::Bool => "Bool",
            DType::U8 => "Byte",
            DType::I8 => "Char",
            DType::I16 => "Short",
            DType::I32 => "Int",
            DType::I64 => "Long",
            DType::F16 => "Half",
            DType::BF16 => "BFloat16",
            DType::F32 => "Float",
            DType::F64 => "Double",
        }
    }

    /// The C++ element type's name (`c10::toString`), as some of PyTorch's
    /// messages print it ("expected m1 and m2 to have the same dtype, but
    /// got: float != double").
    pub fn c_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "unsigned char",
            DType::I8 => "signed char",
            DType::I16 => "short int",
            DType::I32 => "int",
            DType::I64 => "long int",
            DType::F16 => "c10::Half",
            DType::BF16 => "c10::BFloat16",
            DType::F32 => "float",
            DType::F64 => "double",
        }
    }

    /// The values an integer dtype holds, as f64 (None for floats and bool).
    pub fn integer_range(self) -> Option<(f64, f64)> {
        match self {
            DType::U8 => Some((0.0, 255.0)),
            DType::I8 => Some((-128.0, 127.0)),
            DType::I16 => Some((-32768.0, 32767.0)),
            DType::I32 => Some((i32::MIN as f64, i32::MAX as f64)),
            DType::I64 => Some((i64::MIN as f64, i64::MAX as f64)),
            _ => None,
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        Some(match name {
            "bool" => DType::Bool,
            "uint8" => DType::U8,
            "int8" => DType::I8,
            "int16" | "short" => DType::I16,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "int32" | "int" => DType::I32,
            "int64" | "long" => DType::I64,
            "float32" | "float" => DType::F32,
            "float64" | "double" => DType::F64,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    pub fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => Category::Integer,
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => Category::Float,
        }
    }

    pub fn is_float(self) -> bool {
        self.category() == Category::Float
    }

    /// float16 or bfloat16: stored narrow, computed in float32 (`tensor::half`).
    pub fn is_half(self) -> bool {
        matches!(self, DType::F16 | DType::BF16)
    }

    /// The dtype kernels compute this one in: float32 for the half types.
    pub fn compute_dtype(self) -> DType {
        if self.is_half() {
            DType::F32
        } else {
            self
        }
    }

    /// `torch.promote_types`: the smallest type both operands convert to safely
    /// (PyTorch's lattice: uint8 with a signed type needs a wider signed one,
    /// float16 with bfloat16 meets at float32).
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        if a == b {
            return a;
        }
        let (ca, cb) = (a.category(), b.category());
        if ca != cb {
            return if ca > cb { a } else { b };
        }
        match (a, b) {
            (F16, BF16) | (BF16, F16) => F32,
            (U8, I8) | (I8, U8) => I16,
            // Within a category the wider one holds both.
            _ => {
                if a.size() >= b.size() {
                    a
                } else {
                    b
                }
            }
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "torch.{}", self.name())
    }
}

/// How a value takes part in type promotion (PyTorch's three priority tiers).
#[derive(Clone, Copy, Debug)]
pub enum PromoteArg {
    /// A tensor with at least one dimension.
    Dim(DType),
    /// A zero-dimensional tensor.
    ZeroDim(DType),
    /// A Python number: only its category matters.
    Scalar(Category),
}

/// `torch.result_type` over any mix of tensors and scalars.
pub fn result_type(args: &[PromoteArg]) -> DType {
    let mut dim: Option<DType> = None;
    let mut zero: Option<DType> = None;
    let mut scalar: Option<Category> = None;
    for a in args {
        match *a {
            PromoteArg::Dim(d) => dim = Some(dim.map_or(d, |x| DType::promote(x, d))),
            PromoteArg::ZeroDim(d) => zero = Some(zero.map_or(d, |x| DType::promote(x, d))),
            PromoteArg::Scalar(c) => scalar = Some(scalar.map_or(c, |x| x.max(c))),
        }
    }
    let default_for = |c: Category| match c {
        Category::Bool => DType::Bool,
        Category::Integer => DType::I64,
        Category::Float => DType::F32,
    };
    // Combine a higher tier with a lower one: the lower tier only matters if
    // it is of a higher category.
    let combine = |hi: Option<DType>, lo: Option<DType>| -> Option<DType> {
        match (hi, lo) {
            (Some(h), Some(l)) => {
                if l.category() > h.category() {
                    Some(l)
                } else {
                    Some(h)
                }
            }
            (h, None) => h,
            (None, l) => l,
        }
    };
    let tensors = combine(dim, zero);
    match (tensors, scalar) {
        (Some(t), Some(c)) => {
            if c > t.category() {
                default_for(c)
            } else {
                t
            }
        }
        (Some(t), None) => t,
        (None, Some(c)) => default_for(c),
        (None, None) => DType::F32,
    }
}

/// Rust element types a buffer can hold.
pub trait Elem: Copy + Send + Sync + PartialOrd + Default + 'static + fmt::Debug {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
    fn to_bool(self) -> bool;
    fn from_bool(v: bool) -> Self;
    fn zero() -> Self;
    fn one() -> Self;
}

macro_rules! impl_elem_num {
    ($t:ty, $d:expr) => {
        impl_elem_num!($t, $d, |v: f64| v as $t);
    };
    ($t:ty, $d:expr, $from_f64:expr) => {
        impl Elem for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                ($from_f64)(v)
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_bool(self) -> bool {
                self != (0 as $t)
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                if v {
                    1 as $t
                } else {
                    0 as $t
                }
            }
            #[inline(always)]
            fn zero() -> Self {
                0 as $t
            }
            #[inline(always)]
            fn one() -> Self {
                1 as $t
            }
        }
    };
}
impl_elem_num!(f32, DType::F32);
impl_elem_num!(f64, DType::F64);
// Floats become int64 and int32 as x86's `cvttsd2si` converts them (NaN and
// out of range -> the minimum), as PyTorch's CPU casts do; Rust's `as`
// saturates instead (inf.to(int64) is INT64_MIN in PyTorch).
impl_elem_num!(i64, DType::I64, x86_f64_to_i64);
impl_elem_num!(i32, DType::I32, x86_f64_to_i32);
// uint8 from a float goes through int32 and keeps the low bits (PyTorch:
// full((3,), -1, dtype=uint8) is 255, 300.0 -> 44, 3e9 -> 0).
impl_elem_num!(u8, DType::U8, |v: f64| x86_f64_to_i32(v) as u8);
// int8/int16 from a float: PyTorch's CPU casts go through int32 with x86's
// conversion (out of range or NaN -> INT_MIN), then keep the low bits
// (300.0 -> 44, 1e10 -> 0 as int8).
impl_elem_num!(i16, DType::I16, |v: f64| x86_f64_to_i32(v) as i16);
impl_elem_num!(i8, DType::I8, |v: f64| x86_f64_to_i32(v) as i8);

/// float -> int64 as x86's `cvttsd2si` does it (see `x86_f64_to_i32`).
#[inline(always)]
fn x86_f64_to_i64(v: f64) -> i64 {
    if v > -9223372036854777856.0 && v < 9223372036854775808.0 {
        v as i64
    } else {
        i64::MIN
    }
}

/// float -> int32 as x86's `cvttsd2si` does it: truncation, and INT_MIN for
/// NaN and values out of range (Rust's `as` saturates instead).
#[inline(always)]
fn x86_f64_to_i32(v: f64) -> i32 {
    if v > -2147483649.0 && v < 2147483648.0 {
        v as i32
    } else {
        i32::MIN
    }
}

impl Elem for bool {
    const DTYPE: DType = DType::Bool;
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    fn to_bool(self) -> bool {
        self
    }
    fn from_bool(v: bool) -> Self {
        v
    }
    fn zero() -> Self {
        false
    }
    fn one() -> Self {
        true
    }
}

/// Float element types (the ones autograd and transcendental functions work on).
pub trait Float:
    Elem + num_like::FloatOps + super::storage::BufferElem + crate::cpu::gemm::GemmElem
{
}
impl Float for f32 {}
impl Float for f64 {}

pub mod num_like {
    //! The float operations kernels need, for f32 and f64 alike.
    pub trait FloatOps:
        Copy
        + std::ops::Add<Output = Self>
        + std::ops::Sub<Output = Self>
        + std::ops::Mul<Output = Self>
        + std::ops::Div<Output = Self>
        + std::ops::Neg<Output = Self>
        + std::ops::AddAssign
        + PartialOrd
    {
        fn exp(self) -> Self;
        /// exp that vectorises (f32: polynomial, ~2e-7 relative error).
        fn fast_exp(self) -> Self;
        /// `fast_exp` for self <= 0, cheaper (f32: `vmath::exp_nonpositive_f32`).
        fn fast_exp_nonpositive(self) -> Self;
        fn ln(self) -> Self;
        /// ln that vectorises (f32: `vmath::ln_f32`; f64: libm).
        fn fast_ln(self) -> Self;
        fn ln_1p(self) -> Self;
        fn exp_m1(self) -> Self;
        fn sqrt(self) -> Self;
        fn sin(self) -> Self;
        fn cos(self) -> Self;
        fn tanh(self) -> Self;
        /// ln(1 + x) that vectorises (f32: `vmath::ln_1p_f32`; f64: libm).
        fn fast_ln_1p(self) -> Self;
        /// tanh that vectorises (f32: `vmath::tanh_f32`; f64: libm).
        fn fast_tanh(self) -> Self;
        fn abs(self) -> Self;
        fn powf(self, e: Self) -> Self;
        fn floor(self) -> Self;
        fn trunc_(self) -> Self;
        fn ceil(self) -> Self;
        fn round_even(self) -> Self;
        fn is_nan(self) -> bool;
        fn erf(self) -> Self;
        fn asin(self) -> Self;
        fn acos(self) -> Self;
        fn atan(self) -> Self;
        fn sinh(self) -> Self;
        fn cosh(self) -> Self;
        fn asinh(self) -> Self;
        fn acosh(self) -> Self;
        fn atanh(self) -> Self;
        /// The inverse of erf on (-1, 1); +-inf at +-1, NaN outside.
        fn erfinv(self) -> Self;
        /// 1 - erf, accurate in the tail.
        fn erfc(self) -> Self;
        /// ln |Gamma(x)|.
        fn lgamma(self) -> Self;
        /// psi(x), the derivative of lgamma.
        fn digamma(self) -> Self;
        /// psi'(x).
        fn trigamma(self) -> Self;
        /// (Phi(self), phi(self)): the standard normal CDF and density (GELU's).
        fn normal_cdf_pdf(self) -> (Self, Self);
        fn max_nan(self, o: Self) -> Self;
        fn min_nan(self, o: Self) -> Self;
        fn c(v: f64) -> Self;
    }
    macro_rules! impl_float_ops {
        ($t:ty, $erf:path, $normal_cdf_pdf:path, $fexp:path, $fexp_nonpos:path, $tanh:path, $ln:path, $ln1p:path,
         [$($m:ident = $libm:path),*]) => {
            impl FloatOps for $t {
                // libm (musl's): accurate where std's formulas overflow
                // (asinh/acosh of values above MAX / 2).
                $(
                    #[inline(always)]
                    fn $m(self) -> Self {
                        $libm(self)
                    }
                )*
                #[inline(always)]
                fn exp(self) -> Self {
                    <$t>::exp(self)
                }
                #[inline(always)]
                fn fast_exp(self) -> Self {
                    $fexp(self)
                }
                #[inline(always)]
                fn fast_exp_nonpositive(self) -> Self {
                    $fexp_nonpos(self)
                }
                #[inline(always)]
                fn ln(self) -> Self {
                    <$t>::ln(self)
                }
                #[inline(always)]
                fn fast_ln(self) -> Self {
                    $ln(self)
                }
                #[inline(always)]
                fn ln_1p(self) -> Self {
                    <$t>::ln_1p(self)
                }
                #[inline(always)]
                fn exp_m1(self) -> Self {
                    <$t>::exp_m1(self)
                }
                #[inline(always)]
                fn fast_ln_1p(self) -> Self {
                    $ln1p(self)
                }
                #[inline(always)]
                fn sqrt(self) -> Self {
                    <$t>::sqrt(self)
                }
                #[inline(always)]
                fn sin(self) -> Self {
                    <$t>::sin(self)
                }
                #[inline(always)]
                fn cos(self) -> Self {
                    <$t>::cos(self)
                }
                #[inline(always)]
                fn tanh(self) -> Self {
                    <$t>::tanh(self)
                }
                #[inline(always)]
                fn fast_tanh(self) -> Self {
                    $tanh(self)
                }
                #[inline(always)]
                fn abs(self) -> Self {
                    <$t>::abs(self)
                }
                #[inline(always)]
                fn powf(self, e: Self) -> Self {
                    <$t>::powf(self, e)
                }
                #[inline(always)]
                fn floor(self) -> Self {
                    <$t>::floor(self)
                }
                #[inline(always)]
                fn trunc_(self) -> Self {
                    <$t>::trunc(self)
                }
                #[inline(always)]
                fn ceil(self) -> Self {
                    <$t>::ceil(self)
                }
                #[inline(always)]
                fn round_even(self) -> Self {
                    <$t>::round_ties_even(self)
                }
                #[inline(always)]
                fn is_nan(self) -> bool {
                    <$t>::is_nan(self)
                }
                #[inline(always)]
                fn erf(self) -> Self {
                    $erf(self)
                }
                #[inline(always)]
                fn normal_cdf_pdf(self) -> (Self, Self) {
                    $normal_cdf_pdf(self)
                }
                /// NaN-propagating maximum, as torch.maximum.
                #[inline(always)]
                fn max_nan(self, o: Self) -> Self {
                    if self.is_nan() || o.is_nan() {
                        <$t>::NAN
                    } else if self > o {
                        self
                    } else {
                        o
                    }
                }
                #[inline(always)]
                fn min_nan(self, o: Self) -> Self {
                    if self.is_nan() || o.is_nan() {
                        <$t>::NAN
                    } else if self < o {
                        self
                    } else {
                        o
                    }
                }
                #[inline(always)]
                fn c(v: f64) -> Self {
                    v as $t
                }
            }
        };
    }
    impl_float_ops!(
        f32,
        crate::cpu::vmath::erf_f32,
        crate::cpu::vmath::normal_cdf_pdf_f32,
        crate::cpu::vmath::exp_f32,
        crate::cpu::vmath::exp_nonpositive_f32,
        crate::cpu::vmath::tanh_f32,
        crate::cpu::vmath::ln_f32,
        crate::cpu::vmath::ln_1p_f32,
        [
            asin = libm::asinf,
            acos = libm::acosf,
            atan = libm::atanf,
            sinh = libm::sinhf,
            cosh = libm::coshf,
            asinh = libm::asinhf,
            acosh = libm::acoshf,
            atanh = libm::atanhf,
            erfinv = crate::cpu::special::erfinv_f32,
            erfc = libm::erfcf,
            lgamma = libm::lgammaf,
            digamma = crate::cpu::special::digamma_f32,
            trigamma = crate::cpu::special::trigamma_f32
        ]
    );
    impl_float_ops!(
        f64,
        crate::cpu::special::erf_f64,
        crate::cpu::special::normal_cdf_pdf_f64,
        f64::exp,
        f64::exp,
        f64::tanh,
        f64::ln,
        f64::ln_1p,
        [
            asin = libm::asin,
            acos = libm::acos,
            atan = libm::atan,
            sinh = libm::sinh,
            cosh = libm::cosh,
            asinh = libm::asinh,
            acosh = libm::acosh,
            atanh = libm::atanh,
            erfinv = crate::cpu::special::erfinv_f64,
            erfc = libm::erfc,
            lgamma = libm::lgamma,
            digamma = crate::cpu::special::digamma_f64,
            trigamma = crate::cpu::special::trigamma_f64
        ]
    );
}
