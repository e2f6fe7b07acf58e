"""torch.optim.swa_utils cases shared by tools/differential/record_swa.py (PyTorch) and
tests/test_swa_utils.py (rustdl): averaged weights, n_averaged and state_dict keys after a few
updates, SWALR's learning-rate sequence, update_bn's recomputed statistics."""

import numpy as np


def _model(lib, seed):
    rng = np.random.default_rng(seed)
    m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
        m[1].running_mean.copy_(lib.tensor(rng.standard_normal(4).astype(np.float32)))
    return m


def _flat(module):
    return {k: v.detach().double().numpy().ravel().tolist() for k, v in module.state_dict().items()}


def averaged(lib, kind):
    swa = lib.optim.swa_utils
    model = _model(lib, 0)
    fns = {"swa": {}, "ema": {"multi_avg_fn": swa.get_ema_multi_avg_fn(0.9)},
           "ema_single": {"avg_fn": swa.get_ema_avg_fn(0.8)}, "swa_buffers": {"use_buffers": True}}
    avg = swa.AveragedModel(model, **fns[kind])
    for step in range(4):
        with lib.no_grad():
            for p in model.parameters():
                p.mul_(0.7).add_(0.1 * (step + 1))
            model[1].running_var.add_(0.5)
            model[1].num_batches_tracked.add_(1)
        avg.update_parameters(model)
    out = _flat(avg)
    out["keys"] = sorted(avg.state_dict())
    x = lib.tensor(np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3))
    avg.eval()
    out["forward"] = avg(x).detach().double().numpy().ravel().tolist()
    return out


def swalr(lib, strategy, anneal_epochs):
    p = lib.nn.Parameter(lib.zeros(2))
    q = lib.nn.Parameter(lib.zeros(2))
    opt = lib.optim.SGD([{"params": [p], "lr": 0.5}, {"params": [q], "lr": 0.1}], lr=0.5)
    sched = lib.optim.swa_utils.SWALR(opt, swa_lr=[0.05, 0.2], anneal_epochs=anneal_epochs,
                                      anneal_strategy=strategy)
    lrs = [sched.get_last_lr()]
    for _ in range(7):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return lrs


def update_bn(lib):
    model = _model(lib, 1)
    rng = np.random.default_rng(2)
    batches = [(lib.tensor(rng.standard_normal((6, 3)).astype(np.float32)), lib.zeros(6)) for _ in range(3)]
    momentum = model[1].momentum
    model.eval()
    lib.optim.swa_utils.update_bn(batches, model)
    bn = model[1]
    return {"mean": bn.running_mean.double().numpy().tolist(), "var": bn.running_var.double().numpy().tolist(),
            "batches": int(bn.num_batches_tracked), "momentum": bn.momentum == momentum, "training": model.training}
