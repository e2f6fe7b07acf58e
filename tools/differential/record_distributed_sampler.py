"""Record PyTorch's DistributedSampler indices into tests/golden/distributed_sampler.json
(run with PyTorch installed; tests/test_distributed.py replays the cases with rustdl)."""

import itertools
import json
import os

import torch
from torch.utils.data.distributed import DistributedSampler

cases = []
for n, replicas, drop_last, shuffle, (seed, epoch) in itertools.product(
    [0, 1, 7, 11, 100], [1, 3, 4], [False, True], [True, False], [(0, 0), (7, 2), (2**33 + 5, 1)]
):
    if not shuffle and (seed, epoch) != (0, 0):
        continue
    for rank in range(replicas):
        s = DistributedSampler(range(n), replicas, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        s.set_epoch(epoch)
        cases.append({"n": n, "num_replicas": replicas, "rank": rank, "shuffle": shuffle, "seed": seed,
                      "epoch": epoch, "drop_last": drop_last, "len": len(s), "indices": list(s)})
perms = {str(k): torch.randperm(k, generator=torch.Generator().manual_seed(seed)).tolist()
         for k, seed in [(2, 0), (1000, 3), (5000, 123456789)]}
out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "distributed_sampler.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases,
               "randperm": [{"n": int(k), "seed": s, "perm": perms[k]}
                            for k, s in [("2", 0), ("1000", 3), ("5000", 123456789)]]}, f)
print(len(cases), "cases")
