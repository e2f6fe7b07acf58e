"""``rustdl.profiler`` / ``rustdl.autograd.profiler`` (``torch.profiler``):
per-operator CPU times measured in Rust (issue 20)."""

import json
import threading
import time

import pytest
import rustdl as torch
from rustdl import nn
from rustdl.profiler import ProfilerAction, ProfilerActivity, profile, record_function, schedule


def rows(prof):
    return {e.key: e for e in prof.key_averages()}


def test_ops_backward_nodes_and_ranges_are_recorded():
    m = nn.Linear(8, 4)
    x = torch.randn(16, 8)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model_inference"):
            y = m(x).relu().sum()
        y.backward()
    r = rows(prof)
    # Linear is addmm, as in PyTorch
    for name in ("model_inference", "aten::addmm", "aten::relu", "aten::sum", "AddmmBackward0", "ReluBackward0"):
        assert name in r, sorted(r)
    assert r["aten::relu"].count == 1
    # the range contains the forward ops: its total covers them, its self time excludes them
    inf = r["model_inference"]
    inner = sum(r[k].cpu_time_total for k in ("aten::addmm", "aten::relu", "aten::sum"))
    assert inf.cpu_time_total >= inner
    assert inf.self_cpu_time_total <= inf.cpu_time_total - inner + 1e-3
    for e in prof.key_averages():
        assert 0 <= e.self_cpu_time_total <= e.cpu_time_total + 1e-6
    # metadata queries are not operators
    assert not any(k in r for k in ("aten::shape", "aten::dim", "aten::backward"))


def test_counts_and_names():
    a, b = torch.ones(3, 3), torch.ones(3, 3)
    with torch.autograd.profiler.profile() as prof:
        for _ in range(5):
            a + b
        a.mm(b)
        a.add_(1)
        a @ b
    r = rows(prof)
    assert r["aten::add"].count == 5
    assert r["aten::mm"].count == 1 and r["aten::add_"].count == 1 and r["aten::matmul"].count == 1


def test_measures_real_time():
    a = torch.randn(400, 400)
    with profile() as prof:
        a.mm(a)
        with record_function("sleep"):
            time.sleep(0.02)
    r = rows(prof)
    assert r["sleep"].cpu_time_total >= 19_000  # microseconds
    assert r["aten::mm"].cpu_time_total > 0


def test_table_format():
    with profile() as prof:
        torch.ones(3) + 1
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
    lines = table.splitlines()
    assert lines[0].startswith("-") and lines[2].startswith("-")
    assert lines[1].split() == ["Name", "Self", "CPU", "%", "Self", "CPU", "CPU", "total", "%", "CPU", "total",
                                "CPU", "time", "avg", "#", "of", "Calls"]
    assert lines[-1].startswith("Self CPU time total: ")
    assert any("aten::add" in line for line in lines)
    # sorted by self CPU time, row_limit respected
    assert len(prof.key_averages().table(row_limit=1).splitlines()) == 6


def test_chrome_trace(tmp_path):
    with profile() as prof, record_function("block"):
        torch.ones(3).sum()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    names = {e["name"] for e in trace["traceEvents"]}
    assert {"block", "aten::ones", "aten::sum"} <= names
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in trace["traceEvents"])


def test_schedule_records_only_active_steps():
    seen = []
    sched = schedule(wait=1, warmup=1, active=2, repeat=1)
    assert [sched(i) for i in range(5)] == [ProfilerAction.NONE, ProfilerAction.WARMUP, ProfilerAction.RECORD,
                                            ProfilerAction.RECORD_AND_SAVE, ProfilerAction.NONE]
    with profile(schedule=sched, on_trace_ready=lambda p: seen.append(rows(p))) as prof:
        for step in range(5):
            for _ in range(step + 1):
                torch.ones(2).neg()
            prof.step()
    assert len(seen) == 1
    assert seen[0]["aten::neg"].count == 3 + 4  # steps 2 and 3


def test_other_threads_are_recorded():
    def work():
        torch.ones(2).exp()

    with profile() as prof:
        t = threading.Thread(target=work)
        t.start()
        t.join()
    r = rows(prof)
    assert r["aten::exp"].count == 1


def test_off_after_exit_and_unfinished_raises():
    with profile() as prof:
        torch.ones(1)
    n = len(prof.events())
    torch.ones(1) + 1
    assert len(prof.events()) == n
    p = torch.autograd.profiler.profile()
    with pytest.raises(RuntimeError, match="Profiler didn't finish running"):
        p.key_averages()


def test_record_function_as_decorator():
    @record_function("my_fn")
    def f():
        return torch.ones(2) * 2

    with profile() as prof:
        f()
    assert rows(prof)["my_fn"].count == 1
