"""nn.Module forward hooks (with_kwargs, always_call, prepend) and full backward / backward pre
hooks, compared with what the same scenarios logged in PyTorch (tests/golden/module_hooks.json)."""

import json
import warnings
from pathlib import Path

import module_hook_cases as cases
import numpy as np
import pytest
import rustdl

GOLDEN = json.loads((Path(__file__).parent / "golden" / "module_hooks.json").read_text())


def _same(got, want, path="result"):
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), path
        for k in want:
            _same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list) and want and all(isinstance(w, (int, float)) and not isinstance(w, bool)
                                                 for w in np.ravel(np.array(want, dtype=object))):
        np.testing.assert_allclose(np.array(got, dtype=np.float64), np.array(want, dtype=np.float64), rtol=1e-5,
                                   atol=1e-5, err_msg=path)
    elif isinstance(want, list):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-5), path
    else:
        assert got == want, (path, got, want)


@pytest.mark.parametrize("name", sorted(cases.SCENARIOS))
def test_hooks_see_what_pytorch_hooks_see(name):
    got = json.loads(json.dumps(cases.SCENARIOS[name](rustdl)))
    _same(got, GOLDEN["scenarios"][name])


def test_hook_handles_remove_their_flags_and_backward_hook_is_deprecated():
    m = rustdl.nn.Linear(2, 2)
    h = m.register_forward_hook(lambda *a: None, with_kwargs=True, always_call=True)
    h.remove()
    assert not m._forward_hooks and not m._forward_hooks_with_kwargs and not m._forward_hooks_always_called
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.register_backward_hook(lambda *a: None)
    assert any(issubclass(w.category, FutureWarning) for w in caught)


def test_pre_hook_with_kwargs_must_return_a_pair():
    m = rustdl.nn.Identity()
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple of"):
        m(rustdl.ones(2))
