"""Malformed calls: each must raise PyTorch's exception type (never a Rust
panic) with a message naming the offending shapes/values, and the
interpreter must survive all of them."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rustdl as torch

ALLOWED = (RuntimeError, IndexError, TypeError, ValueError, NotImplementedError)


def _inplace_on_saved():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1.0
    c = b.exp()  # exp saves its output...
    c.add_(1)  # ...which is then modified in place
    c.sum().backward()


def _inplace_on_saved_input():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1.0
    c = b * b  # mul saves its inputs
    b.mul_(2)
    c.sum().backward()


def _backward_twice():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _setitem_leaf():
    x = torch.ones(3, requires_grad=True)
    x[0] = 5.0


def _requires_grad_int():
    torch.tensor([1, 2]).requires_grad_()


def _requires_grad_int_attr():
    t = torch.tensor([1, 2])
    t.requires_grad = True


class _Weird:
    pass


# (id, callable, expected exception type, regex the message must match or None)
CASES = [
    # --- shape mismatches -------------------------------------------------
    ("add_shape", lambda: torch.ones(2, 3) + torch.ones(4, 3), RuntimeError,
     r"size of tensor a \(2\) must match the size of tensor b \(4\) at non-singleton dimension 0"),
    ("mul_shape", lambda: torch.ones(2, 3) * torch.ones(2, 4), RuntimeError,
     r"\(3\).*\(4\).*dimension 1"),
    ("iadd_broadcast_self", lambda: torch.ones(3).add_(torch.ones(2, 3)), RuntimeError, None),
    ("matmul_shape", lambda: torch.ones(2, 3) @ torch.ones(4, 5), RuntimeError,
     r"2x3.*4x5"),
    ("mm_shape", lambda: torch.mm(torch.ones(2, 3), torch.ones(2, 3)), RuntimeError, r"2x3.*2x3"),
    ("mm_1d", lambda: torch.mm(torch.ones(3), torch.ones(3, 2)), RuntimeError, r"self must be a matrix"),
    ("bmm_batch", lambda: torch.bmm(torch.ones(2, 3, 4), torch.ones(3, 4, 5)), RuntimeError, None),
    ("bmm_2d", lambda: torch.bmm(torch.ones(3, 4), torch.ones(4, 5)), RuntimeError, r"3D"),
    ("dot_sizes", lambda: torch.dot(torch.ones(3), torch.ones(4)), RuntimeError, r"3.*4"),
    ("cat_shape", lambda: torch.cat([torch.ones(2, 3), torch.ones(2, 4)]), RuntimeError,
     r"Expected size 3 but got size 4"),
    ("cat_ndim", lambda: torch.cat([torch.ones(2, 3), torch.ones(3)]), RuntimeError, None),
    ("cat_empty_list", lambda: torch.cat([]), (RuntimeError, ValueError), None),
    ("stack_shape", lambda: torch.stack([torch.ones(2, 3), torch.ones(3, 2)]), RuntimeError,
     r"stack expects each tensor to be equal size"),
    # --- bad dims -----------------------------------------------------------
    ("sum_dim", lambda: torch.ones(2, 3).sum(2), IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    ("softmax_dim", lambda: torch.ones(2, 3).softmax(-3), IndexError, r"but got -3"),
    ("transpose_dim", lambda: torch.ones(2, 3).transpose(0, 5), IndexError, r"but got 5"),
    ("cumsum_dim", lambda: torch.ones(2, 3).cumsum(3), IndexError, r"but got 3"),
    ("squeeze_dim", lambda: torch.ones(2, 3).squeeze(4), IndexError, r"but got 4"),
    ("unsqueeze_dim", lambda: torch.ones(2, 3).unsqueeze(4), IndexError,
     r"range of \[-3, 2\], but got 4"),
    ("cat_dim", lambda: torch.cat([torch.ones(2), torch.ones(2)], dim=1), IndexError, r"but got 1"),
    ("permute_len", lambda: torch.ones(2, 3).permute(0, 1, 2), RuntimeError,
     r"input.dim\(\) = 2 is not equal to len\(dims\) = 3"),
    ("permute_repeat", lambda: torch.ones(2, 3).permute(0, 0), RuntimeError, r"duplicate dims are not allowed"),
    ("argmax_dim", lambda: torch.ones(2, 3).argmax(dim=2), IndexError, r"but got 2"),
    ("scalar_dim", lambda: torch.tensor(1.0).sum(1), IndexError, r"\[-1, 0\], but got 1"),
    # --- indexing ------------------------------------------------------------
    ("int_index", lambda: torch.ones(3)[3], IndexError,
     r"index 3 is out of bounds for dimension 0 with size 3"),
    ("neg_int_index", lambda: torch.ones(3, 2)[-4], IndexError, r"index -4 is out of bounds"),
    ("int_index_dim1", lambda: torch.ones(3, 2)[0, 2], IndexError,
     r"index 2 is out of bounds for dimension 1 with size 2"),
    ("too_many_indices", lambda: torch.ones(3)[0, 0], IndexError, r"too many indices"),
    ("tensor_index", lambda: torch.ones(3)[torch.tensor([0, 5])], IndexError,
     r"index 5 is out of bounds for dimension 0 with size 3"),
    ("list_index", lambda: torch.ones(3)[[1, -4]], IndexError, r"out of bounds"),
    ("float_index", lambda: torch.ones(3)[torch.tensor([0.0, 1.0])], IndexError,
     r"tensors used as indices must be long, int, byte or bool tensors"),
    ("float_python_index", lambda: torch.ones(3)[1.5], (IndexError, TypeError), None),
    ("mask_shape", lambda: torch.ones(3)[torch.tensor([True, False])], IndexError,
     r"shape of the mask \[2\] at index 0 does not match the shape of the indexed tensor \[3\]"),
    ("setitem_oob", lambda: torch.ones(3).__setitem__(5, 1.0), IndexError, r"index 5"),
    ("setitem_shape", lambda: torch.ones(3).__setitem__(slice(None), torch.ones(2)), RuntimeError,
     r"expanded size of the tensor \(3\) must match the existing size \(2\)"),
    ("gather_dtype", lambda: torch.ones(3).gather(0, torch.tensor([0.0])), RuntimeError,
     r"gather\(\): Expected dtype int64 for index"),
    ("gather_oob", lambda: torch.ones(3).gather(0, torch.tensor([3])), RuntimeError,
     r"index 3 is out of bounds for dimension 0 with size 3"),
    ("index_select_dtype", lambda: torch.ones(3).index_select(0, torch.tensor([0.0])), RuntimeError,
     r"index_select\(\): Expected dtype int32 or int64 for index"),
    ("index_select_oob", lambda: torch.ones(3).index_select(0, torch.tensor([7])), IndexError,
     r"index out of range in self"),
    ("scatter_dtype", lambda: torch.zeros(3).scatter(0, torch.tensor([0.0]), torch.ones(1)),
     RuntimeError, r"Expected dtype int32/int64 for index"),
    ("take_oob", lambda: torch.ones(2, 2).take(torch.tensor([4])), IndexError,
     r"out of range: tried to access index 4 on a tensor of 4 elements"),
    # --- views and shapes ----------------------------------------------------
    ("view_shape", lambda: torch.ones(2, 3).view(4, 2), RuntimeError,
     r"shape '\[4, 2\]' is invalid for input of size 6"),
    ("view_noncontig", lambda: torch.ones(2, 3).t().view(6), RuntimeError,
     r"view size is not compatible with input tensor's size and stride"),
    ("reshape_two_neg", lambda: torch.ones(2, 3).reshape(-1, -1), RuntimeError,
     r"only one dimension can be inferred"),
    ("reshape_neg_bad", lambda: torch.ones(2, 3).reshape(-1, 4), RuntimeError,
     r"shape '\[-1, 4\]' is invalid for input of size 6"),
    ("reshape_neg2", lambda: torch.ones(6).reshape(-2, 3), RuntimeError, r"invalid shape dimension -2"),
    ("expand_smaller", lambda: torch.ones(2, 3).expand(2), RuntimeError,
     r"the number of sizes provided \(1\) must be greater or equal to the number of dimensions in the tensor \(2\)"),
    ("expand_mismatch", lambda: torch.ones(2, 3).expand(2, 4), RuntimeError,
     r"expanded size of the tensor \(4\) must match the existing size \(3\) at non-singleton dimension 1"),
    ("split_sizes", lambda: torch.ones(5).split([2, 2]), RuntimeError,
     r"split_with_sizes expects split_sizes to sum exactly to 5"),
    ("chunk_zero", lambda: torch.ones(5).chunk(0), RuntimeError, r"chunk expects `chunks` to be greater than 0, got: 0"),
    ("narrow_oob", lambda: torch.ones(5).narrow(0, 3, 4), RuntimeError, r"start \(3\) \+ length \(4\) exceeds dimension size \(5\)"),
    ("select_oob", lambda: torch.ones(2, 3).select(1, 3), IndexError,
     r"select\(\): index 3 out of range for tensor of size \[2, 3\] at dimension 1"),
    ("flatten_dims", lambda: torch.ones(2, 3).flatten(1, 0), RuntimeError,
     r"flatten\(\) has invalid args: start_dim cannot come after end_dim"),
    ("unflatten_sizes", lambda: torch.ones(6).unflatten(0, (4, 2)), RuntimeError, None),
    ("repeat_fewer", lambda: torch.ones(2, 3).repeat(2), RuntimeError,
     r"Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"),
    # --- autograd -------------------------------------------------------------
    ("backward_nonscalar", lambda: (torch.ones(2, requires_grad=True) * 2).backward(), RuntimeError,
     r"grad can be implicitly created only for scalar outputs"),
    ("backward_no_grad", lambda: torch.ones(2).sum().backward(), RuntimeError,
     r"element 0 of tensors does not require grad and does not have a grad_fn"),
    ("backward_twice", _backward_twice, RuntimeError,
     r"Trying to backward through the graph a second time"),
    ("backward_grad_shape", lambda: (torch.ones(2, requires_grad=True) * 2).backward(torch.ones(3)),
     RuntimeError, r"Mismatch in shape"),
    ("inplace_leaf", lambda: torch.ones(3, requires_grad=True).add_(1), RuntimeError,
     r"a leaf Variable that requires grad is being used in an in-place operation"),
    ("setitem_leaf", _setitem_leaf, RuntimeError, r"a leaf Variable that requires grad"),
    ("inplace_saved_output", _inplace_on_saved, RuntimeError, r"modified by an inplace operation"),
    ("inplace_saved_input", _inplace_on_saved_input, RuntimeError, r"modified by an inplace operation"),
    ("numpy_requires_grad", lambda: torch.ones(2, requires_grad=True).numpy(), RuntimeError,
     r"Can't call numpy\(\) on Tensor that requires grad. Use tensor.detach\(\).numpy\(\) instead"),
    ("requires_grad_int", _requires_grad_int, RuntimeError,
     r"^only Tensors of floating point dtype can require gradients$"),
    ("requires_grad_int_attr", _requires_grad_int_attr, RuntimeError,
     r"^only Tensors of floating point and complex dtype can require gradients$"),
    ("tensor_int_requires_grad", lambda: torch.tensor([1, 2], requires_grad=True), RuntimeError,
     r"^Only Tensors of floating point and complex dtype can require gradients$"),
    ("randint_requires_grad", lambda: torch.randint(0, 5, (3,), requires_grad=True), RuntimeError,
     r"^Only Tensors of floating point and complex dtype can require gradients$"),
    ("randperm_requires_grad", lambda: torch.randperm(3, requires_grad=True), RuntimeError,
     r"^Only Tensors of floating point and complex dtype can require gradients$"),
    ("grad_unused", lambda: torch.autograd.grad((torch.ones(2, requires_grad=True) * 2).sum(),
                                                [torch.ones(2, requires_grad=True)]), RuntimeError,
     r"appears to not have been used in the graph"),
    # --- scalars / conversion --------------------------------------------------
    ("item_multi", lambda: torch.ones(3).item(), RuntimeError,
     r"a Tensor with 3 elements cannot be converted to Scalar"),
    ("bool_ambiguous", lambda: bool(torch.ones(3)), RuntimeError,
     r"Boolean value of Tensor with more than one value is ambiguous"),
    ("float_multi", lambda: float(torch.ones(2)), RuntimeError,
     r"a Tensor with 2 elements cannot be converted to Scalar"),
    ("int_multi", lambda: int(torch.ones(2)), RuntimeError, r"a Tensor with 2 elements cannot be converted"),
    ("len_scalar", lambda: len(torch.tensor(1.0)), TypeError, r"len\(\) of a 0-d tensor"),
    ("iter_scalar", lambda: iter(torch.tensor(1.0)), TypeError, r"iteration over a 0-d tensor"),
    # --- construction -----------------------------------------------------------
    ("ragged", lambda: torch.tensor([[1, 2], [3]]), ValueError,
     r"expected sequence of length 2 at dim 1 \(got 1\)"),
    ("unsupported_obj", lambda: torch.tensor(_Weird()), RuntimeError, r"Could not infer dtype of _Weird"),
    ("unsupported_str", lambda: torch.tensor("abc"), TypeError, r"new\(\): invalid data type 'str'"),
    ("unsupported_in_list", lambda: torch.tensor([1.0, None]), RuntimeError, r"Could not infer dtype of NoneType"),
    ("neg_size_zeros", lambda: torch.zeros(-1), RuntimeError,
     r"Trying to create tensor with negative dimension -1: \[-1\]"),
    ("neg_size_empty", lambda: torch.empty(2, -3), RuntimeError, r"negative dimension -3: \[2, -3\]"),
    ("neg_size_randn", lambda: torch.randn(-2), RuntimeError, r"negative dimension -2"),
    ("neg_size_full", lambda: torch.full((2, -1), 1.0), RuntimeError, r"negative dimension -1"),
    ("arange_zero_step", lambda: torch.arange(0, 5, 0), RuntimeError, r"step must be nonzero"),
    ("arange_wrong_sign", lambda: torch.arange(0, 5, -1), RuntimeError,
     r"upper bound and larger bound inconsistent with step sign"),
    ("linspace_neg", lambda: torch.linspace(0, 1, -1), RuntimeError, r"number of steps must be non-negative"),
    ("randint_low_high", lambda: torch.randint(5, 5, (3,)), RuntimeError,
     r"random_ expects 'from' to be less than 'to', but got from=5 >= to=5"),
    ("randint_low_gt_high", lambda: torch.randint(6, 2, (3,)), RuntimeError, r"from=6 >= to=2"),
    ("randperm_neg", lambda: torch.randperm(-1), RuntimeError, r"n must be non-negative, got-1"),
    ("eye_neg", lambda: torch.eye(-2), RuntimeError, r"n must be greater or equal to 0, got -2"),
    # --- misc op argument checks -------------------------------------------------
    ("masked_fill_mask", lambda: torch.ones(3).masked_fill(torch.tensor([1, 0, 1]), 0.0), RuntimeError,
     r"masked_fill_ only supports boolean masks, but got mask with dtype long int"),
    # a uint8 mask with one value goes to masked_fill_ (PyTorch 2.15); with a full-size value it still works
    ("setitem_uint8_mask_scalar", lambda: torch.zeros(2, 3).__setitem__(torch.ones(2, 3, dtype=torch.uint8), 1.0),
     RuntimeError, r"masked_fill_ only supports boolean masks, but got mask with dtype unsigned char"),
    ("setitem_uint8_mask_cols", lambda: torch.zeros(2, 3).__setitem__((slice(None), torch.ones(3, dtype=torch.uint8)),
                                                                     torch.tensor(2.0)),
     RuntimeError, r"masked_fill_ only supports boolean masks, but got mask with dtype unsigned char"),
    ("setitem_uint8_mask_shape", lambda: torch.zeros(2, 3).__setitem__(torch.ones(3, dtype=torch.uint8), 1.0),
     IndexError, r"The shape of the mask \[3\] at index 0 does not match the shape of the indexed tensor"),
    ("masked_fill_shape", lambda: torch.ones(3).masked_fill(torch.tensor([True, False]), 0.0), RuntimeError,
     r"size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 0"),
    ("where_cond", lambda: torch.where(torch.tensor([1, 0]), torch.ones(2), torch.zeros(2)), RuntimeError,
     r"where expected condition to be a boolean tensor, but got a tensor with dtype Long"),
    ("where_shape", lambda: torch.where(torch.tensor([True, False]), torch.ones(3), torch.zeros(2)), RuntimeError,
     None),
    ("masked_select_mask", lambda: torch.ones(3).masked_select(torch.tensor([1, 0, 1])), RuntimeError,
     r"masked_select: expected BoolTensor for mask"),
    ("topk_too_big", lambda: torch.ones(3).topk(4), RuntimeError, r"selected index k out of range"),
    ("multinomial_too_many", lambda: torch.multinomial(torch.ones(3), 4), RuntimeError,
     r"cannot sample n_sample > prob_dist.size\(-1\) samples without replacement"),
    ("bitwise_float", lambda: torch.ones(2) & torch.ones(2), NotImplementedError,
     r"\"bitwise_and_cpu\" not implemented for 'Float'"),
    ("bernoulli_p", lambda: torch.bernoulli(torch.tensor([1.5])), RuntimeError, r"p_in >= 0 && p_in <= 1"),
    ("dropout_p", lambda: torch.nn.functional.dropout(torch.ones(3), p=1.5), ValueError,
     r"dropout probability has to be between 0 and 1, but got 1.5"),
    ("clamp_none", lambda: torch.ones(3).clamp(), RuntimeError,
     r"At least one of 'min' or 'max' must not be None"),
    ("add_bad_type", lambda: torch.ones(3) + "a", TypeError, None),
    ("zeros_bad_size_type", lambda: torch.zeros("a"), TypeError, None),
    ("to_bad_dtype", lambda: torch.ones(3).to("notadevice"), RuntimeError, r"notadevice"),
    ("device_bad", lambda: torch.device("gpu"), RuntimeError, r"gpu"),
    ("cuda", lambda: torch.ones(2).cuda(), (RuntimeError, AssertionError), None),
    ("int_pow_neg", lambda: torch.tensor([2]) ** -1, RuntimeError,
     r"Integers to negative integer powers are not allowed"),
    ("sort_dim", lambda: torch.ones(3).sort(dim=1), IndexError, r"but got 1"),
    ("view_as_mismatch", lambda: torch.ones(6).view_as(torch.ones(4)), RuntimeError, r"\[4\].*6"),
    ("index_add_shape", lambda: torch.zeros(3).index_add(0, torch.tensor([0, 1]), torch.ones(3)),
     (RuntimeError, IndexError), None),
    ("mean_int", lambda: torch.tensor([1, 2]).mean(), NotImplementedError,
     r"mean\(\): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: Long"),
]

# PyTorch raises AssertionError for .cuda() without CUDA; allowed there only.
_EXTRA_ALLOWED = {"cuda": (AssertionError,)}


def _run_case(fn):
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - we want to see panics too
        return e
    return None


@pytest.mark.parametrize("name,fn,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_malformed_call(name, fn, exc, pattern):
    err = _run_case(fn)
    assert err is not None, f"{name}: no exception raised"
    # A Rust panic surfaces as pyo3_runtime.PanicException (a BaseException).
    assert type(err).__name__ != "PanicException", f"{name}: Rust panic: {err}"
    allowed = ALLOWED + _EXTRA_ALLOWED.get(name, ())
    assert type(err) in allowed, f"{name}: {type(err).__name__} is not one of the PyTorch error types"
    assert isinstance(err, exc), f"{name}: expected {exc}, got {type(err).__name__}: {err}"
    if pattern is not None:
        assert re.search(pattern, str(err)), f"{name}: message {str(err)!r} does not match {pattern!r}"


def test_case_count():
    assert len(CASES) >= 40


def test_interpreter_survives_all_cases_in_subprocess():
    """Run every malformed call in one fresh interpreter: it must exit cleanly."""
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_bad_input as m\n"
        "bad = []\n"
        "for name, fn, exc, pattern in m.CASES:\n"
        "    err = m._run_case(fn)\n"
        "    if err is None or type(err).__name__ == 'PanicException':\n"
        "        bad.append((name, repr(err)))\n"
        "print('BAD', bad)\n"
        "print('DONE', len(m.CASES))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"DONE {len(CASES)}" in proc.stdout
    assert "BAD []" in proc.stdout, proc.stdout


def test_state_after_errors_is_sane():
    """After a failed op nothing is left half-modified."""
    t = torch.ones(3)
    with pytest.raises(RuntimeError):
        t.add_(torch.ones(2))
    np.testing.assert_array_equal(t.numpy(), np.ones(3))
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        x.add_(1)
    assert x.is_leaf and x.grad_fn is None
    np.testing.assert_array_equal(x.detach().numpy(), np.ones(2))
    assert torch.is_grad_enabled()
