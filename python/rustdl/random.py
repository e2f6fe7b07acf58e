"""``torch.random``: the global generator's seed and state, and ``fork_rng`` (run a block and put
the random state back as it was)."""

import contextlib

from . import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state

__all__ = ["Generator", "fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed", "set_rng_state"]


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None):
    """Within the block the global generator may be used freely; on leaving, its state is what it
    was on entering (rustdl has only the CPU generator, so ``devices`` has nothing to fork)."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
