"""``torch.profiler``: the same Rust-side per-operator timings as
``rustdl.autograd.profiler``, with ``torch.profiler``'s names
(``ProfilerActivity``, ``schedule``, ``tensorboard_trace_handler``,
``prof.step()``). Only CPU activity exists; a schedule is accepted and its
wait/warmup/active cycle decides which steps are recorded.
"""

import enum
import os

from ..autograd import profiler as _autograd_profiler
from ..autograd.profiler import EventList, record_function

__all__ = [
    "ProfilerAction",
    "ProfilerActivity",
    "profile",
    "record_function",
    "schedule",
    "tensorboard_trace_handler",
]


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 2
    XPU = 3
    MTIA = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """PyTorch's step schedule: after ``skip_first`` steps, cycles of
    ``wait`` idle, ``warmup`` and ``active`` recorded steps (``repeat``
    cycles, 0 = forever)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError("Invalid profiler schedule arguments")

    def schedule_fn(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        pos = step % cycle
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if pos < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """An ``on_trace_ready`` handler writing each recorded cycle as a Chrome
    trace into ``dir_name``."""

    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{os.uname().nodename}_{os.getpid()}"
        prof.export_chrome_trace(os.path.join(dir_name, f"{name}.{prof.step_num}.pt.trace.json"))

    return handler


class profile(_autograd_profiler.profile):
    """``torch.profiler.profile``: records the whole ``with`` block, or with
    ``schedule=`` only the active steps (advanced by ``prof.step()``),
    calling ``on_trace_ready(prof)`` at the end of each active cycle."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False,
                 use_cuda=None, custom_trace_id_callback=None):
        super().__init__(record_shapes=record_shapes, profile_memory=profile_memory, with_stack=with_stack)
        self.activities = set(activities) if activities else {ProfilerActivity.CPU}
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self._collected = EventList()

    def _action(self):
        return self.schedule(self.step_num) if self.schedule else ProfilerAction.RECORD

    def start(self):
        if self._action() in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE):
            self._start()

    def stop(self):
        if self._running:
            self._stop_and_keep()
        if self.schedule is None:
            self.function_events = self._collected
            if self.on_trace_ready:
                self.on_trace_ready(self)
        elif self.function_events is None:
            self.function_events = self._collected

    def _stop_and_keep(self):
        self._stop()
        self._collected.extend(self.function_events)
        self.function_events = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def step(self):
        """Ends the current step: stops, saves or starts recording as the
        schedule says for the next one."""
        before = self._action()
        self.step_num += 1
        after = self._action()
        recording = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if before == ProfilerAction.RECORD_AND_SAVE or (before in recording and after not in recording):
            if self._running:
                self._stop_and_keep()
            self.function_events = self._collected
            self._collected = EventList()
            if self.on_trace_ready:
                self.on_trace_ready(self)
        if after in recording and not self._running:
            self._start()
