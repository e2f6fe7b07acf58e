"""The in-place random fills PyTorch has beside `uniform_` and `normal_`: bernoulli_,
exponential_, geometric_, cauchy_, log_normal_, random_. Each draws uniforms from rustdl's
generator (so `manual_seed` and `generator=` govern them), transforms them in float64 and writes
the result into the tensor, which, as in PyTorch, then carries no gradient from its old values."""

import math

import rustdl as _t


def _uniforms(like, generator):
    return _t.empty(tuple(like.shape), dtype=_t.float64).uniform_(generator=generator)


def _write(self, values):
    with _t.no_grad():
        self.copy_(values.to(self.dtype))
    return self


def _require_float(self, op):
    if not self.is_floating_point():
        raise RuntimeError(f"{op} expects floating point dtypes, got: {self.dtype}")


def bernoulli_(self, p=0.5, *, generator=None):
    if isinstance(p, _t.Tensor):
        if ((p < 0) | (p > 1)).any():
            raise RuntimeError("bernoulli_ expects all elements of p to be in [0, 1]")
        probability = p.to(_t.float64).expand(tuple(self.shape))
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        probability = p
    return _write(self, _uniforms(self, generator) < probability)


def exponential_(self, lambd=1.0, *, generator=None):
    _require_float(self, "exponential_")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    # -log(1 - U) is never inf (U < 1) and 0 only at U = 0
    return _write(self, -(1 - _uniforms(self, generator)).log() / lambd)


def geometric_(self, p, *, generator=None):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    trials = ((1 - _uniforms(self, generator)).log() / math.log1p(-p)).ceil().clamp(min=1)
    return _write(self, trials)


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    _require_float(self, "cauchy_")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _write(self, median + sigma * (math.pi * (_uniforms(self, generator) - 0.5)).tan())


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    _require_float(self, "log_normal_")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    normal = _t.empty(tuple(self.shape), dtype=_t.float64).normal_(mean, std, generator=generator)
    return _write(self, normal.exp())


def _default_upper(dtype):
    if dtype == _t.bool:
        return 2
    if dtype.is_floating_point:
        return 2 ** _t.finfo(dtype).nmant + 1 if dtype != _t.float64 else 2 ** 53 + 1
    return _t.iinfo(dtype).max + 1


def random_(self, from_=0, to=None, *, generator=None, **kwargs):
    """Integers drawn uniformly from [from, to - 1]; random_(to) means [0, to - 1]; with no bound,
    [0, 2^mantissa] for floating dtypes and [0, max] for integer ones."""
    if "from" in kwargs:
        from_ = kwargs.pop("from")
    if kwargs:
        raise TypeError(f"random_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if to is None and from_ != 0:
        from_, to = 0, from_
    upper = _default_upper(self.dtype) if to is None else to
    if from_ >= upper:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={upper}")
    span = upper - from_
    draws = (_uniforms(self, generator) * span).floor().clamp(max=span - 1) + from_
    return _write(self, draws)


METHODS = ["bernoulli_", "cauchy_", "exponential_", "geometric_", "log_normal_", "random_"]
