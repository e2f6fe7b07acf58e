"""``rustdl.nn.functional``: stateless neural-network ops (each one Rust call)."""

from .. import _C


def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = _C.leaky_relu(input, negative_slope)
    return input.copy_(out) if inplace else out


def gelu(input, approximate="none"):
    return _C.gelu(input, approximate)


def elu(input, alpha=1.0, inplace=False):
    out = _C.elu(input, alpha)
    return input.copy_(out) if inplace else out


def selu(input, inplace=False):
    out = _C.elu(input, 1.6732632423543772, 1.0507009873554805)
    return input.copy_(out) if inplace else out


def celu(input, alpha=1.0, inplace=False):
    out = _C.elu(input, alpha, 1.0, 1.0 / alpha)
    return input.copy_(out) if inplace else out


def silu(input, inplace=False):
    out = _C.silu(input)
    return input.copy_(out) if inplace else out


def mish(input, inplace=False):
    out = _C.mish(input)
    return input.copy_(out) if inplace else out


def softplus(input, beta=1.0, threshold=20.0):
    return _C.softplus(input, beta, threshold)


def softsign(input):
    return _C.softsign(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    out = _C.hardtanh(input, min_val, max_val)
    return input.copy_(out) if inplace else out


def hardsigmoid(input, inplace=False):
    out = _C.hardsigmoid(input)
    return input.copy_(out) if inplace else out


def hardswish(input, inplace=False):
    out = _C.hardswish(input)
    return input.copy_(out) if inplace else out


def logsigmoid(input):
    return _C.logsigmoid(input)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return _C.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return _C.log_softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(-input, dim, dtype=dtype)


def linear(input, weight, bias=None):
    from .. import _linear

    return _linear.linear(input, weight, bias)


def pad(input, pad, mode="constant", value=None):
    return _C.pad(input, list(pad), mode, value)


def dropout(input, p=0.5, training=True, inplace=False):
    out = _C.dropout(input, p, training)
    return input.copy_(out) if inplace else out


from ._functional_conv import *  # noqa: E402, F401, F403
from ._functional_pool_norm import *  # noqa: E402, F401, F403
