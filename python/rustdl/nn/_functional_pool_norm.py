"""Pooling and normalization functionals with PyTorch's signatures.

Each one normalizes PyTorch's int-or-tuple arguments and makes one ``_C``
call; the kernels and their backward live in rust/ops/pool.rs and norm.rs.
"""

from .. import _C
from ._arg_checks import (
    check_float_input,
    check_mixed_dtype,
    check_running_stat,
    require_optional_tensors,
    scalar_name,
)

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "batch_norm",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "local_response_norm",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]


def _ints(value, name):
    """An int or a sequence of ints as a list of non-negative ints."""
    items = [value] if isinstance(value, int) else list(value)
    out = []
    for v in items:
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} must be an int or a tuple of ints, but got {value!r}")
        if v < 0:
            raise RuntimeError(f"{name} must be non-negative, but got {value!r}")
        out.append(v)
    return out


def _stride(stride, kernel_size):
    # PyTorch: stride=None (or an empty list) means stride = kernel_size.
    if stride is None or (not isinstance(stride, int) and len(stride) == 0):
        return _ints(kernel_size, "stride")
    return _ints(stride, "stride")


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    out, indices = _C._max_pool(
        input,
        nd,
        _ints(kernel_size, "kernel_size"),
        _stride(stride, kernel_size),
        _ints(padding, "padding"),
        _ints(dilation, "dilation"),
        bool(ceil_mode),
        bool(return_indices),
    )
    return (out, indices) if return_indices else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if isinstance(input, _C.Tensor) and input.dim() in (2, 3) and 0 in tuple(input.shape)[input.dim() - 2:]:
        # only a batch dim may be empty (with indices PyTorch pools in 2-d, as avg_pool1d)
        shape = list(input.shape)
        if return_indices:
            shape = shape[:-1] + [1, shape[-1]]
            raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
                               f"but got:{shape}")
        else:
            raise RuntimeError("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
                               f"for input, but got:{shape}")
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if return_indices and not isinstance(input, _C.Tensor):
        # PyTorch's max_pool3d_with_indices reads input.is_cuda first.
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'is_cuda'")
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    return _C._avg_pool(
        input,
        nd,
        _ints(kernel_size, "kernel_size"),
        _stride(stride, kernel_size),
        _ints(padding, "padding"),
        bool(ceil_mode),
        bool(count_include_pad),
        None if divisor_override is None else int(divisor_override),
    )


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    if isinstance(input, _C.Tensor) and input.dim() in (2, 3):
        # PyTorch pools (.., L) as (.., 1, L) in 2-D: only a batch dim may be empty.
        shape = list(input.shape[:-1]) + [1, input.shape[-1]]
        if 0 in (shape if input.dim() == 2 else shape[1:]):
            raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
                               f"but got:{shape}")
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    if isinstance(input, _C.Tensor) and input.dim() < 3:
        # PyTorch reads input.size(-3) before it checks the rank.
        n = input.dim()
        if n == 0:
            raise IndexError("Dimension specified as -3 but tensor has no dimensions")
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got -3)")
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    k = [kernel_size] * 3 if isinstance(kernel_size, int) else list(kernel_size)
    if input.dim() in (4, 5) and len(k) == 3 and any(n < kk for n, kk in zip(input.shape[-3:], k)):
        # PyTorch's avg_pool3d compares the unpadded input with the kernel.
        t, h, w = input.shape[-3:]
        raise RuntimeError(f"input image (T: {t} H: {h} W: {w}) smaller than kernel size "
                           f"(kT: {k[0]} kH: {k[1]} kW: {k[2]})")
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _output_size(nd, input, output_size):
    """Adaptive output size as nd ints; ``None`` keeps the input's size."""
    if nd > 1 and not isinstance(output_size, int) and output_size is not None and input.dim() <= nd:
        # PyTorch's _list_with_default reads the defaults from input.size()
        raise ValueError(f"Input dimension should be at least {nd + 1}")
    sizes = [output_size] * nd if isinstance(output_size, int) or output_size is None else list(output_size)
    if len(sizes) != nd:
        raise ValueError(f"output_size must be an int or a tuple of {nd} values, but got {output_size!r}")
    spatial = list(input.shape)[-nd:] if input.dim() >= nd else [0] * nd
    return _ints([spatial[i] if s is None else s for i, s in enumerate(sizes)], "output_size")


def _adaptive_avg(nd, input, output_size):
    sizes = _output_size(nd, input, output_size)
    if nd > 1 and all(s == 1 for s in sizes):
        # PyTorch: a mean over the last nd dims, whatever the rank
        return input.mean(tuple(range(-nd, 0)), keepdim=True)
    return _C._adaptive_avg_pool(input, nd, sizes)


def adaptive_avg_pool1d(input, output_size):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument #1 "
                           "'self' (while checking arguments for adaptive_avg_pool1d)")
    sizes = _output_size(1, input, output_size)
    if sizes == [1]:
        return input.mean(-1, keepdim=True)
    return _C._adaptive_avg_pool(input, 1, sizes)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    if isinstance(input, _C.Tensor) and input.numel() == 0 and 0 not in tuple(input.shape)[1:] \
            and not input.is_floating_point() and _output_size(3, input, output_size) != [1, 1, 1]:
        # PyTorch's 3-d kernel picks its dtype before it sees the empty batch
        # (the 1-d and 2-d ones return the empty result).
        check_float_input(input, "adaptive_avg_pool3d_cpu")
    return _adaptive_avg(3, input, output_size)


def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    """PyTorch's power-average pooling, composed the same way (so its
    gradients, and their gradients, are those of the pieces)."""
    from . import functional as F

    kernel = [kernel_size] * nd if isinstance(kernel_size, int) else list(kernel_size)
    if isinstance(norm_type, (int, float)):
        if norm_type == 0:
            raise ValueError(f"norm_type must be a non-zero value, but got {norm_type}")
        max_pool = (max_pool1d, max_pool2d, max_pool3d)[nd - 1]
        if norm_type == float("inf"):
            return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -float("inf"):
            return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    avg_pool = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    if stride is not None:
        out = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avg_pool(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    size = kernel_size if nd == 1 else _prod(kernel)
    return (out.sign() * F.relu(out.abs())).mul(size).pow(1.0 / norm_type)


def _prod(values):
    out = 1
    for v in values:
        out *= v
    return out


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _adaptive_max(nd, input, output_size, return_indices):
    out, indices = _C._adaptive_max_pool(input, nd, _output_size(nd, input, output_size), bool(return_indices))
    return (out, indices) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    kernel = _ints(kernel_size, "kernel_size")
    kernel = kernel * nd if len(kernel) == 1 else kernel
    strides = _stride(stride, kernel_size)
    strides = strides * nd if len(strides) == 1 else strides
    pads = _ints(padding, "padding")
    pads = pads * nd if len(pads) == 1 else pads
    spatial = list(input.shape)[-nd:]
    if output_size is None:
        size = [(spatial[i] - 1) * strides[i] - 2 * pads[i] + kernel[i] for i in range(nd)]
    else:
        size = _ints(output_size, "output_size")
        if len(size) in (nd + 1, nd + 2):
            size = size[-nd:]
        if len(size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a length of '{len(size)}'")
    return _C._max_unpool(input, indices, nd, size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    # PyTorch's order: its Python wrapper's check, the binding's argument
    # types, then the kernel's checks.
    if training:
        size = list(input.shape)
        values = size[0] if size else 1
        for s in size[2:]:
            values *= s
        if values == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.size()}")
    require_optional_tensors("batch_norm", (1, "input", input), (2, "weight", weight), (3, "bias", bias),
                             (4, "running_mean", running_mean), (5, "running_var", running_var))
    if input.dim() >= 2:
        for stat, name in ((running_mean, "running_mean"), (running_var, "running_var")):
            check_running_stat(stat, name, input.shape[1])
    check_float_input(input, "batch_norm")
    check_mixed_dtype(input, weight, bias, running_mean, running_var)
    return _C._batch_norm(input, running_mean, running_var, weight, bias, bool(training), float(momentum), float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5):
    if use_input_stats:
        spatial = 1
        for s in list(input.shape)[2:]:
            spatial *= s
        if spatial == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.size()}")
    require_optional_tensors("instance_norm", (1, "input", input), (2, "weight", weight), (3, "bias", bias),
                             (4, "running_mean", running_mean), (5, "running_var", running_var))
    check_float_input(input, "batch_norm")
    check_mixed_dtype(input, weight, bias)
    if running_mean is not None and running_var is not None and running_mean.dtype == input.dtype \
            and running_var.dtype != input.dtype:
        # PyTorch's kernel reads running_var as the input's type when
        # running_mean has it (other mixes of running dtypes it accepts)
        raise RuntimeError(f"expected scalar type {scalar_name(input)} but found {scalar_name(running_var)}")
    return _C._instance_norm(input, running_mean, running_var, weight, bias, bool(use_input_stats), float(momentum), float(eps))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    require_optional_tensors("layer_norm", (1, "input", input), (3, "weight", weight), (4, "bias", bias))
    check_mixed_dtype(input, weight, bias)
    return _C._layer_norm(input, _ints(normalized_shape, "normalized_shape"), weight, bias, float(eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    # PyTorch's order: its Python wrapper's checks, then the binding's
    # argument types, then the kernel's checks.
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    num_groups = int(num_groups)
    if num_groups == 0:
        raise ZeroDivisionError("integer division or modulo by zero")
    if num_groups > 0:
        # PyTorch's check (before the divisibility one): one value per group
        # normalizes to 0 whatever it is.
        size = [input.shape[0] * input.shape[1] // num_groups, num_groups] + list(input.shape[2:])
        values = size[0]
        for n in size[2:]:
            values *= n
        if values == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")
    require_optional_tensors("group_norm", (1, "input", input), (3, "weight", weight), (4, "bias", bias))
    if num_groups < 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    check_mixed_dtype(input, weight, bias)
    return _C._group_norm(input, int(num_groups), weight, bias, float(eps))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Cross-channel LRN, composed exactly as PyTorch's functional."""
    from .functional import pad

    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input.mul(input)
    if dim == 3:
        div = div.unsqueeze(1)
        div = pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.size()
        div = div.view(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1)
        div = div.view(sizes)
    div = div.mul(alpha).add(k).pow(beta)
    return input / div
