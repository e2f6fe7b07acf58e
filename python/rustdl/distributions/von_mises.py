"""VonMises(loc, concentration): the circular normal on [-pi, pi); density
exp(kappa cos(x - loc)) / (2 pi I0(kappa)). Draws by Best and Fisher's (1979) rejection method
in float64."""

import math
import numbers

import rustdl

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["VonMises"]

# Abramowitz and Stegun 9.8.1-9.8.4: polynomial approximations of the modified Bessel functions
# I0 and I1 (relative error below ~2e-7), small-argument series in (x / 3.75)^2 and large-argument
# series of sqrt(x) exp(-x) I(x) in 3.75 / x
_I0_SMALL = [1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.0360768, 0.0045813]
_I0_LARGE = [0.39894228, 0.01328592, 0.00225319, -0.00157565, 0.00916281, -0.02057706, 0.02635537,
             -0.01647633, 0.00392377]
_I1_SMALL = [0.5, 0.87890594, 0.51498869, 0.15084934, 0.02658733, 0.00301532, 0.00032411]
_I1_LARGE = [0.39894228, -0.03988024, -0.00362018, 0.00163801, -0.01031555, 0.02282967, -0.02895312,
             0.01787654, -0.00420059]


def _polynomial(t, coefficients):
    result = rustdl.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = result * t + c
    return result


def log_bessel_i(x, order=0):
    """log I_order(x) for x > 0, order 0 or 1."""
    small, large = (_I0_SMALL, _I0_LARGE) if order == 0 else (_I1_SMALL, _I1_LARGE)
    # each branch sees x only where it is chosen (a stand-in elsewhere), so the other's overflow
    # or division by zero cannot reach the gradient
    small_side = x < 3.75
    x_small = rustdl.where(small_side, x, rustdl.ones_like(x))
    y = (x_small / 3.75).pow(2)
    log_small = _polynomial(y, small).log()
    if order == 1:
        log_small = x_small.log() + log_small
    x_large = rustdl.where(small_side, rustdl.full_like(x, 3.75), x)
    log_large = x_large - 0.5 * x_large.log() + _polynomial(3.75 / x_large, large).log()
    return rustdl.where(small_side, log_small, log_large)


class VonMises(Distribution):
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}  # noqa: RUF012 (read-only, as PyTorch)
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        scalar = isinstance(loc, numbers.Number) and isinstance(concentration, numbers.Number)
        super().__init__(() if scalar else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_parameters(VonMises, batch_shape, ("loc", "concentration"), _instance)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * (value - self.loc).cos() - math.log(2 * math.pi)
                - log_bessel_i(self.concentration, order=0))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        """The circular variance 1 - I1(kappa) / I0(kappa)."""
        return 1 - (log_bessel_i(self.concentration, order=1) - log_bessel_i(self.concentration, order=0)).exp()

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with rustdl.no_grad():
            kappa = self.concentration.double().expand(shape).contiguous()
            # Best-Fisher envelope: a wrapped Cauchy with parameter rho = (tau - sqrt(2 tau)) / (2 kappa)
            tau = 1 + (1 + 4 * kappa.pow(2)).sqrt()
            rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
            # the series form for small kappa, where tau - sqrt(2 tau) cancels
            rho = rustdl.where(kappa < 1e-5, kappa, rho)
            r = (1 + rho.pow(2)) / (2 * rho)
            result = rustdl.zeros(shape, dtype=rustdl.float64)
            pending = rustdl.ones(shape, dtype=rustdl.bool)
            while bool(pending.any()):
                u1 = rustdl.rand(shape, dtype=rustdl.float64)
                u2 = rustdl.rand(shape, dtype=rustdl.float64)
                u3 = rustdl.rand(shape, dtype=rustdl.float64)
                z = (math.pi * u1).cos()
                f = (1 + r * z) / (r + z)
                c = kappa * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                angle = (u3 - 0.5).sign() * f.acos()
                result = rustdl.where(accept & pending, angle, result)
                pending = pending & ~accept
            located = (result + math.pi + self.loc.double()) % (2 * math.pi) - math.pi
            return located.to(self.loc.dtype)
