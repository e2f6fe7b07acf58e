"""``DataLoader`` with the semantics of ``torch.utils.data.DataLoader``.

Differences from PyTorch, by design:

* ``num_workers > 0`` loads batches in a pool of worker **threads** (not
  processes): rustdl's Rust kernels release the GIL for heavy work, and threads
  need no pickling. Batches still come out in sampler order, ``worker_init_fn``
  is called once per worker (in that worker's thread) and
  :func:`get_worker_info` works inside workers. Workers share the dataset
  object and the global RNG (``WorkerInfo.seed`` is ``base_seed + id`` as in
  PyTorch, but the global RNG is not re-seeded per worker).
* ``pin_memory``, ``multiprocessing_context`` and ``pin_memory_device`` are
  accepted and have no effect (CPU only).
* Fast path: a ``TensorDataset`` (or ``Subset`` of one) with the default
  ``collate_fn`` is batched with one indexing call per tensor
  (``t[index_tensor]``) instead of per-sample ``__getitem__`` + ``stack``; the
  result is identical.
"""

import contextlib
import itertools
import math
import queue
import threading
import warnings

import numpy as np

import rustdl

from ._utils.collate import default_collate, default_convert
from ._utils.worker import WorkerInfo, _set_worker_info, get_worker_info
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


class _DatasetKind:
    Map = 0
    Iterable = 1


class _InfiniteConstantSampler(Sampler):
    """The sampler used with an IterableDataset: yields ``None`` forever."""

    def __iter__(self):
        while True:
            yield None


# ------------------------------------------------------------------- fetchers
def _index_array(ix):
    if isinstance(ix, rustdl.Tensor):
        return ix.numpy().astype(np.int64, copy=False).reshape(-1)
    if isinstance(ix, range):
        return np.arange(ix.start, ix.stop, ix.step, dtype=np.int64)
    return np.asarray(ix, dtype=np.int64).reshape(-1)


def _tensor_gather_plan(dataset):
    """For a TensorDataset (or a chain of Subsets over one) with stock
    ``__getitem__``: (tensors, index map as numpy int64 or None); else None."""
    chain = []
    d = dataset
    while (
        isinstance(d, Subset)
        and type(d).__getitem__ is Subset.__getitem__
        and type(d).__getitems__ is Subset.__getitems__
    ):
        chain.append(d.indices)
        d = d.dataset
    if not (
        isinstance(d, TensorDataset)
        and type(d).__getitem__ is TensorDataset.__getitem__
        and getattr(type(d), "__getitems__", None) is None
    ):
        return None
    if not all(isinstance(t, rustdl.Tensor) for t in d.tensors):
        return None
    mapping = None
    if chain:
        try:
            mapping = _index_array(chain[0])
            for level in chain[1:]:
                mapping = _index_array(level)[mapping]
            n = len(d)
            if mapping.size and (mapping.min() < -n or mapping.max() >= n):
                return None  # let the slow path raise the IndexError on access
        except (IndexError, TypeError, ValueError):
            return None
    return d.tensors, mapping


class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.plan = None
        if auto_collation and collate_fn is default_collate:
            self.plan = _tensor_gather_plan(dataset)

    def fetch(self, possibly_batched_index):
        if self.auto_collation:
            if self.plan is not None and len(possibly_batched_index) > 0:
                tensors, mapping = self.plan
                idx = _index_array(possibly_batched_index)
                if mapping is not None:
                    idx = mapping[idx]
                idx_t = rustdl.from_numpy(idx)
                return [t[idx_t] for t in tensors]
            getitems = getattr(self.dataset, "__getitems__", None)
            if getitems:
                data = getitems(possibly_batched_index)
            else:
                data = [self.dataset[idx] for idx in possibly_batched_index]
        else:
            data = self.dataset[possibly_batched_index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last, batch_size):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.batch_size = batch_size
        self.ended = False

    def fetch(self):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in range(self.batch_size):
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < self.batch_size):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


# ------------------------------------------------------------------ DataLoader
class DataLoader:
    """Combines a dataset and a sampler and iterates over batches.

    Arguments, defaults and the errors for incompatible options are PyTorch's::

        DataLoader(dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                   num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                   timeout=0, worker_init_fn=None, multiprocessing_context=None,
                   generator=None, *, prefetch_factor=None, persistent_workers=False,
                   pin_memory_device="", in_order=True)

    See the module docstring for the thread-based workers and the TensorDataset
    fast path.
    """

    __initialized = False

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if not isinstance(num_workers, int) or isinstance(num_workers, bool):
            raise TypeError(f"num_workers should be an int, but got {type(num_workers).__name__}")
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError(
                "multiprocessing_context can only be used with multi-process loading "
                f"(num_workers > 0), but got num_workers={num_workers}"
            )

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                    f"shuffle={shuffle}"
                )
            elif sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                    f"sampler={sampler}"
                )
            elif batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, but got "
                    f"batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
            )

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)

        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator

        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._pool = None
        self.__initialized = True
        self._IterableDataset_len_called = None

        if pin_memory:
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, "
                "then device pinned memory won't be used.",
                stacklevel=2,
            )

    def __setattr__(self, attr, val):
        if self.__initialized and attr in (
            "batch_size",
            "batch_sampler",
            "sampler",
            "drop_last",
            "dataset",
            "persistent_workers",
        ):
            raise ValueError(
                f"{attr} attribute should not be set after {self.__class__.__name__} is initialized"
            )
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_shared_seed(self):
        if self.generator is None:
            return int(rustdl.randint(0, 2**62, (1,)).item())
        return int(rustdl.randint(0, 2**62, (1,), generator=self.generator).item())

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _ThreadPoolDataLoaderIter(self)

    def __len__(self):
        if self._dataset_kind == _DatasetKind.Iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    length = length // self.batch_size
                else:
                    length = math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)

    def __del__(self):
        pool = self.__dict__.get("_pool")
        if pool is not None:
            pool.shutdown()


# ------------------------------------------------------------------ iterators
class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._collate_fn = loader.collate_fn
        self._timeout = loader.timeout
        # as PyTorch: one draw from the loader's generator per epoch, then the sampler
        self._base_seed = loader._get_shared_seed()
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._loader = loader

    def __iter__(self):
        return self

    def _next_index(self):
        return next(self._sampler_iter)

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        return data


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        if self._dataset_kind == _DatasetKind.Map:
            self._fetcher = _MapDatasetFetcher(
                self._dataset, self._auto_collation, self._collate_fn, self._drop_last
            )
        else:
            self._fetcher = _IterableDatasetFetcher(
                self._dataset, self._auto_collation, self._collate_fn, self._drop_last, loader.batch_size
            )

    def _next_data(self):
        if self._dataset_kind == _DatasetKind.Map:
            index = self._next_index()  # may raise StopIteration
            return self._fetcher.fetch(index)
        return self._fetcher.fetch()


class _ExceptionWrapper:
    def __init__(self, exc, worker_id):
        self.exc = exc
        self.worker_id = worker_id

    def reraise(self):
        exc = self.exc
        msg = f"Caught {type(exc).__name__} in DataLoader worker thread {self.worker_id}."
        if hasattr(exc, "add_note"):
            exc.add_note(msg)
        raise exc


class _IterableEnd:
    def __init__(self, worker_id):
        self.worker_id = worker_id


class _WorkerPool:
    """``num_workers`` daemon threads, each with its own task queue.

    A task is ``(out_queue, send_idx, kind, payload)``; results go to the task's
    out_queue, so a pool can be reused across epochs (persistent_workers).
    """

    def __init__(self, loader, base_seed):
        self.num_workers = loader.num_workers
        self.dataset = loader.dataset
        self.kind = loader._dataset_kind
        self.auto_collation = loader._auto_collation
        self.collate_fn = loader.collate_fn
        self.drop_last = loader.drop_last
        self.batch_size = loader.batch_size
        self.worker_init_fn = loader.worker_init_fn
        self.base_seed = base_seed
        self.queues = [queue.Queue() for _ in range(self.num_workers)]
        self.alive = True
        self.threads = []
        for wid in range(self.num_workers):
            t = threading.Thread(
                target=self._loop, args=(wid,), name=f"rustdl-DataLoader-worker-{wid}", daemon=True
            )
            t.start()
            self.threads.append(t)

    def _loop(self, wid):
        _set_worker_info(
            WorkerInfo(id=wid, num_workers=self.num_workers, seed=self.base_seed + wid, dataset=self.dataset)
        )
        init_exception = None
        map_fetcher = None
        try:
            if self.worker_init_fn is not None:
                self.worker_init_fn(wid)
            if self.kind == _DatasetKind.Map:
                map_fetcher = _MapDatasetFetcher(self.dataset, self.auto_collation, self.collate_fn, self.drop_last)
        except Exception as e:  # noqa: BLE001  (reported with this worker's first batch, as PyTorch)
            init_exception = _ExceptionWrapper(e, wid)
        iter_fetcher = None
        q = self.queues[wid]
        while True:
            task = q.get()
            if task is None:
                break
            out_q, send_idx, kind, payload = task
            if kind == "reset":  # new epoch of an IterableDataset: fresh iterator
                try:
                    iter_fetcher = _IterableDatasetFetcher(
                        self.dataset, self.auto_collation, self.collate_fn, self.drop_last, self.batch_size
                    )
                except Exception as e:  # noqa: BLE001  (re-raised in the main thread)
                    iter_fetcher = None
                    if init_exception is None:
                        init_exception = _ExceptionWrapper(e, wid)
                continue
            if init_exception is not None:
                out_q.put((send_idx, init_exception))
                init_exception = None
                continue
            try:
                if self.kind == _DatasetKind.Map:
                    data = map_fetcher.fetch(payload)
                else:
                    try:
                        if iter_fetcher is None:
                            raise StopIteration
                        data = iter_fetcher.fetch()
                    except StopIteration:
                        data = _IterableEnd(wid)
            except Exception as e:  # noqa: BLE001  (re-raised in the main thread)
                data = _ExceptionWrapper(e, wid)
            out_q.put((send_idx, data))
        _set_worker_info(None)

    def shutdown(self):
        if self.alive:
            self.alive = False
            for q in self.queues:
                q.put(None)


class _ThreadPoolDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        if loader.persistent_workers:
            if loader._pool is None or not loader._pool.alive:
                loader._pool = _WorkerPool(loader, self._base_seed)
            self._pool, self._owns_pool = loader._pool, False
        else:
            self._pool, self._owns_pool = _WorkerPool(loader, self._base_seed), True
        self._out_q = queue.Queue()
        self._prefetch = max(1, loader.prefetch_factor * self._num_workers)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}  # send_idx -> worker id, for tasks not yet yielded
        self._reorder = {}
        self._active = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        self._exhausted = False
        if self._dataset_kind == _DatasetKind.Iterable:
            for wid in range(self._num_workers):
                self._pool.queues[wid].put((self._out_q, -1, "reset", None))
        for _ in range(self._prefetch):
            self._try_put_index()

    def _try_put_index(self):
        if self._exhausted or not any(self._active):
            return
        if self._dataset_kind == _DatasetKind.Map:
            try:
                index = self._next_index()
            except StopIteration:
                self._exhausted = True
                return
        else:
            index = None
        for _ in range(self._num_workers):
            wid = next(self._worker_cycle)
            if self._active[wid]:
                break
        self._pool.queues[wid].put((self._out_q, self._send_idx, "fetch", index))
        self._task_info[self._send_idx] = wid
        self._send_idx += 1

    def _get(self):
        try:
            if self._timeout > 0:
                return self._out_q.get(timeout=self._timeout)
            return self._out_q.get()
        except queue.Empty:
            self._shutdown()
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None

    def _next_data(self):
        while True:
            if self._rcvd_idx >= self._send_idx:
                self._shutdown()
                raise StopIteration
            if self._rcvd_idx in self._reorder:
                data = self._reorder.pop(self._rcvd_idx)
            else:
                idx, data = self._get()
                if idx != self._rcvd_idx:
                    self._reorder[idx] = data
                    continue
            del self._task_info[self._rcvd_idx]
            self._rcvd_idx += 1
            if isinstance(data, _IterableEnd):
                self._active[data.worker_id] = False
                # tasks already queued to this worker will also report its end
                self._try_put_index()
                continue
            self._try_put_index()
            if isinstance(data, _ExceptionWrapper):
                data.reraise()
            return data

    def _shutdown(self):
        if self._owns_pool and self._pool is not None:
            self._pool.shutdown()

    def __del__(self):
        with contextlib.suppress(Exception):
            self._shutdown()
