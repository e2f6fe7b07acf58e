//! Scalar arithmetic with PyTorch's semantics for every numeric dtype.

pub trait Arith: Copy + PartialOrd + Send + Sync + 'static {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// Division as the dtype does it (integers: truncation; only used where
    /// PyTorch keeps an integer type, e.g. floor division).
    fn div(self, o: Self) -> Self;
    /// `torch.floor_divide`: rounds toward negative infinity.
    fn floor_div(self, o: Self) -> Self;
    /// `torch.remainder`: the result has the sign of the divisor (Python's %).
    fn rem(self, o: Self) -> Self;
    fn pow(self, o: Self) -> Self;
    /// NaN-propagating max / min.
    fn maxv(self, o: Self) -> Self;
    fn minv(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    fn sign(self) -> Self;
    fn is_nan(self) -> bool;
}

macro_rules! impl_float_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self / o
            }
            #[inline(always)]
            fn floor_div(self, o: Self) -> Self {
                // PyTorch's div_floor: from fmod, so that x // inf and x // -inf
                // are exact and a quotient a hair below an integer rounds as
                // the exact one would.
                if o == 0.0 {
                    return self / o;
                }
                let m = self % o;
                let mut q = (self - m) / o;
                if m != 0.0 && (o < 0.0) != (m < 0.0) {
                    q -= 1.0;
                }
                if q == 0.0 {
                    return (0.0 as $t).copysign(self / o);
                }
                let f = q.floor();
                if q - f > 0.5 {
                    f + 1.0
                } else {
                    f
                }
            }
            #[inline(always)]
            fn rem(self, o: Self) -> Self {
                let r = self % o;
                if r != 0.0 && ((r < 0.0) != (o < 0.0)) {
                    r + o
                } else {
                    r
                }
            }
            #[inline(always)]
            fn pow(self, o: Self) -> Self {
                self.powf(o)
            }
            #[inline(always)]
            fn maxv(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else if self > o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn minv(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else if self < o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn neg(self) -> Self {
                -self
            }
            #[inline(always)]
            fn abs(self) -> Self {
                self.abs()
            }
            #[inline(always)]
            fn sign(self) -> Self {
                // sign(NaN) = sign(-0.0) = 0.0, as PyTorch.
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                self.is_nan()
            }
        }
    };
}
impl_float_arith!(f32);
impl_float_arith!(f64);

macro_rules! impl_int_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                if o == 0 {
                    0
                } else {
                    self.wrapping_div(o)
                }
            }
            #[inline(always)]
            fn floor_div(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let q = self.wrapping_div(o);
                #[allow(unused_comparisons)]
                let neg = (self.wrapping_rem(o) != 0) && ((self < 0) != (o < 0));
                if neg {
                    q.wrapping_sub(1)
                } else {
                    q
                }
            }
            #[inline(always)]
            fn rem(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(o);
                #[allow(unused_comparisons)]
                let fix = r != 0 && ((r < 0) != (o < 0));
                if fix {
                    r.wrapping_add(o)
                } else {
                    r
                }
            }
            #[inline(always)]
            fn pow(self, o: Self) -> Self {
                // A negative exponent: 1 and -1 stay on the unit circle,
                // every other base truncates to 0 (PyTorch's integer pow).
                #[allow(unused_comparisons)]
                if o < 0 {
                    #[allow(unused_comparisons)]
                    return match self {
                        1 => 1,
                        _ if self == (0 as Self).wrapping_sub(1) && self < 0 => {
                            if o.wrapping_rem(2) == 0 {
                                1
                            } else {
                                self
                            }
                        }
                        _ => 0,
                    };
                }
                // Squaring with wrapping products, over the whole exponent
                // (`o as u32` cut int64 exponents past 2^32 short).
                let (mut base, mut e, mut acc) = (self, o as u64, 1 as Self);
                while e > 0 {
                    if e & 1 == 1 {
                        acc = acc.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                acc
            }
            #[inline(always)]
            fn maxv(self, o: Self) -> Self {
                if self > o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn minv(self, o: Self) -> Self {
                if self < o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn neg(self) -> Self {
                (0 as $t).wrapping_sub(self)
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn abs(self) -> Self {
                if self < 0 {
                    (0 as $t).wrapping_sub(self)
                } else {
                    self
                }
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn sign(self) -> Self {
                if self > 0 {
                    1
                } else if self < 0 {
                    (0 as $t).wrapping_sub(1)
                } else {
                    0
                }
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                false
            }
        }
    };
}
impl_int_arith!(i64);
impl_int_arith!(i32);
impl_int_arith!(u8);
impl_int_arith!(i16);
impl_int_arith!(i8);
