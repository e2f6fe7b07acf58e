"""Anomaly mode (torch.autograd.detect_anomaly): a backward that fails names the node, and
a warning shows the forward call that recorded it (PyTorch's "Error detected in ...")."""

import warnings

import pytest
import rustdl as torch


def _divide_by_itself(x):
    return x / x  # the forward line the warning must show


def test_failing_backward_warns_with_the_forward_call():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly():
            y = _divide_by_itself(x)
            with pytest.raises(RuntimeError, match=r"Function 'DivBackward0' returned nan values in its 1th output"):
                y.sum().backward()
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    detected = [m for m in messages if m.startswith("Error detected in DivBackward0")]
    assert len(detected) == 1, messages
    assert "Traceback of forward call that caused the error:" in detected[0]
    assert "_divide_by_itself" in detected[0]
    assert "return x / x" in detected[0]


def test_graph_recorded_outside_anomaly_mode_says_so():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    y = x / x
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="returned nan values"):
            y.sum().backward()
    messages = [str(w.message) for w in caught]
    assert any("Error detected in DivBackward0. No forward pass information available" in m for m in messages)


def test_no_stack_is_kept_and_nothing_warned_outside_anomaly_mode():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (x / x).sum().backward()  # NaN gradients, silently, as in PyTorch
    assert not [w for w in caught if "Error detected" in str(w.message)]
    assert torch.isnan(x.grad).any()


def test_a_warnings_filter_set_to_error_keeps_the_backward_error():
    x = torch.tensor([0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # set_detect_anomaly: detect_anomaly's own "enabled" warning would raise here
        with pytest.raises(RuntimeError, match="returned nan values"), torch.autograd.set_detect_anomaly(True):
            (x / x).sum().backward()
