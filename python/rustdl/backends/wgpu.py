"""``rustdl.backends.wgpu``: the GPU backend on wgpu (Vulkan, Metal, DX12).

The device opens lazily: importing rustdl costs nothing; the first call to
``is_available()`` or the first ``tensor.to("wgpu")`` opens it. Kernels are
queued and submitted in batches; reading a value (``.item()``, ``.numpy()``,
``.cpu()``, printing) waits for them, as does ``synchronize()``.
"""

from .. import _C


def is_built():
    """Whether this build of rustdl includes the wgpu backend."""
    return _C._wgpu_is_built()


def is_available():
    """Whether a wgpu adapter exists and the device opens."""
    return _C._wgpu_is_available()


def device_count():
    """How many adapters wgpu reports (rustdl uses the first, ``wgpu:0``)."""
    return _C._wgpu_device_count()


def get_device_name(device=None):
    """The name and API of the adapter in use; RuntimeError if there is none."""
    del device
    return _C._wgpu_device_name()


def synchronize(device=None):
    """Wait until every queued kernel has run."""
    del device
    _C._wgpu_synchronize()
