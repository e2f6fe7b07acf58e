"""``torch.autograd.profiler``: per-operator CPU timings measured in Rust.

While a :class:`profile` is active, every call into the Rust engine (each
binding: ``aten::add``, ``aten::mm``, ``aten::convolution`` ...), every
backward node the autograd engine runs (``MmBackward0`` ...) and every
:class:`record_function` range is timed on the Rust side
(``rust/profiler.rs``); ``key_averages()`` groups the spans by name with
PyTorch's columns (self and total CPU time, calls). Off, the cost is one
relaxed atomic load per binding call.
"""

import json
import os
import threading

from .. import _C

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "profile", "record_function"]


def _format_time(time_us):
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def _format_share(part, total):
    return f"{part * 100.0 / total:.2f}%" if total > 0 else "0.00%"


class FunctionEvent:
    """One recorded span: an operator call, a backward node or a range."""

    def __init__(self, name, kind, start_us, duration_us, self_us, thread):
        self.name = self.key = name
        self.kind = kind
        self.time_range_start = start_us
        self.cpu_time_total = duration_us
        self.self_cpu_time_total = self_us
        self.thread = thread
        self.count = 1
        self.is_user_annotation = kind == "range"
        self.is_async = False
        self.device_type = "CPU"
        self.input_shapes = []
        self.stack = []
        self.node_id = -1
        self.self_device_time_total = self.device_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0

    @property
    def cpu_time(self):
        return self.cpu_time_total

    @property
    def time_range_end(self):
        return self.time_range_start + self.cpu_time_total

    cpu_time_str = property(lambda self: _format_time(self.cpu_time))
    cpu_time_total_str = property(lambda self: _format_time(self.cpu_time_total))
    self_cpu_time_total_str = property(lambda self: _format_time(self.self_cpu_time_total))

    def __repr__(self):
        return (f"<FunctionEvent name={self.name} thread={self.thread} cpu_time={self.cpu_time_str} "
                f"self_cpu_time={self.self_cpu_time_total_str}>")


class FunctionEventAvg:
    """The spans of one name added up (a row of ``key_averages()``)."""

    def __init__(self, key):
        self.key = key
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.is_user_annotation = False
        self.is_async = False
        self.input_shapes = []
        self.stack = []
        self.node_id = -1
        self.self_device_time_total = self.device_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0

    def add(self, other):
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        self.is_user_annotation = self.is_user_annotation or other.is_user_annotation
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    cpu_time_str = property(lambda self: _format_time(self.cpu_time))
    cpu_time_total_str = property(lambda self: _format_time(self.cpu_time_total))
    self_cpu_time_total_str = property(lambda self: _format_time(self.self_cpu_time_total))

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str} count={self.count}>")


class EventList(list):
    """A list of events (or of averages) with PyTorch's ``table``,
    ``key_averages``, ``total_average`` and ``export_chrome_trace``."""

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        rows = {}
        for evt in self:
            rows.setdefault(evt.key, FunctionEventAvg(evt.key)).add(evt)
        return EventList(rows.values())

    def total_average(self):
        total = FunctionEventAvg("Total")
        for evt in self:
            total.add(evt)
        return total

    @property
    def self_cpu_time_total(self):
        return sum(evt.self_cpu_time_total for evt in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False, time_unit=None):
        return _build_table(self, sort_by, row_limit, max_name_column_width, header, time_unit)

    def export_chrome_trace(self, path):
        events = [{
            "ph": "X", "cat": "user_annotation" if evt.is_user_annotation else "cpu_op",
            "name": evt.name, "pid": os.getpid(), "tid": evt.thread,
            "ts": evt.time_range_start, "dur": evt.cpu_time_total, "args": {},
        } for evt in self if isinstance(evt, FunctionEvent)]
        with open(path, "w") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms", "schemaVersion": 1}, f)


def _build_table(events, sort_by, row_limit, max_name_column_width, header, time_unit):
    if not events:
        return ""
    if sort_by is not None:
        events = sorted(events, key=lambda e: getattr(e, sort_by.replace("cuda", "device")), reverse=True)
    total = sum(evt.self_cpu_time_total for evt in events)
    name_width = max(len(evt.key) for evt in events) + 4
    if max_name_column_width is not None:
        name_width = min(name_width, max_name_column_width)
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
    widths = [name_width] + [12] * (len(headers) - 1)
    row_format = "".join("{:>" + str(w) + "}  " for w in widths)
    sep = "".join("-" * w + "  " for w in widths)
    line_length = sum(w + 2 for w in widths) - 2

    def fmt(us):
        if time_unit == "s":
            return f"{us / 1e6:.3f}s"
        if time_unit == "ms":
            return f"{us / 1e3:.3f}ms"
        if time_unit == "us":
            return f"{us:.3f}us"
        return _format_time(us)

    lines = []
    if header is not None:
        lines += ["=" * line_length, header]
    lines += [sep, row_format.format(*headers), sep]
    for i, evt in enumerate(events):
        if i == row_limit:
            break
        name = evt.key
        if max_name_column_width is not None and len(name) >= max_name_column_width - 3:
            name = name[: max_name_column_width - 3] + "..."
        lines.append(row_format.format(
            name, _format_share(evt.self_cpu_time_total, total), fmt(evt.self_cpu_time_total),
            _format_share(evt.cpu_time_total, total), fmt(evt.cpu_time_total), fmt(evt.cpu_time), evt.count))
    lines.append(sep)
    lines.append(f"Self CPU time total: {fmt(total)}")
    return "\n".join(lines) + "\n"


_active = threading.local()


class profile:
    """``torch.autograd.profiler.profile``: times every operator run inside
    the ``with`` block (on every thread), on the Rust side."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False, with_flops=False,
                 profile_memory=False, with_stack=False, with_modules=False, use_kineto=False,
                 use_cpu=True, experimental_config=None, acc_events=False, custom_trace_id_callback=None):
        self.enabled = enabled
        self.use_device = use_device
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.function_events = None
        self._running = False

    def __enter__(self):
        if self.enabled:
            self._start()
        return self

    def __exit__(self, *exc):
        if self._running:
            self._stop()
        return False

    def _start(self):
        if _C._profiler_enabled():
            raise RuntimeError("Profiler is already enabled on this thread")
        _C._profiler_start()
        self._running = True

    def _stop(self):
        spans = _C._profiler_stop()
        self._running = False
        events = EventList(FunctionEvent(*s) for s in spans)
        events.sort(key=lambda e: (e.time_range_start, -e.cpu_time_total))
        self.function_events = events

    def _check_finish(self):
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")

    def events(self):
        self._check_finish()
        return self.function_events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        self._check_finish()
        return self.function_events.key_averages()

    def total_average(self):
        self._check_finish()
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self):
        self._check_finish()
        return self.function_events.self_cpu_time_total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False, time_unit=None):
        self._check_finish()
        return self.function_events.table(sort_by=sort_by, row_limit=row_limit,
                                          max_name_column_width=max_name_column_width, header=header,
                                          time_unit=time_unit)

    def export_chrome_trace(self, path):
        self._check_finish()
        return self.function_events.export_chrome_trace(path)

    def __str__(self):
        return self.table() if self.function_events is not None else "<unfinished profiler>"


class record_function:
    """A named range in the profile (a row of its own whose time includes
    the operators run inside it); a context manager or a decorator."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args

    def __enter__(self):
        _C._profiler_range_begin(self.name)
        return self

    def __exit__(self, *exc):
        _C._profiler_range_end()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with record_function(self.name):
                return fn(*args, **kwargs)

        return wrapped
