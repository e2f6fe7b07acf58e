"""Recurrent layers side by side with PyTorch (each library in its own worker
process, taking turns: benches/compare.py's `Worker` and `timeit`;
`--same-process` runs all here): forward+backward of
- LSTM(28 -> 128), batch 64, T=28 (sequential MNIST),
- GRU of the same size,
- a 2-layer LSTM(200 -> 200), T=35, batch 20, dropout 0.2 (word-language-model size;
  its input requires grad, as an embedding's output does; the MNIST-size ones' does not),
with rustdl's fused layer op, rustdl's step-by-step composite path (the code
before the fused op; `rnn._FUSED = False`) and PyTorch, at 1 and 2 threads.

    PYTHONPATH=python /work/torchenv/bin/python benches/bench_rnn.py [--quick] [--threads 1,2]
PyTorch is optional (rustdl only without it).
"""

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import InWorker, Worker, timeit


def workload(cls, inp, hidden, layers, seq, batch, dropout=0.0, input_grad=False):
    def make(lib, fused=True):
        lib.manual_seed(0)
        m = getattr(lib.nn, cls)(inp, hidden, num_layers=layers, dropout=dropout, batch_first=True)
        m.train()
        x = lib.randn(batch, seq, inp, requires_grad=input_grad)

        switch = importlib.import_module("rustdl.nn.modules.rnn") if lib.__name__ == "rustdl" else None

        def fn():
            if switch is not None:
                switch._FUSED = fused
            out, h = m(x)
            h = h[0] if cls == "LSTM" else h
            (out.sum() + h.sum()).backward()
            if switch is not None:
                switch._FUSED = True

        return fn

    return make


WORKLOADS = {
    "lstm_28x128_b64_t28": workload("LSTM", 28, 128, 1, 28, 64),
    "gru_28x128_b64_t28": workload("GRU", 28, 128, 1, 28, 64),
    "lstm2_200x200_b20_t35": workload("LSTM", 200, 200, 2, 35, 20, dropout=0.2, input_grad=True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("-k", default="")
    ap.add_argument("--same-process", action="store_true")
    args = ap.parse_args()
    import rustdl

    torch = None
    if importlib.util.find_spec("torch") is not None:
        torch = importlib.import_module("torch") if args.same_process else True
    workers = None
    if not args.same_process:
        workers = {"rustdl": Worker("rustdl", __file__)}
        if torch:
            workers["torch"] = Worker("torch", __file__)
    print("| workload | threads | rustdl fused ms | rustdl composite ms | torch ms | torch/fused | composite/fused |")
    print("|---|---|---|---|---|---|---|")
    for name, make in WORKLOADS.items():
        if args.k not in name:
            continue
        for n in (int(t) for t in args.threads.split(",")):
            if workers:
                fns = [InWorker(workers["rustdl"], name, n, [True]), InWorker(workers["rustdl"], name, n, [False], keep_others=True)]
                if torch:
                    fns.append(InWorker(workers["torch"], name, n))
            else:
                rustdl.set_num_threads(n)
                fns = [make(rustdl, True), make(rustdl, False)]
                if torch is not None:
                    torch.set_num_threads(n)
                    fns.append(make(torch))
            secs = timeit(fns, 3 if args.quick else 7)
            ms = [s * 1e3 for s in secs]
            t = f"{ms[2]:.2f}" if torch else "-"
            ratio = f"{ms[2] / ms[0]:.2f}x" if torch else "-"
            print(f"| {name} | {n} | {ms[0]:.2f} | {ms[1]:.2f} | {t} | {ratio} | {ms[1] / ms[0]:.2f}x |", flush=True)
    for w in (workers or {}).values():
        w.close()


if __name__ == "__main__":
    main()
