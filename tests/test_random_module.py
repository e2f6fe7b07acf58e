"""torch.random: fork_rng restores the generator's state; the module's functions are the global ones."""

import rustdl
import rustdl.random


def test_fork_rng_restores_the_state():
    rustdl.manual_seed(7)
    with rustdl.random.fork_rng():
        inside = rustdl.rand(3)
    after = rustdl.rand(3)
    assert rustdl.equal(inside, after)  # the draws inside did not advance the generator
    rustdl.manual_seed(7)
    with rustdl.random.fork_rng(enabled=False):
        rustdl.rand(3)
    assert not rustdl.equal(rustdl.rand(3), after)


def test_module_functions_are_the_global_ones():
    rustdl.random.manual_seed(3)
    a = rustdl.rand(2)
    rustdl.manual_seed(3)
    assert rustdl.equal(a, rustdl.rand(2))
    assert rustdl.random.initial_seed() == 3 and rustdl.initial_seed() == 3  # (was always 0)
    s = rustdl.random.seed()
    assert rustdl.initial_seed() == s
