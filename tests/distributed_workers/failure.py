"""A job in which rank 1 fails (``argv[1]``: crash = killed, exit = leaves without a word,
hang = stops calling collectives, raise = uncaught exception) while rank 0 waits in an all_reduce.
The job must end with an error, never hang."""

import datetime
import os
import sys
import time

import rustdl
import rustdl.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=float(sys.argv[2])))
t = rustdl.ones(4)
dist.all_reduce(t)  # everyone is up
if dist.get_rank() == 1:
    if mode == "crash":
        os._exit(3)
    if mode == "exit":
        sys.exit(0)
    if mode == "hang":
        time.sleep(3600)
    if mode == "raise":
        raise ValueError("rank 1 failed on purpose")
dist.all_reduce(t)
print("rank", dist.get_rank(), "passed the all_reduce", flush=True)
