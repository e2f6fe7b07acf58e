"""``nn.parallel.DistributedDataParallel`` over ``rustdl.distributed`` (MPI).

Each rank holds a full replica and trains on its share of the batch; after
``backward`` every parameter's ``.grad`` is the average over the ranks, so
the replicas take identical optimizer steps.

- Construction: parameter shapes are checked across ranks, then parameters
  and buffers are broadcast from rank 0 (coalesced per dtype).
- Buckets: parameters, in reverse registration order (about the order their
  gradients become ready), are packed into flat buffers of at most
  ``bucket_cap_mb`` (the first one 1 MB, as PyTorch). A hook on each
  parameter (``Tensor.register_hook``, run with the gradient summed over
  the backward) copies the parameter's accumulated gradient (``.grad`` plus
  the new one) into its bucket slot, pre-divided by the world size; a full
  bucket is launched as a non-blocking all-reduce, buckets always in index
  order so every rank issues the same sequence. The last hook of the pass
  waits for the buckets and writes the averages into ``.grad`` (its own
  parameter's through the hook's return value, since the engine stores that
  gradient after the hook).
- rustdl's engine accumulates leaf gradients after the whole graph has run,
  so the hooks, and hence the all-reduces, start at the end of backward:
  communication overlaps only the remaining accumulation, not the backward
  computation (the mechanism is PyTorch's; the overlap needs leaf gradients
  delivered as soon as they are final).
- ``no_sync()`` skips the hooks; the next synchronised backward all-reduces
  the accumulated gradients, as PyTorch does.
- ``find_unused_parameters=True``: after forward, the graph from the outputs
  is walked to find the parameters that will get no gradient; their slots
  are zeros and ready at once, and a bitmap of which parameters any rank
  used is all-reduced with the gradients, so a parameter no rank used keeps
  its ``.grad`` untouched.
- ``broadcast_buffers=True``: rank 0's buffers (BatchNorm statistics) are
  broadcast before each forward.
"""

import contextlib
import weakref

import numpy as np

import rustdl

from ..modules.module import Module

_MB = 1024 * 1024


class _Bucket:
    __slots__ = ("array", "flat", "indices", "offsets", "pending", "views", "work")

    def __init__(self, params, indices):
        dtype = params[indices[0]].dtype
        sizes = [params[i].numel() for i in indices]
        self.indices = indices
        self.flat = rustdl.zeros(sum(sizes), dtype=dtype)
        self.array = self.flat.numpy()
        self.views, self.offsets, off = [], [], 0
        for i, size in zip(indices, sizes):
            self.views.append(self.flat[off:off + size].view(params[i].shape))
            self.offsets.append(off)
            off += size
        self.pending = 0
        self.work = None


def _assign_buckets(params, caps):
    """PyTorch's ``compute_bucket_assignment_by_size``: reverse order, per dtype, size caps."""
    open_, sizes, done = {}, {}, []
    for i in reversed(range(len(params))):
        p = params[i]
        key = p.dtype
        open_.setdefault(key, []).append(i)
        sizes[key] = sizes.get(key, 0) + p.numel() * p.element_size()
        cap = caps[min(len(done), len(caps) - 1)]
        if sizes[key] >= cap:
            done.append(open_.pop(key))
            sizes[key] = 0
    done.extend(v for v in open_.values() if v)
    return done


def _tensors_in(obj, out):
    if isinstance(obj, rustdl.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def _key(t):
    return (t.data_ptr(), tuple(t.shape), t.dtype)


class DistributedDataParallel(Module):
    """Data parallelism across the ranks of ``process_group`` (default: all).
    Same signature as PyTorch's; ``device_ids``/``output_device`` must be None
    (CPU), ``gradient_as_bucket_view`` and ``static_graph`` are accepted and
    change nothing."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None):
        super().__init__()
        from ... import distributed as dist

        if device_ids:
            raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                             "single-device/multiple-device GPU modules or CPU modules, but got "
                             f"device_ids {device_ids}, output_device {output_device}, and module parameters "
                             "{device(type='cpu')}.")
        self.module = module
        self.process_group = process_group if process_group is not None else dist.group.WORLD
        if self.process_group is None:
            dist.get_world_size()  # raises PyTorch's "not initialized" error
        self.dim = dim
        self.device_ids = None
        self.output_device = None
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * _MB)
        seen, params = set(), []
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._params = params
        self._world = dist.get_world_size(self.process_group)
        self._verify_shapes()
        if init_sync:
            self._broadcast_coalesced([p for p in module.parameters()] + list(module.buffers()))
        first = dist._DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        self._buckets = [_Bucket(params, idx) for idx in _assign_buckets(params, [first, self.bucket_bytes_cap])]
        self._where = {}
        for b, bucket in enumerate(self._buckets):
            for slot, i in enumerate(bucket.indices):
                self._where[i] = (b, slot)
        self._armed = False
        self._started = False  # a hook of the armed pass has run
        self._remaining = 0
        self._next_bucket = 0
        self._used = None
        self._used_work = None
        me = weakref.ref(self)
        self._hook_handles = [p.register_hook(_Hook(me, i)) for i, p in enumerate(params)]

    # -- construction ----------------------------------------------------
    def _verify_shapes(self):
        from ... import distributed as dist

        mine = [(tuple(p.shape), str(p.dtype)) for p in self._params]
        every = [None] * self._world
        dist.all_gather_object(every, mine, group=self.process_group)
        for r, theirs in enumerate(every):
            if len(theirs) != len(mine):
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank "
                                   f"{dist.get_rank(self.process_group)} has {len(mine)} params, while rank {r} "
                                   f"has inconsistent {len(theirs)} params.")
            for i, (a, b) in enumerate(zip(mine, theirs)):
                if a != b:
                    raise RuntimeError(f"DDP expects same model across all ranks, but Rank "
                                       f"{dist.get_rank(self.process_group)} has parameter {i} of shape/dtype "
                                       f"{a}, while rank {r} has {b}.")

    def _broadcast_coalesced(self, tensors, src_group_rank=0):
        """Broadcast ``tensors`` from the group's rank 0, one flat buffer per dtype."""
        from ... import distributed as dist

        if self._world == 1 or not tensors:
            return
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t.dtype, []).append(t)
        with rustdl.no_grad():
            for group in by_dtype.values():
                flat = rustdl.cat([t.detach().reshape(-1) for t in group])
                dist.broadcast(flat, group=self.process_group, group_src=src_group_rank)
                off = 0
                for t in group:
                    n = t.numel()
                    t.detach().copy_(flat[off:off + n].view(t.shape))
                    off += n

    # -- forward ---------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self._armed and self._started and self._remaining:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This "
                "error indicates that your module has parameters that were not used in producing loss. You can "
                "enable unused parameter detection by passing the keyword argument `find_unused_parameters=True` "
                "to `torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function "
                "outputs participate in calculating loss.")
        if self.broadcast_buffers and self.require_forward_param_sync:
            buffers = list(self.module.buffers())
            if buffers:
                self._broadcast_coalesced(buffers)
        output = self.module(*inputs, **kwargs)
        if rustdl.is_grad_enabled() and self.require_backward_grad_sync:
            self._prepare(output)
        else:
            self._armed = False
        return output

    def _drain(self):
        """Complete what an armed pass that never ran backward left posted (a forward with grad
        enabled and no backward), so no bucket is reused while MPI still reads it."""
        for work in [self._used_work] + [b.work for b in self._buckets]:
            if work is not None:
                work.wait()
        self._used_work = None
        for b in self._buckets:
            b.work = None

    def _prepare(self, output):
        self._drain()
        self._armed = True
        self._started = False
        self._next_bucket = 0
        for b in self._buckets:
            b.pending = len(b.indices)
            b.work = None
        self._remaining = len(self._params)
        if not self.find_unused_parameters:
            self._used = None
            return
        reached = set()
        seen = set()
        stack = [t.grad_fn for t in _tensors_in(output, []) if t.grad_fn is not None]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            for nxt, _ in node.next_functions:
                if nxt is None:
                    continue
                if hasattr(nxt, "variable"):
                    reached.add(_key(nxt.variable))
                elif nxt not in seen:
                    stack.append(nxt)
        self._used = np.zeros(len(self._params), dtype=np.int32)
        for i, p in enumerate(self._params):
            if _key(p) in reached:
                self._used[i] = 1
            else:
                b, slot = self._where[i]
                self._buckets[b].views[slot].zero_()
                self._buckets[b].pending -= 1
                self._remaining -= 1
        from ... import distributed as dist

        self._used_tensor = rustdl.from_numpy(self._used)
        self._used_work = dist.all_reduce(self._used_tensor, group=self.process_group, async_op=True)
        self._launch_ready()
        if self._remaining == 0:  # nothing will call a hook
            self._finalize(None)

    # -- backward (hooks) ------------------------------------------------
    def _grad_ready(self, i, grad):
        if not self._armed or not self.require_backward_grad_sync:
            return None
        self._started = True
        p = self._params[i]
        b, slot = self._where[i]
        bucket = self._buckets[b]
        view = bucket.views[slot]
        with rustdl.no_grad():
            view.copy_(grad)
            if p.grad is not None:
                view.add_(p.grad)
        bucket.pending -= 1
        self._remaining -= 1
        if bucket.pending == 0:
            self._launch_ready()
        if self._remaining == 0:
            self._finalize(i)
            p.grad = None  # the engine stores the returned average as .grad
            return view
        return None

    def _launch_ready(self):
        from ... import distributed as dist

        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            b = self._buckets[self._next_bucket]
            if self._world > 1:
                if b.array.dtype.kind == "f":
                    b.array /= self._world
                b.work = dist.all_reduce(b.flat, group=self.process_group, async_op=True)
            self._next_bucket += 1

    def _finalize(self, last):
        self._armed = False
        used = None
        if self._used_work is not None:
            self._used_work.wait()
            used = self._used
            self._used_work = None
        with rustdl.no_grad():
            for bucket in self._buckets:
                if bucket.work is not None:
                    bucket.work.wait()
                    bucket.work = None
                for slot, i in enumerate(bucket.indices):
                    if i == last:
                        continue
                    p = self._params[i]
                    if used is not None and used[i] == 0:
                        continue  # no rank used it: .grad stays as it was
                    if p.grad is None:
                        p.grad = bucket.views[slot].clone()
                    else:
                        p.grad.copy_(bucket.views[slot])

    # -- API ---------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self):
        """Gradients accumulate locally inside; the first synchronised backward after it averages them."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def join(self, divide_by_initial_world_size=True, enable=True, throw_on_early_termination=False):
        raise NotImplementedError("DistributedDataParallel.join (uneven inputs) is not implemented in rustdl")

    def register_comm_hook(self, state, hook):
        raise NotImplementedError("DistributedDataParallel.register_comm_hook is not implemented in rustdl")

    def _set_static_graph(self):
        self.static_graph = True

    def __getstate__(self):
        raise RuntimeError("DistributedDataParallel is not picklable; save `model.module` or its state_dict")


class _Hook:
    """A parameter's gradient hook; holds the DDP wrapper weakly (the hook lives in the engine)."""

    __slots__ = ("ddp", "index")

    def __init__(self, ddp, index):
        self.ddp = ddp
        self.index = index

    def __call__(self, grad):
        ddp = self.ddp()
        if ddp is None:
            return None
        return ddp._grad_ready(self.index, grad)
