"""``SummaryWriter``: PyTorch's ``torch.utils.tensorboard.SummaryWriter`` for rustdl.

Events are written with TensorBoard's own ``EventFileWriter`` and protos, so
``tensorboard --logdir runs`` (and TensorBoard's ``EventAccumulator``) read them.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from datetime import datetime

from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from . import _summary

__all__ = ["FileWriter", "SummaryWriter"]


def _check_writable_dir(log_dir):
    try:
        os.makedirs(log_dir, exist_ok=True)
    except PermissionError as e:
        raise PermissionError(e.errno, f"SummaryWriter: cannot create log_dir '{log_dir}' (permission denied)", log_dir) from e
    except OSError as e:
        raise RuntimeError(f"SummaryWriter: cannot create log_dir '{log_dir}': {e}") from e
    if not os.path.isdir(log_dir):
        raise NotADirectoryError(f"SummaryWriter: log_dir '{log_dir}' is not a directory")
    if not os.access(log_dir, os.W_OK | os.X_OK):
        raise PermissionError(13, f"SummaryWriter: log_dir '{log_dir}' is not writable", log_dir)


class FileWriter:
    """Writes ``Summary`` protos into one event file of ``log_dir``."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        log_dir = os.fspath(log_dir)
        _check_writable_dir(log_dir)
        try:
            self.event_writer = EventFileWriter(log_dir, max_queue, flush_secs, filename_suffix)
        except OSError as e:
            raise RuntimeError(f"SummaryWriter: cannot create an event file in '{log_dir}': {e}") from e

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_profile, walltime=None):
        """``(GraphDef, RunMetadata)``: the graph event, then the run metadata tagged "step1"."""
        from tensorboard.compat.proto.event_pb2 import TaggedRunMetadata

        graph_def, stepstats = graph_profile
        self.add_event(Event(graph_def=graph_def.SerializeToString()), None, walltime)
        trm = TaggedRunMetadata(tag="step1", run_metadata=stepstats.SerializeToString())
        self.add_event(Event(tagged_run_metadata=trm), None, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()

    def reopen(self):
        self.event_writer.reopen()


class SummaryWriter:
    """Write entries to event files in ``log_dir`` for TensorBoard to read.

    ``log_dir`` defaults to ``runs/CURRENT_DATETIME_HOSTNAME`` + ``comment``, like PyTorch.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        if not log_dir:
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = os.fspath(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = None
        self.all_writers = None
        self._get_file_writer()

    def _get_file_writer(self):
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step = self.purge_step
                self.file_writer.add_event(Event(step=step, file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=step, session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    # ------------------------------------------------------------------ scalars
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False, double_precision=False):
        self._get_file_writer().add_summary(_summary.scalar(tag, scalar_value), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """One sub-run per key (``log_dir/main_tag_key``), all under the tag ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            fw_tag = os.path.join(fw_logdir, main_tag.replace("/", "_") + "_" + tag)
            if fw_tag not in self.all_writers:
                self.all_writers[fw_tag] = FileWriter(fw_tag, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers[fw_tag].add_summary(_summary.scalar(main_tag, value), global_step, walltime)

    # ------------------------------------------------------------------ histograms
    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        self._get_file_writer().add_summary(_summary.histogram(tag, values, bins, max_bins), global_step, walltime)

    # ------------------------------------------------------------------ images
    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        self._get_file_writer().add_summary(_summary.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        self._get_file_writer().add_summary(_summary.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        self._get_file_writer().add_summary(_summary.image_from_figure(tag, figure, close), global_step, walltime)

    # ------------------------------------------------------------------ text / hparams
    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._get_file_writer().add_summary(_summary.text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None):
        """Log one hyper-parameter session (in a sub-run) with its metric values."""
        exp, ssi, sei = _summary.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        if not run_name:
            run_name = str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w_hp:
            w_hp.file_writer.add_summary(exp, global_step)
            w_hp.file_writer.add_summary(ssi, global_step)
            w_hp.file_writer.add_summary(sei, global_step)
            for k, v in metric_dict.items():
                w_hp.add_scalar(k, v, global_step)

    # ------------------------------------------------------------------ not supported
    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The model traced on ``input_to_model`` (``rustdl.jit``), written as TensorBoard's
        GraphDef (the Graphs tab), as PyTorch's writer does."""
        from ._graph import graph

        self._get_file_writer().add_graph(graph(model, input_to_model, verbose, use_strict_trace))

    def add_embedding(self, *args, **kwargs):
        warnings.warn("rustdl SummaryWriter.add_embedding is not supported; nothing was written", stacklevel=2)

    # ------------------------------------------------------------------ lifecycle
    def flush(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()
