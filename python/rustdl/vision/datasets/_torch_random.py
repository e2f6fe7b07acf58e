"""PyTorch's CPU generator, reproduced in numpy for ``FakeData``.

torchvision's ``FakeData`` draws image ``i`` as ``torch.randn(*image_size)`` right
after ``torch.manual_seed(i + random_offset)``, then its target with ``torch.randint``.
rustdl's own generator is not PyTorch's, so to give torchvision's very pixels this
module replays PyTorch's algorithm:

- the engine is MT19937 seeded with ``init_genrand(seed)`` — numpy's legacy
  ``RandomState(seed)`` is that same engine and seeding, and
  ``randint(0, 2**32, dtype=uint32)`` hands out its raw 32-bit outputs in order;
- a float32 uniform is ``(u32 & 0xFFFFFF) / 2**24``; a float64 one takes 64 bits
  from two outputs (``first << 32 | second``) and keeps the low 53;
- ``randn`` of a contiguous float32 tensor with >= 16 elements draws all uniforms,
  then turns each block of 16 into normals by Box-Muller (first 8 give radii, last 8
  angles: cosines first, sines second); when the size is not a multiple of 16 the
  last 16 values are redrawn from 16 fresh uniforms. On AVX2 CPUs the maths is
  avx_mathfun's Cephes polynomials in float32 with the multiply-adds fused as
  GCC contracts them; they are replayed below operation by operation (float32
  products, fused multiply-adds exact in float64 then rounded), which reproduces
  PyTorch 2.x's values bit for bit (tested against recorded tensors);
- fewer than 16 elements use the scalar float64 Box-Muller, which keeps its second
  value for the next call;
- ``randint(low, high)`` with a range below 2**32 is ``low + u32 % range``.
"""

import numpy as np

_F = np.float32
_D = np.float64
_MIN_NORM = np.array(0x00800000, dtype=np.int32).view(_F)
_LOG_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
          -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)


def _fma(a, b, c):
    """float32 fused multiply-add: the float32 product is exact in float64."""
    return (np.asarray(a, _D) * np.asarray(b, _D) + np.asarray(c, _D)).astype(_F)


def _log(x):
    """avx_mathfun's ``log256_ps`` (Cephes logf), x > 0."""
    x = np.maximum(x.astype(_F), _MIN_NORM)
    bits = x.view(np.int32)
    exponent = (bits.view(np.uint32) >> 23).astype(np.int32) - 0x7F
    x = ((bits & ~0x7F800000) | np.array(_F(0.5)).view(np.int32)).view(_F)
    e = exponent.astype(_F) + _F(1)
    small = x < _F(0.707106781186547524)
    x = (x - _F(1)) + np.where(small, x, _F(0))
    e = e - np.where(small, _F(1), _F(0))
    z = x * x
    y = np.full_like(x, _F(_LOG_P[0]))
    for c in _LOG_P[1:]:
        y = _fma(y, x, _F(c))
    y = y * x
    y = _fma(y, z, e * _F(-2.12194440e-4))
    y = _fma(-z, _F(0.5), y)
    return _fma(e, _F(0.693359375), x + y)


def _sincos(x):
    """avx_mathfun's ``sincos256_ps`` (Cephes sinf/cosf), x >= 0 here."""
    x = x.astype(_F)
    sign_sin = np.signbit(x)
    x = np.abs(x)
    j = (x * _F(1.27323954473516)).astype(np.int32)
    j = (j + 1) & ~1
    y = j.astype(_F)
    sign_sin = sign_sin ^ ((j & 4) != 0)
    sine_poly = (j & 2) == 0
    sign_cos = (~(j - 2) & 4) != 0
    x = _fma(y, _F(-0.78515625), x)
    x = _fma(y, _F(-2.4187564849853515625e-4), x)
    x = _fma(y, _F(-3.77489497744594108e-8), x)
    z = x * x
    c = _fma(_fma(np.full_like(x, _F(2.443315711809948e-5)), z, _F(-1.388731625493765e-3)), z,
             _F(4.166664568298827e-2))
    c = _fma(c * z, z, -(z * _F(0.5))) + _F(1)
    s = _fma(_fma(np.full_like(x, _F(-1.9515295891e-4)), z, _F(8.3321608736e-3)), z, _F(-1.6666654611e-1))
    s = _fma(s * z, x, x)
    sin = np.where(sine_poly, s, c)
    cos = np.where(sine_poly, c, s)
    return np.where(sign_sin, -sin, sin), np.where(sign_cos, -cos, cos)


class TorchCPUGenerator:
    """The part of ``torch.Generator`` (CPU) that ``FakeData`` needs, seeded as
    ``torch.manual_seed(seed)``."""

    def __init__(self, seed):
        self._engine = np.random.RandomState(int(seed) & 0xFFFFFFFF)
        self._next_double_normal = None

    def _u32(self, n):
        return self._engine.randint(0, 2**32, size=n, dtype=np.uint32)

    def _uniform_f32(self, n):
        return ((self._u32(n) & 0xFFFFFF).astype(_D) / (1 << 24)).astype(_F)

    def _uniform_f64(self):
        hi, lo = (int(v) for v in self._u32(2))
        return (((hi << 32) | lo) & ((1 << 53) - 1)) / float(1 << 53)

    @staticmethod
    def _box_muller_16(u):
        u = u.reshape(-1, 16)
        radius = np.sqrt(_F(-2) * _log(_F(1) - u[:, :8]))
        sin, cos = _sincos(_F(2 * np.pi) * u[:, 8:])
        return np.concatenate([radius * cos, radius * sin], axis=1).ravel()

    def randn(self, *shape):
        """``torch.randn(*shape)`` (float32) as a numpy array."""
        n = int(np.prod(shape, dtype=np.int64))
        if n < 16:
            out = np.empty(n, _F)
            for i in range(n):
                out[i] = self._normal_f64()
            return out.reshape(shape)
        u = self._uniform_f32(n)
        full = n - n % 16
        out = np.empty(n, _F)
        out[:full] = self._box_muller_16(u[:full])
        if n % 16:
            # PyTorch redraws the last 16 values from 16 new uniforms
            out[n - 16:] = self._box_muller_16(self._uniform_f32(16))
        return out.reshape(shape)

    def _normal_f64(self):
        if self._next_double_normal is not None:
            v, self._next_double_normal = self._next_double_normal, None
            return v
        u1 = self._uniform_f64()
        u2 = self._uniform_f64()
        r = np.sqrt(-2.0 * np.log1p(-u2))
        theta = 2.0 * np.pi * u1
        self._next_double_normal = r * np.sin(theta)
        return r * np.cos(theta)

    def randint(self, low, high):
        """One ``torch.randint(low, high, (1,))`` value (range below 2**32)."""
        span = high - low
        if span <= 0:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
        if span >= 2**32:
            raise ValueError("ranges of 2**32 or more are not reproduced")
        return low + int(self._u32(1)[0]) % span
