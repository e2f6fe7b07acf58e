"""DLPack exchange (`torch.from_dlpack`, `torch.utils.dlpack`): CPU tensors shared without copying
with any library that speaks the protocol (NumPy, JAX and CuPy host arrays, ...). rustdl's own
tensors export through the NumPy view of their memory, which keeps the strides."""

import warnings

import numpy as np

from .. import _C


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of `ext_tensor` (an object with __dlpack__, or a capsule)."""
    if isinstance(ext_tensor, _C.Tensor):
        return ext_tensor
    if not hasattr(ext_tensor, "__dlpack__"):
        ext_tensor = _Capsule(ext_tensor)
    try:
        array = np.from_dlpack(ext_tensor)
    except (BufferError, TypeError, RuntimeError) as e:
        raise RuntimeError(f"from_dlpack: only CPU memory of NumPy-representable dtypes can be shared ({e})") from e
    with warnings.catch_warnings():
        # NumPy marks what an unversioned capsule shares read-only; the memory itself is writable,
        # and the tensor shares it as PyTorch's does
        warnings.simplefilter("ignore", UserWarning)
        return _C.from_numpy(array) if array.ndim else _C.from_numpy(array.reshape(1)).reshape(())


def to_dlpack(tensor):
    """A DLPack capsule viewing `tensor`'s memory (consumed once by the receiving library)."""
    return tensor.__dlpack__()


class _Capsule:
    """A bare DLPack capsule seen through the __dlpack__ protocol NumPy expects."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, stream=None, **kwargs):
        return self._capsule

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU, device 0


def tensor_dlpack(self, stream=None, max_version=None, dl_device=None, copy=None):
    if self.requires_grad:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    array = self.numpy()
    if max_version is None:
        return array.__dlpack__(stream=stream)
    return array.__dlpack__(stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)


def tensor_dlpack_device(self):
    return (1, 0)
