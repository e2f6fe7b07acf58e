"""Differential test: random cases run in PyTorch (this process) and rustdl
(a worker subprocess); differences are counted per category and op.

    PYTHONPATH=python /work/torchenv/bin/python tools/differential/run.py --seconds 300 --seed 1

See README.md in this folder.
"""

import argparse
import json
import math
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cases import make_case, op_names
from compare import classify, outcome_summary
from execute import case_tensor_specs, reproducer

EXAMPLES_PER_GROUP = 3
# categories about torch raising: their best examples are ones where torch raised
TORCH_RAISES = {"accepted-invalid", "wrong-exception-type", "exception-less-specific", "resource-limit"}


def example_rank(ex):
    """Examples shown first: valid calls (unless the category is about errors), then short ones."""
    return (ex["torch_raised"] != (ex["category"] in TORCH_RAISES), len(ex["repro"]))
# ops whose results sum many inputs: their absolute tolerance scales with the inputs
ACCUMULATING = {"sum", "mean", "nansum", "logsumexp", "cumsum", "std", "var", "std_mean", "var_mean", "norm",
                "mm", "bmm", "matmul", "inner", "outer", "dot", "mv", "linear", "conv1d", "conv2d", "conv3d",
                "conv_transpose1d", "conv_transpose2d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
                "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "layer_norm", "group_norm",
                "batch_norm", "instance_norm", "softmax", "log_softmax", "cross_entropy", "nll_loss", "mse_loss",
                "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                "binary_cross_entropy_with_logits", "kl_div", "index_add", "scatter_add", "scatter_reduce"}
SQUARING = {"std", "var", "std_mean", "var_mean", "norm", "mse_loss", "smooth_l1_loss", "huber_loss"}


INT_LIMIT = {"int64": 2**62, "int32": 2**30, "uint8": 256}


def _scalars(value):
    if isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    elif isinstance(value, dict) and "T" not in value:
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, float):
        yield value


def case_traits(case):
    """What ``compare.classify`` needs to know about a case's inputs."""
    biggest, edge, int_limits, huge = 0.0, False, False, False
    for spec in case_tensor_specs(case):
        values = [float(v) for v in spec["values"]]
        if spec["dtype"] in ("float32", "float64"):
            edge = edge or any(not math.isfinite(v) or abs(v) >= 1e30 for v in values)
            huge = huge or any(math.isfinite(v) and abs(v) >= 1e30 for v in values)
        elif spec["dtype"] in INT_LIMIT:
            int_limits = int_limits or any(abs(v) >= INT_LIMIT[spec["dtype"]] for v in values)
        biggest = max([biggest] + [abs(v) for v in values if math.isfinite(v)])
    for v in _scalars([case["args"], case["kwargs"]]):
        edge = edge or not math.isfinite(v) or abs(v) >= 1e30
    scale = 0.0
    if case["op"] in ACCUMULATING:
        scale = biggest * biggest if case["op"] in SQUARING else biggest
    # where each leaf that requires grad holds NaN (leaves in build order)
    nan_leaves = []
    for spec in case_tensor_specs(case):
        if spec.get("rg"):
            values = np.array([float(v) for v in spec["values"]], dtype=np.float64)
            nan_leaves.append(np.isnan(values).reshape(spec["base"]) if values.size == math.prod(spec["base"])
                              else None)
    linspace_args = None
    if case["op"] == "linspace" and len(case["args"]) == 3 and not case["kwargs"].keys() - {"dtype"} \
            and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in case["args"]) \
            and isinstance(case["args"][2], int) and case["args"][2] >= 1 \
            and all(math.isfinite(a) for a in case["args"][:2]):
        linspace_args = tuple(case["args"])
    return {"scale": scale, "edge_inputs": edge, "int_limits": int_limits, "huge_inputs": huge, "op": case["op"],
            "nan_leaves": nan_leaves, "linspace_args": linspace_args}


class Worker:
    """A library's subprocess (worker.py); restarted after a crash or hang,
    and every ``recycle`` cases (a library's memory bug may corrupt its heap
    without crashing at once)."""

    def __init__(self, lib, timeout, recycle=None):
        self.lib = lib
        self.timeout = timeout
        self.recycle = recycle
        self.proc = None
        self.stderr = None
        self.restarts = 0
        self.served = 0

    def start(self):
        if self.stderr is not None:
            self.stderr.close()
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the worker
        self.served = 0
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "worker.py"), "--lib", self.lib],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     env=os.environ.copy())
        line = self._read(6, 120)
        if line != b"READY\n":
            raise RuntimeError(f"the {self.lib} worker did not start: {line!r}; stderr: {self._stderr_tail(0)}")

    def _read(self, n, timeout):
        fd = self.proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _stderr_tail(self, offset, limit=600):
        self.stderr.seek(offset)
        text = self.stderr.read().decode(errors="replace").strip()
        self.stderr.seek(0, os.SEEK_END)
        return text[-limit:]

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()  # our own child, by its handle
            self.proc.wait()
            self.proc = None

    def run(self, case, grad_outputs=None, mode="run"):
        if self.proc is not None and self.recycle and self.served >= self.recycle:
            self.stop()
        if self.proc is None:
            self.start()
        self.served += 1
        self.stderr.seek(0, os.SEEK_END)
        offset = self.stderr.tell()
        payload = pickle.dumps((mode, case, grad_outputs))
        try:
            self.proc.stdin.write(struct.pack("<Q", len(payload)) + payload)
            self.proc.stdin.flush()
            (n,) = struct.unpack("<Q", self._read(8, self.timeout))
            return pickle.loads(self._read(n, self.timeout))
        except TimeoutError:
            self.stop()
            self.restarts += 1
            return {"crash": f"no answer in {self.timeout} s", "crash_kind": "hang"}
        except MemoryError:  # the worker's answer too big to read
            self.stop()
            self.restarts += 1
            return {"crash": "answer too big", "crash_kind": "crash"}
        except (EOFError, BrokenPipeError):
            code = self.proc.wait()
            tail = self._stderr_tail(offset)
            self.proc = None
            self.restarts += 1
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
            return {"crash": f"worker {how}: {tail[-300:]}", "crash_kind": "crash"}


def run_one(workers, case):
    """(findings, torch outcome, rustdl outcome) for a case; findings None
    when torch itself crashed or hung (the case is skipped)."""
    torch_worker, rustdl_worker = workers
    t_out = torch_worker.run(case)
    if "crash" in t_out:
        return None, t_out, None
    grad_outputs = t_out.get("grad_outputs")
    case["grad_outputs"] = grad_outputs or []
    case["grad_terms"] = t_out.get("grad_terms", [])
    r_out = rustdl_worker.run(case, grad_outputs)

    def reference():
        out = torch_worker.run(case, grad_outputs, mode="ref")
        return None if "exception" in out or "crash" in out else out

    def numgrad():
        return torch_worker.run(case, grad_outputs, mode="numgrad").get("numgrad")

    def jittered():
        outs = (torch_worker.run(case, grad_outputs, mode="jitter"),
                rustdl_worker.run(case, grad_outputs, mode="jitter"))
        return None if any("exception" in o or "crash" in o for o in outs) else outs

    return classify(t_out, r_out, reference, case_traits(case), numgrad, jittered), t_out, r_out


def grad_summary(out):
    if "grad_exception" in out:
        return "backward raised " + out["grad_exception"]["type"] + ": " + out["grad_exception"]["message"][:200]
    if "grads" not in out:
        return None
    from compare import value_summary
    return "grads: " + "; ".join(value_summary(g, 6) for g in out["grads"])


def example(case, findings, t_out, r_out, category):
    detail = next(d for c, d in findings if c == category)
    grad_cat = category.startswith("grad") or (category == "crash" and "backward" in detail)
    ex = {"id": case["id"], "seed": case["seed"], "repro": reproducer(case, with_grad=grad_cat),
          "detail": detail, "torch": outcome_summary(t_out), "rustdl": outcome_summary(r_out),
          "invalid_mutation": case["invalid"] or None, "category": category,
          "torch_raised": "exception" in t_out}
    if grad_cat:
        ex["torch_grad"] = grad_summary(t_out)
        ex["rustdl_grad"] = grad_summary(r_out)
    return ex


def build_report(meta, counts, per_op, groups):
    group_list = []
    for (op, category), g in sorted(groups.items(), key=lambda kv: -kv[1]["count"]):
        examples = sorted(g["examples"], key=example_rank)[:EXAMPLES_PER_GROUP]
        group_list.append({"op": op, "category": category, "count": g["count"], "examples": examples})
    return {"meta": meta, "counts": dict(counts.most_common()),
            "per_op": {op: dict(c.most_common()) for op, c in sorted(per_op.items())}, "groups": group_list}


SUMMARY_HEADER = """# Differential test: rustdl vs PyTorch

Reproducers assume `import rustdl; import rustdl.nn.functional as F; nan, inf = float('nan'), float('inf')`
(replace `rustdl` by `torch` and `rustdl.nn.functional` by `torch.nn.functional` to see PyTorch's answer).
Leaves that require grad are named with `:=` (`a`, `b`, ...). Categories are explained in
tools/differential/compare.py.
"""


def write_summary(report, path, top=60):
    m = report["meta"]
    run_line = (f"seed {m['seed']}, {m['cases']} cases in {m['elapsed_s']:.0f} s "
                f"({m['cases_agree']} agree, {m['cases_with_findings']} with findings; "
                f"rustdl worker restarts {m['worker_restarts']}; {m['skipped_torch_crashed']} cases skipped "
                f"because torch itself crashed or hung); torch {m['torch']}, rustdl commit {m['rustdl_commit']} "
                f"(working tree; extension built {m['rustdl_build']} UTC"
                + ("; REBUILT during the run: restarted workers load the new build" if
                   m["rustdl_rebuilt_during_run"] else "") + ")")
    lines = [SUMMARY_HEADER, run_line, "", "## Counts per category (cases)", "", "| category | cases |", "| --- | ---: |"]
    lines += [f"| {c} | {n} |" for c, n in report["counts"].items()]
    lines += ["", f"## Top {top} failure groups (op, category), most frequent first", ""]
    for i, g in enumerate(report["groups"][:top], 1):
        ex = g["examples"][0]
        lines += [f"### {i}. `{g['op']}` / {g['category']} ({g['count']} cases)", "",
                  "```python", ex["repro"], "```",
                  f"- torch: {ex['torch']}", f"- rustdl: {ex['rustdl']}", f"- detail: {ex['detail']}"]
        if ex.get("torch_grad") or ex.get("rustdl_grad"):
            lines += [f"- torch {ex.get('torch_grad')}", f"- rustdl {ex.get('rustdl_grad')}"]
        if ex.get("invalid_mutation"):
            lines.append(f"- (invalid mutation: {ex['invalid_mutation']})")
        lines.append("")
    rest = report["groups"][top:]
    if rest:
        lines += ["## Other groups", ""] + [f"- `{g['op']}` / {g['category']}: {g['count']}" for g in rest]
    if report.get("torch_crashes"):
        lines += ["", "## Cases skipped because torch itself crashed or hung", ""]
        lines += [f"- #{c['id']} `{c['op']}`: {c['torch'][:150]}: `{c['repro'][:300]}`" for c in report["torch_crashes"]]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def torch_version():
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                         text=True, timeout=120, check=False)
    return out.stdout.strip() or "?"


def rustdl_build_mtime():
    """When the rustdl extension that workers load was built (None if unknown)."""
    import glob

    for path in glob.glob(os.path.join(HERE, "..", "..", "python", "rustdl", "_C*.so")):
        try:
            return os.path.getmtime(os.path.realpath(path))
        except OSError:
            return None
    return None


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                              text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def replay(workers, seed, case_id, ops):
    case = make_case(seed, case_id, ops)
    findings, t_out, r_out = run_one(workers, case)
    print(json.dumps({k: v for k, v in case.items() if k not in ("grad_terms",)}, default=str)[:2000])
    print("repro :", reproducer(case))
    print("torch :", outcome_summary(t_out), grad_summary(t_out) or "")
    print("rustdl:", outcome_summary(r_out), grad_summary(r_out) or "")
    print("findings:", findings or "none")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60, help="time budget (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ops", default="", help="comma-separated op names (default: all; see --list-ops)")
    p.add_argument("--out", default="difftest_report.json", help="JSON report path")
    p.add_argument("--summary", default=None, help="Markdown summary path (default: next to --out)")
    p.add_argument("--timeout", type=float, default=10, help="per-case timeout in the worker (s)")
    p.add_argument("--max-cases", type=int, default=None)
    p.add_argument("--start", type=int, default=0, help="first case id")
    p.add_argument("--replay", type=int, default=None, help="run one case id and print it")
    p.add_argument("--list-ops", action="store_true")
    p.add_argument("--verbose", "-v", action="store_true", help="print each finding as it happens")
    p.add_argument("--trace", default=None, help="append each case id to this file before running it")
    args = p.parse_args(argv)

    if args.list_ops:
        print(" ".join(op_names()))
        return 0
    ops = [o for o in args.ops.split(",") if o] or None
    unknown = set(ops or []) - set(op_names())
    if unknown:
        p.error(f"unknown ops: {sorted(unknown)}")

    workers = (Worker("torch", args.timeout, recycle=2000), Worker("rustdl", args.timeout))
    if args.replay is not None:
        try:
            replay(workers, args.seed, args.replay, ops)
        finally:
            for w in workers:
                w.stop()
        return 0

    counts, per_op, groups = Counter(), defaultdict(Counter), {}
    n_cases = n_agree = 0
    torch_failures = []
    commit, build_mtime = git_commit(), rustdl_build_mtime()  # what the workers load now
    started = time.monotonic()
    case_id = args.start
    try:
        while time.monotonic() - started < args.seconds:
            if args.max_cases is not None and n_cases >= args.max_cases:
                break
            case = make_case(args.seed, case_id, ops)
            case_id += 1
            if args.trace:
                with open(args.trace, "a") as f:
                    f.write(f"{case['id']}\n")
            findings, t_out, r_out = run_one(workers, case)
            if findings is None:
                torch_failures.append({"id": case["id"], "op": case["op"], "torch": t_out["crash"][:300],
                                       "repro": reproducer(case, "torch")})
                continue
            n_cases += 1
            per_op[case["op"]]["cases"] += 1
            if not findings:
                n_agree += 1
                continue
            for category in dict.fromkeys(c for c, _ in findings):
                counts[category] += 1
                per_op[case["op"]][category] += 1
                g = groups.setdefault((case["op"], category), {"count": 0, "examples": []})
                g["count"] += 1
                ex = example(case, findings, t_out, r_out, category)
                g["examples"].append(ex)
                g["examples"] = sorted(g["examples"], key=example_rank)[:EXAMPLES_PER_GROUP]
                if args.verbose:
                    print(f"[{case['id']}] {case['op']} {category}: {ex['repro'][:300]}\n    {ex['detail'][:300]}",
                          flush=True)
    except KeyboardInterrupt:
        print("interrupted; writing the report so far", file=sys.stderr)
    finally:
        for w in workers:
            w.stop()
    elapsed = time.monotonic() - started
    meta = {"seed": args.seed, "seconds": args.seconds, "elapsed_s": round(elapsed, 1), "cases": n_cases,
            "first_case": args.start, "cases_agree": n_agree, "cases_with_findings": n_cases - n_agree,
            "worker_restarts": workers[1].restarts, "torch_worker_restarts": workers[0].restarts,
            "ops": ops or "all", "torch": torch_version(), "rustdl_commit": commit,
            "rustdl_build": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(build_mtime)) if build_mtime else "?",
            "rustdl_rebuilt_during_run": rustdl_build_mtime() != build_mtime,
            "skipped_torch_crashed": len(torch_failures)}
    report = build_report(meta, counts, per_op, groups)
    report["torch_crashes"] = torch_failures[:50]
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1, default=str)
    summary = args.summary or os.path.splitext(args.out)[0] + "_summary.md"
    write_summary(report, summary)
    print(f"{n_cases} cases in {elapsed:.0f} s: {n_agree} agree; report {args.out}, summary {summary}")
    for category, n in counts.most_common():
        print(f"  {category:24s} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
