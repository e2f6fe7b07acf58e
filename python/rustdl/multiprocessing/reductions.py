"""Pickling tensors for other processes: through shared memory.

A tensor is moved to shared memory (``share_memory_``: an anonymous
shared-memory file, see ``rust/tensor/shared_memory.rs``) and pickled as a
handle to that file plus its layout. With the ``file_descriptor`` strategy
(the default) the handle is the file's descriptor, which
``multiprocessing.reduction.DupFd`` hands to the receiver (passed at
process start, or over a Unix socket for a queue); with ``file_system`` it
is the file's path under ``/proc/<pid>/fd``, which the receiver opens (the
sending process must still be alive then, as PyTorch asks of it too).
"""

import os
import threading
import weakref
from multiprocessing.reduction import DupFd, ForkingPickler

from .. import _C

_all_sharing_strategies = {"file_descriptor", "file_system"}
_sharing_strategy = "file_descriptor"


def get_all_sharing_strategies():
    """The sharing strategies this system supports."""
    return set(_all_sharing_strategies)


def get_sharing_strategy():
    """The strategy for sharing CPU tensors between processes."""
    return _sharing_strategy


def set_sharing_strategy(new_strategy):
    """Set the strategy for sharing CPU tensors (one of
    :func:`get_all_sharing_strategies`)."""
    global _sharing_strategy
    assert new_strategy in _all_sharing_strategies
    _sharing_strategy = new_strategy


def _parameter_class():
    from ..nn.parameter import Parameter

    return Parameter


# The tensors received here, by segment (device, inode): a second tensor on
# a storage already received is built over that same storage, as PyTorch's
# shared cache does (one storage, one mapping, so aliasing checks see it).
_received = {}


_received_lock = threading.Lock()  # a queue's feeder thread pickles too


def _receive(fd, length, dtype, shape, strides, offset):
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    with _received_lock:
        ref = _received.get(key)
    seen = ref() if ref is not None else None
    if seen is not None and seen.dtype == dtype:
        try:
            return key, _C._tensor_on_storage_of(seen, length, shape, strides, offset)
        except ValueError:
            pass  # another length: map it anew
    return key, _C._tensor_from_shared_handle(fd, length, dtype, shape, strides, offset)


def _remember_key(key, t):
    with _received_lock:
        ref = _received.get(key)
        if ref is None or ref() is None:
            if len(_received) > 64:
                for k in [k for k, r in _received.items() if r() is None]:
                    del _received[k]
            _received[key] = weakref.ref(t)


def _remember(fd, t):
    st = os.fstat(fd)
    _remember_key((st.st_dev, st.st_ino), t)


def rebuild_tensor(cls, handle, length, dtype, shape, strides, offset, requires_grad):
    """The receiving side of :func:`reduce_tensor`."""
    if isinstance(handle, str):
        fd = os.open(handle, os.O_RDWR)
    else:
        fd = handle.detach()
    try:
        key, t = _receive(fd, length, dtype, tuple(shape), tuple(strides), offset)
    finally:
        os.close(fd)  # the storage keeps a descriptor of its own
    if cls is not _C.Tensor and issubclass(cls, _parameter_class()):
        t = cls(t, requires_grad=requires_grad)
    elif requires_grad:
        t.requires_grad_(True)
    _remember_key(key, t)
    return t


def reduce_tensor(tensor):
    """Pickle a tensor as a handle to its storage in shared memory."""
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, "
            "since autograd does not support crossing process boundaries.  "
            "If you just want to transfer the data, call detach() on the tensor "
            "before serializing (e.g., putting it on the queue)."
        )
    if tensor.device.type != "cpu":
        return tensor.__reduce_ex__(2)  # device memory cannot be shared: a copy
    tensor.share_memory_()
    fd, length, dtype, shape, strides, offset = _C._shared_handle(tensor)
    _remember(fd, tensor)  # coming back here, it lands on this same storage
    if _sharing_strategy == "file_system":
        handle = f"/proc/{os.getpid()}/fd/{fd}"
    else:
        handle = DupFd(fd)
    return (rebuild_tensor, (type(tensor), handle, length, dtype, shape, strides, offset, tensor.requires_grad))


def init_reductions():
    """Register the reductions with ``ForkingPickler`` (what queues, pipes and
    spawned processes pickle with); plain ``pickle`` still copies."""
    ForkingPickler.register(_C.Tensor, reduce_tensor)
    ForkingPickler.register(_parameter_class(), reduce_tensor)
