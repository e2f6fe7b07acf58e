"""``nn.DataParallel`` without accelerators (PyTorch's behaviour on a
CPU-only machine): the wrapped module is ``.module``, ``device_ids`` is
empty, ``forward`` calls the module (inside a ``DataParallel.forward``
profiler range), and the state dict keys get the ``module.`` prefix, so
checkpoints load into PyTorch's ``DataParallel`` and back.
"""

from ...autograd.profiler import record_function
from ..modules.module import Module


class DataParallel(Module):
    """Runs ``module`` on the CPU: rustdl parallelises inside each operator
    (``rustdl.set_num_threads``), so there is nothing to replicate."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        with record_function("DataParallel.forward"):
            return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """PyTorch's functional form, which needs an accelerator."""
    raise RuntimeError("device type could not be determined")
