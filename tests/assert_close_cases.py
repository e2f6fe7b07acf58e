"""torch.testing.assert_close cases shared by tools/differential/record_assert_close.py (PyTorch)
and tests/test_testing_assert_close.py (rustdl): the outcome and message of each comparison."""


def cases(lib):
    T = lib.tensor
    nan, inf = float("nan"), float("inf")
    return [
        (T([1.0, 2.0, 3.0]), T([1.0, 2.5, 3.0]), {}), (T([1.0, 2.0]), T([1.0, 2.0, 3.0]), {}),
        (T([1.0, 2.0]), T([1.0, 2.0], dtype=lib.float64), {}), (T([1, 2]), T([1, 3]), {}),
        (T([nan]), T([nan]), {}), (T([nan]), T([nan]), {"equal_nan": True}), (1.0, 1.1, {}),
        ([T(1.0)], [T(1.0), T(2.0)], {}), ({"a": T([1.0])}, {"a": T([2.0])}, {}),
        (T([[1.0, 2.0], [3.0, 4.0]]), T([[1.0, 2.0], [3.0, 4.1]]), {}), (T([1.0, 2.0]), T([1.0, 2.000001]), {}),
        (T([inf]), T([inf]), {}), (T([1.0, 2.0]), T([1.0, 2.1]), {"rtol": 0.1, "atol": 0.0}),
        (T([1.0, 2.0]), T([1.0, 2.0], dtype=lib.float64), {"check_dtype": False}), (3, 3, {}), (3, 4, {}),
    ]


def run(lib):
    from importlib import import_module

    assert_close = import_module(lib.__name__ + ".testing").assert_close
    out = []
    for actual, expected, kwargs in cases(lib):
        try:
            assert_close(actual, expected, **kwargs)
            out.append("OK")
        except AssertionError as e:
            out.append(str(e).replace(lib.__name__ + ".", "torch."))
    return out
