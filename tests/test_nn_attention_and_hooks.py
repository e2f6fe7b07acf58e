"""torch.nn.attention (SDPBackend, sdpa_kernel) and torch.utils.hooks.RemovableHandle, as PyTorch
2.15 behaves on CPU."""

import pytest
import rustdl as torch
import rustdl.nn.functional as F
from rustdl.nn.attention import SDPBackend, sdpa_kernel
from rustdl.utils.hooks import RemovableHandle


def test_sdpa_kernel_selects_cpu_kernels():
    q = torch.randn(2, 3, 4, 8)
    want = F.scaled_dot_product_attention(q, q, q)
    for backends in ([SDPBackend.MATH], [SDPBackend.FLASH_ATTENTION], SDPBackend.MATH,
                     [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]):
        with sdpa_kernel(backends):
            assert torch.equal(F.scaled_dot_product_attention(q, q, q), want)
    for backends in ([SDPBackend.EFFICIENT_ATTENTION], [SDPBackend.CUDNN_ATTENTION]):
        with sdpa_kernel(backends), pytest.raises(RuntimeError, match="No viable backend for scaled_dot_product"):
            F.scaled_dot_product_attention(q, q, q)
    assert torch.equal(F.scaled_dot_product_attention(q, q, q), want)  # restored after the block
    assert [b.name for b in SDPBackend] == ["ERROR", "MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION",
                                            "CUDNN_ATTENTION", "OVERRIDEABLE"]
    assert int(SDPBackend.FLASH_ATTENTION) == 1


def test_hook_handles_are_torch_utils_hooks_removable_handles():
    m = torch.nn.Linear(2, 2)
    calls = []
    h = m.register_forward_hook(lambda mod, i, o: calls.append(1), with_kwargs=False)
    assert isinstance(h, RemovableHandle) and isinstance(h, torch.utils.hooks.RemovableHandle)
    m(torch.ones(1, 2))
    h.remove()
    m(torch.ones(1, 2))
    assert calls == [1]
    with m.register_forward_pre_hook(lambda mod, args, kwargs: calls.append(2), with_kwargs=True) as h2:
        m(torch.ones(1, 2))
    m(torch.ones(1, 2))
    assert calls == [1, 2] and h2.id not in m._forward_pre_hooks_with_kwargs
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    assert isinstance(opt.register_step_post_hook(lambda *a: None), RemovableHandle)
