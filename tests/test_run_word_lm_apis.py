"""What the word-language-model example (pytorch/examples, ``--model LSTM``
and ``--model Transformer``) needs beyond the layers themselves: PyTorch's
deprecated scalar-first overloads (``p.data.add_(-lr, p.grad)``), an
``nn.Transformer`` subclass using only its encoder, whole-model checkpoints
under the weights_only default, and generate.py's sampling.

``tests/torch_scripts/word_lm_apis.py`` is plain PyTorch run through
``python -m rustdl``; the expected lines are PyTorch 2.15's output for it
(random initialisation differs between the libraries, so losses are checked
by what training must reach, not digit for digit). The overload tests below
use values and messages recorded from PyTorch 2.15.
"""

import json
import os
import pickle
import pickletools
import re
import subprocess
import sys
import warnings
import zipfile

import pytest
import rustdl as torch
from rustdl import _deprecated_overloads
from test_run_module import SCRIPTS, child_env, run_rustdl

ADD_WARNING = ("This overload of add_ is deprecated:\n\tadd_(Number alpha, Tensor other)\n"
               "Consider using one of the following signatures instead:\n\tadd_(Tensor other, *, Number alpha = 1)")


def test_word_lm_api_script_runs_as_in_pytorch(tmp_path):
    r = run_rustdl(os.path.join(SCRIPTS, "word_lm_apis.py"), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.count("norm type: Tensor 0") == 2
    assert "deprecation warnings: 1\n" in out  # once per process, as PyTorch's TORCH_WARN_ONCE
    assert "deprecation message: " + ADD_WARNING.replace("\n", "|") in out
    for name in ("transformer", "lstm"):
        first, last = map(float, re.search(name + r" loss: ([0-9.]+) -> ([0-9.]+)", out).groups())
        assert first > 3.5 and last < 0.05, (name, first, last)  # PyTorch: 4.160 -> 0.002, 3.994 -> 0.001
    assert "has decoder Linear: True encoder layers: 2" in out
    for cls in ("TinyTransformerLM", "TinyLSTMLM"):
        assert (f"default load: UnpicklingError: WeightsUnpickler error: Unsupported global: GLOBAL __main__.{cls} "
                f"was not an allowed global by default. Please use `torch.serialization.add_safe_globals"
                f"([__main__.{cls}])` or the `torch.serialization.safe_globals([__main__.{cls}])` context "
                "manager to allowlist this global if you trust this class/function.") in out
        assert f"loaded type: {cls} same params: True" in out
    for cls in ("TinyTransformerLM", "TinyLSTMLM"):
        assert f"{cls} short allowlist: UnpicklingError: True" in out
        assert f"{cls} allowlisted load: {cls}" in out
    assert int(re.search(r"lstm sampled follows: (\d+)", out).group(1)) >= 25  # PyTorch: 29 of 30
    assert "transformer sampled: (11, 1) True" in out


@pytest.fixture
def fresh_warning():
    """The deprecation warning is given once per process; let each test see it."""
    _deprecated_overloads._warned = False
    yield
    _deprecated_overloads._warned = False


# (expression, result, x afterwards) as PyTorch 2.15 gives them for x = ones(3), g = full((3,), 2.).
CASES = [
    ("x.add_(-0.5, g)", [0.0] * 3, [0.0] * 3),
    ("x.add(-0.5, g)", [0.0] * 3, [1.0] * 3),
    ("torch.add(x, -0.5, g)", [0.0] * 3, [1.0] * 3),
    ("x.sub_(0.5, g)", [0.0] * 3, [0.0] * 3),
    ("x.sub(0.5, g)", [0.0] * 3, [1.0] * 3),
    ("torch.sub(x, 0.5, g)", [0.0] * 3, [1.0] * 3),
    ("x.addcmul_(0.5, g, g)", [3.0] * 3, [3.0] * 3),
    ("x.addcdiv_(0.5, g, g)", [1.5] * 3, [1.5] * 3),
    ("x.addcmul(0.5, g, g)", [3.0] * 3, [1.0] * 3),
    ("torch.addcmul(x, 0.5, g, g)", [3.0] * 3, [1.0] * 3),
    ("torch.addcdiv(x, 0.5, g, g)", [1.5] * 3, [1.0] * 3),
    ("x.add_(2, g)", [5.0] * 3, [5.0] * 3),
    ("x.add_(-0.5, 3.0)", [-0.5] * 3, [-0.5] * 3),
    ("x.add(torch.tensor(2.), g)", [5.0] * 3, [1.0] * 3),
    ("x.add(2, 3)", [7.0] * 3, [1.0] * 3),
    ("torch.sub(x, 2, 3)", [-5.0] * 3, [1.0] * 3),
]


@pytest.mark.parametrize(("expr", "result", "after"), CASES)
def test_scalar_first_overloads(fresh_warning, expr, result, after):
    x, g = torch.ones(3), torch.full((3,), 2.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = eval(expr, {"torch": torch, "x": x, "g": g})
    assert r.tolist() == result
    assert x.tolist() == after
    assert len(caught) == 1 and caught[0].category is UserWarning
    assert "overload of" in str(caught[0].message) and "is deprecated" in str(caught[0].message)
    assert caught[0].filename == "<string>"  # the eval-ed caller's line, as PyTorch attributes it


def test_warning_texts(fresh_warning):
    x, g = torch.ones(3), torch.full((3,), 2.0)
    with pytest.warns(UserWarning) as caught:
        torch.add(x, -0.5, g)
    assert str(caught[0].message) == (
        "This overload of add is deprecated:\n\tadd(Tensor input, Number alpha, Tensor other, *, Tensor out = None)\n"
        "Consider using one of the following signatures instead:\n"
        "\tadd(Tensor input, Tensor other, *, Number alpha = 1, Tensor out = None)")
    _deprecated_overloads._warned = False
    with pytest.warns(UserWarning) as caught:
        x.addcmul_(0.5, g, g)
    assert str(caught[0].message) == (
        "This overload of addcmul_ is deprecated:\n\taddcmul_(Number value, Tensor tensor1, Tensor tensor2)\n"
        "Consider using one of the following signatures instead:\n"
        "\taddcmul_(Tensor tensor1, Tensor tensor2, *, Number value = 1)")
    _deprecated_overloads._warned = False
    with pytest.warns(UserWarning) as caught:
        x.add_(-0.5, g)
    assert str(caught[0].message) == ADD_WARNING


def test_warned_once_per_process(fresh_warning):
    x, g = torch.ones(3), torch.full((3,), 2.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x.add_(-0.5, g)
        x.sub(0.5, g)
        x.addcdiv_(1, g, g)
    assert len(caught) == 1


def test_gradients_flow_through_the_old_overload(fresh_warning):
    w = torch.ones(3, requires_grad=True)
    g = torch.full((3,), 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = w.add(-0.5, g * w)
    y.sum().backward()
    assert w.grad.tolist() == [0.0, 0.0, 0.0]  # 1 + (-0.5) * 2


def test_misuse_raises_as_pytorch(fresh_warning):
    x, g = torch.ones(3), torch.full((3,), 2.0)
    with pytest.raises(RuntimeError, match="Boolean alpha only supported for Boolean results"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x.add_(True, g)
    with pytest.raises(TypeError, match="received an invalid combination of arguments - got unrecognized "
                                        "keyword arguments: alpha"):
        x.add_(-0.5, g, alpha=2)
    with pytest.raises(TypeError):
        x.add_(g, 2)
    with pytest.raises(TypeError):
        torch.add(x, g, -0.5)
    with pytest.raises(TypeError):
        x.subtract(0.5, g)  # subtract never had the old form
    assert x.add_(g, alpha=2).tolist() == [5.0] * 3  # the current signature is untouched


# ------------------------------------------- whole-model checkpoints across libraries
# Fixtures: tools/differential/record_whole_modules.py (PyTorch 2.15).

CHECKPOINTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "checkpoints")


def _whole_modules_record():
    with open(os.path.join(CHECKPOINTS, "whole_modules.json")) as f:
        return json.load(f)


def _outputs(layer, lstm):
    x = torch.linspace(-1, 1, 5 * 3 * 8).view(5, 3, 8)
    h = torch.linspace(-1, 1, 5 * 3 * 4).view(5, 3, 4)
    with torch.no_grad():
        return {"layer": layer(x).flatten().tolist(), "lstm": lstm(h)[0].flatten().tolist()}


def test_pytorch_whole_transformer_and_lstm_load_and_compute_the_same():
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL torch.nn.modules.transformer."
                                                     "TransformerEncoderLayer was not an allowed global"):
        torch.load(os.path.join(CHECKPOINTS, "whole_encoder_layer.pt"))
    layer = torch.load(os.path.join(CHECKPOINTS, "whole_encoder_layer.pt"), weights_only=False)
    lstm = torch.load(os.path.join(CHECKPOINTS, "whole_lstm.pt"), weights_only=False)
    assert type(layer.self_attn) is torch.nn.MultiheadAttention
    assert type(lstm) is torch.nn.LSTM
    lstm.flatten_parameters()
    expected = _whole_modules_record()["pytorch_outputs"]
    for name, values in _outputs(layer, lstm).items():
        assert max(abs(a - b) for a, b in zip(values, expected[name])) < 1e-5, name


def _pickled_strings(module, tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(module, str(path))
    with zipfile.ZipFile(path) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    return {arg for op, arg, _ in pickletools.genops(data) if isinstance(arg, str)}


def test_rustdl_whole_modules_have_what_pytorch_needs(tmp_path):
    # PyTorch loaded these (record_whole_modules.py) and computed rustdl's outputs:
    record = _whole_modules_record()["pytorch_reads_rustdl"]
    assert record["classes"] == ["TransformerEncoderLayer", "MultiheadAttention",
                                 "NonDynamicallyQuantizableLinear", "LSTM"]
    assert max(record["max_abs_diff"].values()) < 1e-5
    # ... which needs PyTorch's class locations and the state its __setstate__ reads.
    strings = _pickled_strings(torch.nn.TransformerEncoderLayer(8, 2, 16), tmp_path)
    assert "torch.nn.modules.activation MultiheadAttention" in strings  # GLOBAL's "module name"
    assert "torch.nn.modules.linear NonDynamicallyQuantizableLinear" in strings
    assert "_backward_hooks" in strings
    strings = _pickled_strings(torch.nn.LSTM(4, 4, 2), tmp_path)
    assert {"_all_weights", "_flat_weights", "_flat_weights_names", "_backward_hooks"} <= strings
    reloaded = torch.load(str(tmp_path / "whole.pt"), weights_only=False)
    assert [n for n, _ in reloaded.named_parameters()] == [n for n, _ in torch.nn.LSTM(4, 4, 2).named_parameters()]


def test_serialization_is_an_attribute_after_a_bare_import():
    r = subprocess.run([sys.executable, "-c", "import rustdl; print(rustdl.serialization.safe_globals.__name__)"],
                       env=child_env(), capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "safe_globals"
    with pytest.raises(AttributeError, match="module 'rustdl' has no attribute 'no_such_thing'"):
        torch.no_such_thing  # noqa: B018


def test_clip_grad_norm_old_name_and_empty_generator():
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.ones(3)
    with pytest.warns(FutureWarning, match=r"^`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                                           r"`torch.nn.utils.clip_grad_norm_`.$"):
        total = torch.nn.utils.clip_grad_norm(p, 0.5)
    assert abs(total.item() - 3 ** 0.5) < 1e-6  # PyTorch: tensor(1.7321), grads 0.2887
    assert all(abs(g - 0.5 / (3 ** 0.5 + 1e-6)) < 1e-6 for g in p.grad.tolist())
    with pytest.warns(UserWarning, match="`parameters` is an empty generator, no gradient clipping will occur."):
        assert torch.nn.utils.clip_grad_norm_((q for q in []), 1.0).item() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.nn.utils.clip_grad_norm_([], 1.0).item() == 0.0  # a list: no warning, as PyTorch
        assert abs(torch.nn.utils.clip_grad_norm_((q for q in [p]), 10.0).item() - 0.5) < 1e-5
