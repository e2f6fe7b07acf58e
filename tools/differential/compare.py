"""Compare a torch run with a rustdl run of the same case; name what differs.

Categories (one case can have several, grads only when the forward agreed):

    crash                 the worker died, or rustdl panicked (PanicException,
                          or a RuntimeError saying "rustdl internal error")
    hang                  no answer within the per-case timeout
    missing-api           rustdl has no such function/method (AttributeError)
    unsupported           torch works, rustdl raises NotImplementedError
    rejected-valid        torch works, rustdl raises
    accepted-invalid      torch raises, rustdl returns
    wrong-exception-type  both raise, but rustdl's exception is not an
                          instance of torch's builtin exception class
    exception-less-specific  both raise; torch's class derives from rustdl's
                          (e.g. torch NotImplementedError, rustdl RuntimeError)
    resource-limit        torch ran out of memory (the case asked for a huge
                          tensor) and rustdl did not raise the same way
    output-structure      tensor vs tuple vs scalar, or a different count
    dtype-mismatch, shape-mismatch
    value-mismatch        values differ (finite, ordinary inputs)
    value-mismatch-edge   values differ, and the inputs hold NaN, inf or
                          |x| >= 1e30 (IEEE corner cases: lower priority)
    ill-conditioned       values differ only where torch's own float32 answer
                          is off the float64 answer too (overflow, cancellation)
    int-overflow          values differ and integers overflow: the inputs hold
                          integers at the dtype's limits, or an integer result
                          comes from non-finite/huge floats, or torch gives the
                          dtype's minimum (C++'s out-of-range float->int
                          cast): undefined behaviour in PyTorch's C++; also
                          gradient differences with such integer inputs
    requires-grad-mismatch  an output's requires_grad differs
    numpy-error           ``.numpy()`` on a rustdl result raised
    grad-error            backward raised in rustdl, not in torch
    grad-missing          torch has a .grad, rustdl has None
    grad-extra            rustdl has a .grad, torch has None
    grad-mismatch         a .grad differs (shape, dtype or values); the detail
                          says when float64 finite differences agree with torch
    grad-mismatch-edge    the same with NaN/inf/huge inputs
    grad-ill-conditioned  see ill-conditioned; also gradients that differ
                          only where torch's own answer moves by half the
                          difference or more when the inputs with |x| >= 1e30
                          move by a few ulps, and rustdl's stays as close to
                          torch's at the moved inputs (the ``jitter`` rerun of
                          both workers): with 1e30 - 1e30 terms the inputs do
                          not determine the answer
    torch-grad-disputed   grads differ and finite differences agree with
                          rustdl, not torch: most likely a PyTorch bug
    known-difference      grads differ only where PyTorch itself gives two
                          answers (``SIMD_NAN_GRAD`` below), an integer
                          ``linspace`` differs only where PyTorch's answer
                          depends on its CPU capability (``linspace_scalar_loop``
                          below), or torch marks an integer result as requiring
                          grad (a PyTorch defect, see ``compare_desc``): not a
                          wrong result

Float tolerances follow ``torch.testing.assert_close`` (float32: rtol 1.3e-6,
atol 1e-5; float64: rtol 1e-7, atol 1e-7), a little looser for gradients.
Where float values differ, the case is run again in torch with float32
inputs promoted to float64: an element passes when rustdl is within
tolerance of that reference plus 4x torch's own float32 error there, which
forgives accumulation-order differences in ill-conditioned sums (and
NaN/inf/finite disagreements where torch float32 itself disagrees with the
float64 answer, as long as rustdl gives either answer). For ops that
accumulate (reductions, matmul, conv, pools, norms, losses) the absolute
tolerance also grows with the largest input magnitude (16 eps |x|max), as
1e30 - 1e30 + small terms has no order-independent answer.
"""

import math

import numpy as np

TOLERANCES = {"float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}
# gradients chain several ops (and normalisations divide by small spreads)
GRAD_TOLERANCES = {"float32": (1e-4, 5e-5), "float64": (1e-7, 1e-7)}


def is_panic(exc):
    return exc["type"] == "PanicException" or "rustdl internal error" in exc["message"]


def is_missing_api(exc):
    """rustdl lacks the function or method (not: rustdl code tripping over a
    list where a tensor was expected, which is an ordinary wrong exception)."""
    msg = exc["message"]
    return exc["type"] == "AttributeError" and "has no attribute" in msg and msg.startswith(
        ("module 'rustdl", "'rustdl.Tensor' object", "type object 'rustdl.Tensor'"))


def is_oom(exc):
    return "can't allocate memory" in exc["message"] or exc["type"] == "MemoryError" or \
        "memory allocation of" in exc["message"]


def exc_summary(exc):
    return f"{exc['type']}: {exc['message'][:300]}"


def value_summary(desc, limit=8):
    """A short text for a described result."""
    if desc is None:
        return "None"
    kind = desc["kind"]
    if kind == "tensor":
        data = desc["data"]
        vals = "?" if data is None else np.array2string(data.reshape(-1)[:limit], precision=6, separator=", ")
        if data is not None and data.size > limit:
            vals = vals[:-1] + ", ...]"
        rg = ", requires_grad" if desc["rg"] else ""
        return f"tensor({vals}, {desc['dtype']}, shape={list(desc['shape'])}{rg})"
    if kind == "seq":
        return "(" + ", ".join(value_summary(d, limit) for d in desc["items"]) + ")"
    if kind == "scalar":
        return f"{desc['type']} {desc['value']!r}"
    if kind == "none":
        return "None"
    return f"{desc['type']} {desc.get('repr', '')}"


def outcome_summary(out):
    if out is None:
        return "-"
    if "crash" in out:
        return out["crash"]
    if "exception" in out:
        return exc_summary(out["exception"])
    return value_summary(out["result"])


# ------------------------------------------------------------ element checks

def _bad_positions(t, r, rtol, atol):
    """Boolean mask of the elements of float arrays that disagree."""
    t = t.astype(np.float64)
    r = r.astype(np.float64)
    tn, rn = np.isnan(t), np.isnan(r)
    bad = tn != rn
    both = ~tn & ~rn
    tinf, rinf = np.isinf(t), np.isinf(r)
    infs = both & (tinf | rinf)
    bad |= infs & (t != r)
    fin = both & ~tinf & ~rinf
    with np.errstate(invalid="ignore", over="ignore"):
        bad |= fin & (np.abs(t - r) > atol + rtol * np.abs(t))
    return bad


def _forgiven(t, r, ref, rtol, atol, bad):
    """Which of the ``bad`` elements the float64 reference excuses."""
    # the reference rounded to the compared dtype (float64 stays as is)
    with np.errstate(invalid="ignore", over="ignore"):
        ref32 = ref.astype(t.dtype).astype(np.float64) if t.dtype == np.float32 else ref.astype(np.float64)
        t, r = t.astype(np.float64), r.astype(np.float64)
        err_t = np.abs(t - ref32)
        err_r = np.abs(r - ref32)
        ok = err_r <= atol + rtol * np.abs(ref32) + 4 * np.nan_to_num(err_t, nan=0.0, posinf=0.0)
    # where torch's own answer is not finite-consistent with the reference,
    # accept rustdl giving either one
    t_ill = (np.isnan(t) != np.isnan(ref32)) | (np.isinf(t) & (t != ref32)) | (np.isinf(ref32) & (t != ref32))
    matches_t = ~_bad_positions(t, r, rtol, atol)
    matches_ref = ~_bad_positions(ref32, r, rtol, atol)
    strict_nan = np.isnan(ref32) & np.isnan(t) & ~np.isnan(r)
    forgiven = (ok & ~strict_nan & np.isfinite(r)) | (t_ill & (matches_t | matches_ref))
    return bad & forgiven


# Activations whose PyTorch gradient at a NaN input depends on which CPU loop
# reaches the element: the vectorized kernel (contiguous elements in whole
# vector chunks: 32 float32 / 16 float64 with AVX-512) gives NaN (elu family,
# hardswish) or 0 (hardtanh family, its `x <= lo || x >= hi` mask), while the
# scalar tail and strided loops give the gradient itself (every comparison with
# NaN is false). `torch.ones(64)` and `torch.ones(3)` with one NaN disagree.
# rustdl gives the vectorized kernel's answer everywhere (the one large
# tensors get); a rustdl NaN or 0 at a NaN input of these ops is accepted.
SIMD_NAN_GRAD = {"elu", "celu", "selu", "hardswish", "hardtanh", "relu6", "hardshrink", "softshrink"}


def _simd_nan_grad_only(tg, rg, nan_mask):
    """True when the grads differ only at NaN inputs, where rustdl gives
    PyTorch's vectorized answer (NaN or 0)."""
    t, r = tg.get("data"), rg.get("data")
    if t is None or r is None or nan_mask is None or t.shape != nan_mask.shape or r.shape != t.shape:
        return False
    rtol, atol = GRAD_TOLERANCES[tg["dtype"]]
    bad = _bad_positions(t, r, rtol, atol)
    r64 = r.astype(np.float64)
    vector_answer = np.isnan(r64) | (r64 == 0)
    return bool(bad.any() and (bad <= (nan_mask & vector_answer)).all())


def linspace_scalar_loop(start, end, steps):
    """PyTorch's integer ``linspace`` as its scalar loop computes it: the ends
    truncated to integers, a float64 step, each half evaluated from its own
    end, each value truncated. Its vectorized loop (AVX2/AVX-512 builds)
    truncates only the first value of each vector and adds the lanes' steps
    to that integer, so its answer depends on the CPU capability:
    ``torch.linspace(49, -29, 35, dtype=torch.int64)[17]`` is 10 with
    ``ATEN_CPU_CAPABILITY=default`` and 9 with avx2/avx512. rustdl gives the
    scalar loop's answer (the same on every machine); a difference from
    torch where rustdl gives it exactly is a known difference."""
    start, end = math.trunc(start), math.trunc(end)
    if steps == 1:
        return [start]
    step = (end - start) / (steps - 1)
    half = steps // 2
    return [math.trunc(start + step * i) if i < half else math.trunc(end - step * (steps - i - 1))
            for i in range(steps)]


def _linspace_scalar_loop_only(t, r, args):
    """True when an integer linspace differs from torch only where rustdl
    gives PyTorch's scalar-loop answer (see ``linspace_scalar_loop``)."""
    if args is None or t["dtype"] not in INT_LIMITS or r["dtype"] != t["dtype"]:
        return False
    td, rd = t.get("data"), r.get("data")
    if td is None or rd is None or td.shape != rd.shape:
        return False
    try:
        want = np.array(linspace_scalar_loop(*args), dtype=np.float64)
    except (OverflowError, ValueError, ZeroDivisionError):
        return False
    return want.shape == rd.shape and bool((rd.astype(np.float64) == want).all())


EPS = {"float32": 2.0**-23, "float64": 2.0**-52}
INT_LIMITS = {"int64": (-2**63, 2**63 - 1), "int32": (-2**31, 2**31 - 1), "uint8": (0, 255)}


def compare_tensor(t, r, ref=None, grad=False, scale=0.0):
    """None if equal enough, else (category, detail). ``scale``: the largest
    input magnitude, for accumulating ops (see the module doc)."""
    if t["dtype"] != r["dtype"]:
        return "dtype-mismatch", f"torch {t['dtype']} vs rustdl {r['dtype']}"
    if tuple(t["shape"]) != tuple(r["shape"]):
        return "shape-mismatch", f"torch {list(t['shape'])} vs rustdl {list(r['shape'])}"
    td, rd = t["data"], r["data"]
    if td is None or rd is None:
        return "numpy-error", "could not read the values"
    if td.size == 0:
        return None
    category = "value-mismatch"
    if t["dtype"] not in TOLERANCES:
        if np.array_equal(td, rd):
            return None
        bad = td != rd
        if t["dtype"] in INT_LIMITS:
            category = "value-mismatch-int"
            lo, hi = INT_LIMITS[t["dtype"]]
            sentinel = (td == lo) | (rd == lo) | (rd == hi) if t["dtype"] != "uint8" else np.zeros_like(bad)
            if (bad <= sentinel).all():
                category = "int-overflow"
    else:
        rtol, atol = (GRAD_TOLERANCES if grad else TOLERANCES)[t["dtype"]]
        atol += 16 * EPS[t["dtype"]] * scale
        bad = _bad_positions(td, rd, rtol, atol)
        have_ref = ref is not None and ref.get("data") is not None and tuple(ref["shape"]) == tuple(t["shape"])
        if bad.any() and have_ref:
            bad &= ~_forgiven(td, rd, ref["data"], rtol, atol, bad)
            with np.errstate(over="ignore", invalid="ignore"):
                refd = ref["data"].astype(td.dtype) if td.dtype == np.float32 else ref["data"]
                torch_off = _bad_positions(refd, td, rtol, atol)
            if bad.any() and (bad <= torch_off).all():
                category = "ill-conditioned"
        if not bad.any():
            return None
    idx = np.argwhere(bad)
    first = tuple(int(i) for i in idx[0])
    tv, rv = td[first] if td.ndim else td, rd[first] if rd.ndim else rd
    return category, (f"{int(bad.sum())}/{bad.size} elements differ; first at {list(first)}: "
                      f"torch {tv!r} vs rustdl {rv!r}")


def compare_desc(t, r, ref=None, path="out", grad=False, scale=0.0):
    """Findings [(category, detail)] between two described results."""
    if t["kind"] != r["kind"]:
        # a 0-d tensor where torch gives a Python scalar (or the reverse) is still a difference
        return [("output-structure", f"{path}: torch {t['kind']} vs rustdl {r['kind']}")]
    kind = t["kind"]
    if kind == "seq":
        if len(t["items"]) != len(r["items"]):
            return [("output-structure", f"{path}: torch {len(t['items'])} items vs rustdl {len(r['items'])}")]
        found = []
        ref_items = ref["items"] if ref and ref.get("kind") == "seq" and len(ref["items"]) == len(t["items"]) \
            else [None] * len(t["items"])
        for i, (a, b, c) in enumerate(zip(t["items"], r["items"], ref_items)):
            found += compare_desc(a, b, c, f"{path}[{i}]", grad, scale)
        return found
    if kind == "scalar":
        if t["type"] != r["type"]:
            return [("output-structure", f"{path}: torch {t['type']} vs rustdl {r['type']}")]
        a, b = t["value"], r["value"]
        if isinstance(a, float):
            bad = _bad_positions(np.array(a), np.array(b), *TOLERANCES["float64"])
            if bad:
                return [("value-mismatch", f"{path}: torch {a!r} vs rustdl {b!r}")]
        elif a != b:
            return [("value-mismatch", f"{path}: torch {a!r} vs rustdl {b!r}")]
        return []
    if kind == "tensor":
        found = []
        if r.get("to_numpy_error"):
            found.append(("numpy-error", f"{path}: {r['to_numpy_error'][:200]}"))
        diff = compare_tensor(t, r, ref if ref and ref.get("kind") == "tensor" else None, grad, scale)
        if diff:
            found.append((diff[0], f"{path}: {diff[1]}"))
        if not grad and t["rg"] != r["rg"]:
            if t["rg"] and t["dtype"] not in TOLERANCES and t["dtype"] not in ("float16", "bfloat16"):
                # PyTorch marks an integer tensor as requiring grad when a
                # 0-d float that requires grad is assigned into a slice of
                # it (`y[0:2, 0] = a[1]`, int y), which its own rule forbids
                # ("only Tensors of floating point dtype can require
                # gradients"); backward through it then fails an INTERNAL
                # ASSERT (isDifferentiableType). rustdl keeps the rule.
                found.append(("known-difference", (f"{path}: torch marks its {t['dtype']} result as "
                                                   "requiring grad (a PyTorch defect: backward through "
                                                   "it fails an internal assert)")))
            else:
                found.append(("requires-grad-mismatch",
                              f"{path}: torch requires_grad={t['rg']}, rustdl {r['rg']}"))
        return found
    if kind == "other" and t.get("type") != r.get("type"):
        return [("output-structure", f"{path}: torch {t.get('type')} vs rustdl {r.get('type')}")]
    return []


def _numeric_verdict(tg, rg, numeric):
    """Who finite differences side with where the grads differ: "torch",
    "rustdl" or None (both or neither: a kink, a tie, non-finite values)."""
    if numeric is None or tg.get("data") is None or rg.get("data") is None:
        return None
    t = tg["data"].astype(np.float64).reshape(-1)
    r = rg["data"].astype(np.float64).reshape(-1)
    if t.shape != numeric.shape or r.shape != numeric.shape:
        return None
    rtol, atol = GRAD_TOLERANCES[tg["dtype"]]
    differ = _bad_positions(t, r, rtol, atol)
    if not differ.any() or not np.isfinite(numeric[differ]).all():
        return None
    tol = 1e-3 * np.abs(numeric) + 1e-4
    with np.errstate(invalid="ignore"):
        t_ok = np.abs(t - numeric) <= tol
        r_ok = np.abs(r - numeric) <= tol
    if (r_ok[differ]).all() and not (t_ok[differ]).any():
        return "rustdl"
    if (t_ok[differ]).all() and not (r_ok[differ]).any():
        return "torch"
    return None


def _retag(found, traits):
    """Sort value findings into the edge-case categories (see the module doc)."""
    out = []
    for category, detail in found:
        if category in ("value-mismatch", "value-mismatch-int"):
            if traits.get("int_limits") or (category == "value-mismatch-int" and traits.get("edge_inputs")):
                category = "int-overflow"
            elif traits.get("edge_inputs"):
                category = "value-mismatch-edge"
            else:
                category = "value-mismatch"
        elif category == "grad-mismatch" and traits.get("int_limits"):
            # integer operands at their limits enter the gradient formula too
            # (atan2's self * self in int64 wraps in PyTorch)
            category = "int-overflow"
        elif category == "grad-mismatch" and traits.get("edge_inputs"):
            category = "grad-mismatch-edge"
        out.append((category, detail))
    return out


def classify(t_out, r_out, reference=None, traits=None, numgrad=None, jittered=None):
    """Findings [(category, detail)] for one case; [] means agreement.

    ``reference`` is a zero-argument callable returning torch's run of the
    case with float64 inputs (called only when float values differ);
    ``numgrad`` one returning finite-difference gradients (called only when
    gradients differ). ``traits`` (from run.py): ``scale`` widens the absolute
    tolerance of accumulating ops, ``edge_inputs`` (non-finite or huge float
    inputs) and ``int_limits`` (integers at the dtype's limits) file value
    differences under the edge categories.
    """
    traits = traits or {}
    scale = traits.get("scale", 0.0)
    t_exc, r_exc = t_out.get("exception"), r_out.get("exception")
    if t_exc and is_oom(t_exc):
        if r_exc and not is_panic(r_exc) and "RuntimeError" in r_exc["bases"]:
            return []
        return [("resource-limit", "torch: " + exc_summary(t_exc)[:150] + "; rustdl: " +
                 (r_out.get("crash") or (exc_summary(r_exc) if r_exc else "returned a result"))[:200])]
    if "crash" in r_out:
        return [(r_out.get("crash_kind", "crash"), r_out["crash"])]
    if r_exc and is_panic(r_exc):
        return [("crash", exc_summary(r_exc))]
    if r_exc and is_missing_api(r_exc) and not (t_exc and t_exc["type"] == "AttributeError"):
        return [("missing-api", r_exc["message"][:200])]
    if t_exc and r_exc:
        if t_exc["bases"] and t_exc["bases"][0] not in r_exc["bases"]:
            if r_exc["bases"] and r_exc["bases"][0] in t_exc["bases"]:
                return [("exception-less-specific", f"torch {t_exc['bases'][0]} vs rustdl {r_exc['type']}")]
            return [("wrong-exception-type", f"torch {t_exc['bases'][0]} vs rustdl {r_exc['type']}")]
        return []
    if t_exc:
        return [("accepted-invalid", f"torch raised {exc_summary(t_exc)}")]
    if r_exc:
        category = "unsupported" if "NotImplementedError" in r_exc["bases"] else "rejected-valid"
        return [(category, exc_summary(r_exc))]

    ref_cache = {}

    def get_ref():
        if "ref" not in ref_cache:
            ref_cache["ref"] = reference() if reference else None
        return ref_cache["ref"]

    found = compare_desc(t_out["result"], r_out["result"], scale=scale)
    if traits.get("op") == "linspace" and found and all(c.startswith("value-mismatch") for c, _ in found) \
            and _linspace_scalar_loop_only(t_out["result"], r_out["result"], traits.get("linspace_args")):
        return [("known-difference", d + " (integer linspace: rustdl gives PyTorch's scalar loop, torch's "
                 "vectorized loop differs, see linspace_scalar_loop)") for _, d in found]
    if any(c.startswith("value-mismatch") for c, _ in found) and reference:
        ref = get_ref()
        if ref and "result" in ref:
            found = compare_desc(t_out["result"], r_out["result"], ref["result"], scale=scale)
    if found:
        return _retag(found, traits)
    return _retag(compare_grads(t_out, r_out, get_ref if reference else None, scale, numgrad, traits, jittered),
                  traits)


def _grad_at(out, i):
    grads = out.get("grads") or []
    return grads[i] if i < len(grads) else None


def _moves_as_much(tg, rg, tj, rj):
    """True when, at every position where the grads ``tg`` and ``rg``
    differ, all four are finite and torch's own answer moves by at least half
    the difference when the huge inputs move by a few ulps (``tj``, ``rj``:
    the jittered runs), and rustdl's jittered answer is as close to torch's
    jittered one: the answer there is not determined by the inputs at their
    precision (``1e30 - 1e30`` terms), and the difference is no more than
    torch's own movement. rustdl's answer moving does not count: an unstable
    rustdl formula where torch's is stable is a wrong result, and so is an
    answer that stays off torch's at the jittered inputs."""
    arrays = [d.get("data") if d else None for d in (tg, rg, tj, rj)]
    if any(a is None for a in arrays) or len({a.shape for a in arrays}) != 1:
        return False
    t, r, t2, r2 = (a.astype(np.float64).reshape(-1) for a in arrays)
    rtol, atol = GRAD_TOLERANCES[tg["dtype"]]
    differ = _bad_positions(t, r, rtol, atol)
    if not differ.any():
        return False
    t, r, t2, r2 = t[differ], r[differ], t2[differ], r2[differ]
    if not all(np.isfinite(a).all() for a in (t, r, t2, r2)):
        return False
    moved = np.abs(t2 - t)
    jittered_ok = np.abs(r2 - t2) <= 2 * moved + atol + rtol * np.abs(t2)
    return bool(((np.abs(r - t) <= 2 * moved) & jittered_ok).all())


def compare_grads(t_out, r_out, get_ref=None, scale=0.0, numgrad=None, traits=None, jittered=None):
    if "grads" not in t_out and "grad_exception" not in t_out:
        return []
    if "grad_exception" in t_out:
        return []  # torch could not differentiate: nothing to hold rustdl to
    if "grad_exception" in r_out:
        exc = r_out["grad_exception"]
        if is_panic(exc):
            return [("crash", "in backward: " + exc_summary(exc))]
        if exc["type"] == "NoGradOutput" or "does not require grad" in exc["message"]:
            return [("grad-missing", "an output requiring grad in torch does not in rustdl: " + exc["message"])]
        return [("grad-error", exc_summary(exc))]
    t_grads, r_grads = t_out["grads"], r_out.get("grads")
    if r_grads is None or len(t_grads) != len(r_grads):
        return [("grad-error", "rustdl computed no gradients")]
    found = []
    ref_grads = None
    numeric = None
    jitter_outs = None
    for i, (tg, rg) in enumerate(zip(t_grads, r_grads)):
        name = "abcdefghijklmnopqrstuvwxyz"[i % 26]
        if tg is None and rg is None:
            continue
        if rg is None:
            found.append(("grad-missing", f"{name}.grad is None in rustdl"))
            continue
        if tg is None:
            found.append(("grad-extra", f"{name}.grad is None in torch, rustdl has {value_summary(rg, 4)}"))
            continue
        diff = compare_desc(tg, rg, None, f"{name}.grad", grad=True, scale=scale)
        if diff and get_ref and any(c == "value-mismatch" for c, _ in diff):
            if ref_grads is None:
                ref = get_ref()
                ref_grads = (ref or {}).get("grads") or []
            if i < len(ref_grads) and ref_grads[i] is not None:
                diff = compare_desc(tg, rg, ref_grads[i], f"{name}.grad", grad=True, scale=scale)
        rename = {"value-mismatch": "grad-mismatch", "value-mismatch-int": "grad-mismatch",
                  "shape-mismatch": "grad-mismatch", "dtype-mismatch": "grad-mismatch",
                  "ill-conditioned": "grad-ill-conditioned"}
        diff = [(rename.get(c, c), d) for c, d in diff]
        nan_leaves = (traits or {}).get("nan_leaves") or []
        op = (traits or {}).get("op", "").removeprefix("F.")
        if diff and op in SIMD_NAN_GRAD and i < len(nan_leaves) and all(c == "grad-mismatch" for c, _ in diff) \
                and _simd_nan_grad_only(tg, rg, nan_leaves[i]):
            diff = [("known-difference", d + " (only at NaN inputs: PyTorch's vectorized and scalar "
                     "kernels differ there, see SIMD_NAN_GRAD)") for _, d in diff]
        if diff and jittered and (traits or {}).get("huge_inputs") and any(c == "grad-mismatch" for c, _ in diff):
            if jitter_outs is None:
                jitter_outs = jittered() or ()
            if jitter_outs and _moves_as_much(tg, rg, *[_grad_at(o, i) for o in jitter_outs]):
                diff = [("grad-ill-conditioned" if c == "grad-mismatch" else c,
                         d + " (an answer moves as much when the |x| >= 1e30 inputs move by a few ulps)")
                        for c, d in diff]
        arguable = ("grad-mismatch", "grad-ill-conditioned")
        if numgrad and any(c in arguable for c, _ in diff) and tuple(tg["shape"]) == tuple(rg["shape"]):
            if numeric is None:
                numeric = numgrad() or []
            verdict = _numeric_verdict(tg, rg, numeric[i] if i < len(numeric) else None)
            if verdict == "rustdl":
                diff = [("torch-grad-disputed" if c in arguable else c,
                         d + " (finite differences agree with rustdl)") for c, d in diff]
            elif verdict == "torch":
                diff = [("grad-mismatch" if c in arguable else c,
                         d + " (finite differences agree with torch)") for c, d in diff]
        found += diff
    return found
