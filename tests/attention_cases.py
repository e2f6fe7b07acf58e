"""Attention cases shared by the recorder (run with PyTorch,
tools/differential/record_attention.py) and tests/test_attention.py (run
with rustdl): each case builds the same computation from the same stored
arrays with either library `T`, and returns its outputs and the gradients
of sum(out_i * g_i) with respect to the inputs and module parameters."""

import numpy as np

F32, F64 = "float32", "float64"


def _sdpa(name, shapes, dtype=F64, mask=None, **kw):
    return {"name": name, "kind": "sdpa", "shapes": shapes, "dtype": dtype, "mask": mask, "kw": kw}


def _mod(name, ctor, args, kw, inputs, call=None, dtype=F32, train=True):
    return {"name": name, "kind": "module", "ctor": ctor, "args": args, "kw": kw, "inputs": inputs,
            "call": call or {}, "dtype": dtype, "train": train}


# shapes: q, k, v; masks: (kind, shape) with kind "bool", "float", "float_grad", "bool_dead_row"
CASES = [
    _sdpa("plain", [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6)]),
    _sdpa("plain_f32", [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6)], dtype=F32),
    _sdpa("tiles", [(1, 1, 130, 4), (1, 1, 70, 4), (1, 1, 70, 3)]),
    _sdpa("causal_square", [(1, 2, 67, 4), (1, 2, 67, 4), (1, 2, 67, 4)], is_causal=True),
    _sdpa("causal_wide", [(2, 2, 5, 8), (2, 2, 9, 8), (2, 2, 9, 8)], is_causal=True),
    _sdpa("causal_tall", [(1, 1, 140, 4), (1, 1, 70, 4), (1, 1, 70, 3)], is_causal=True, dtype=F32),
    _sdpa("scale", [(2, 4, 8), (2, 6, 8), (2, 6, 8)], scale=0.3),
    _sdpa("three_d", [(3, 4, 8), (3, 6, 8), (3, 6, 5)]),
    _sdpa("two_d", [(4, 8), (6, 8), (6, 5)]),
    _sdpa("five_d", [(2, 1, 2, 4, 8), (2, 3, 2, 6, 8), (2, 3, 2, 6, 8)]),
    _sdpa("broadcast_q", [(3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 8)]),
    _sdpa("bool_mask_2d", [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)], mask=("bool", (5, 7))),
    _sdpa("bool_mask_4d", [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)], mask=("bool", (2, 1, 5, 7)), dtype=F32),
    _sdpa("bool_dead_row", [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)], mask=("bool_dead_row", (5, 7))),
    _sdpa("float_mask", [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)], mask=("float", (3, 1, 7))),
    _sdpa("float_mask_f32", [(2, 1, 70, 4), (2, 1, 80, 4), (2, 1, 80, 4)], mask=("float", (70, 80)), dtype=F32),
    _sdpa("float_neg_inf_row", [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)], mask=("float_dead_row", (5, 7))),
    _sdpa("float_mask_grad", [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)], mask=("float_grad", (2, 3, 5, 7))),
    _sdpa("gqa", [(2, 4, 5, 8), (2, 2, 7, 8), (2, 2, 7, 8)], enable_gqa=True),
    _mod("mha_self", "MultiheadAttention", [8, 2], {}, [("x", (5, 3, 8)), "x", "x"], {"need_weights": False}),
    _mod("mha_weights", "MultiheadAttention", [8, 2], {}, [("q", (5, 3, 8)), ("kv", (7, 3, 8)), "kv"]),
    _mod("mha_weights_per_head", "MultiheadAttention", [8, 2], {}, [("q", (5, 3, 8)), ("k", (7, 3, 8)),
                                                                      ("v", (7, 3, 8))],
         {"average_attn_weights": False}),
    _mod("mha_batch_first", "MultiheadAttention", [8, 4], {"batch_first": True}, [("x", (3, 5, 8)), "x", "x"],
         {"need_weights": False, "attn_mask": ("bool_causal", (5, 5))}),
    _mod("mha_kdim_vdim", "MultiheadAttention", [8, 2], {"kdim": 6, "vdim": 4},
         [("q", (5, 3, 8)), ("k", (7, 3, 6)), ("v", (7, 3, 4))],
         {"key_padding_mask": ("bool_pad", (3, 7))}),
    _mod("mha_bias_kv_zero_attn", "MultiheadAttention", [8, 2], {"add_bias_kv": True, "add_zero_attn": True},
         [("x", (5, 3, 8)), "x", "x"], {"need_weights": False, "attn_mask": ("float", (5, 5)),
                                         "key_padding_mask": ("bool_pad", (3, 5))}),
    _mod("mha_3d_float_mask", "MultiheadAttention", [8, 2], {"batch_first": True},
         [("x", (3, 5, 8)), "x", "x"], {"need_weights": False, "attn_mask": ("float", (6, 5, 5))}),
    _mod("mha_3d_bool_mask_weights", "MultiheadAttention", [8, 2], {},
         [("x", (5, 3, 8)), "x", "x"], {"attn_mask": ("bool", (6, 5, 5))}),
    _mod("mha_causal_hint", "MultiheadAttention", [8, 2], {"batch_first": True},
         [("x", (3, 5, 8)), "x", "x"], {"need_weights": False, "attn_mask": ("causal", (5, 5)), "is_causal": True}),
    _mod("mha_unbatched", "MultiheadAttention", [8, 2], {}, [("x", (5, 8)), "x", "x"],
         {"key_padding_mask": ("bool_pad", (5,))}),
    _mod("mha_no_bias_f64", "MultiheadAttention", [8, 2], {"bias": False, "dtype": F64},
         [("x", (5, 3, 8)), "x", "x"], {"need_weights": False}, dtype=F64),
    _mod("enc_layer_post", "TransformerEncoderLayer", [8, 2, 16], {"dropout": 0.0},
         [("x", (5, 3, 8))], {"src_mask": ("causal", (5, 5))}),
    _mod("enc_layer_pre_bf_gelu", "TransformerEncoderLayer", [8, 2, 16],
         {"dropout": 0.0, "batch_first": True, "norm_first": True, "activation": "gelu"},
         [("x", (3, 5, 8))], {"src_key_padding_mask": ("bool_pad", (3, 5))}),
    _mod("enc_layer_callable", "TransformerEncoderLayer", [8, 2, 16],
         {"dropout": 0.0, "batch_first": True, "activation": "callable_tanh"},
         [("x", (3, 5, 8))], {"src_mask": ("bool_causal", (5, 5)), "is_causal": True}),
    _mod("enc_layer_eval", "TransformerEncoderLayer", [8, 2, 16], {"batch_first": True},
         [("x", (3, 5, 8))], {"src_key_padding_mask": ("float_pad", (3, 5))}, train=False),
    _mod("encoder_norm", "TransformerEncoder", ["enc_layer", 2], {"norm": True, "enable_nested_tensor": False},
         [("x", (5, 3, 8))], {"mask": ("causal", (5, 5)), "src_key_padding_mask": ("bool_pad", (3, 5))}),
    _mod("encoder_pre_bf", "TransformerEncoder", ["enc_layer_pre_bf", 2], {},
         [("x", (3, 5, 8))], {"mask": ("causal", (5, 5))}),
    _mod("dec_layer_post", "TransformerDecoderLayer", [8, 2, 16], {"dropout": 0.0},
         [("t", (4, 3, 8)), ("m", (6, 3, 8))],
         {"tgt_mask": ("causal", (4, 4)), "memory_key_padding_mask": ("bool_pad", (3, 6))}),
    _mod("dec_layer_pre_bf", "TransformerDecoderLayer", [8, 2, 16],
         {"dropout": 0.0, "batch_first": True, "norm_first": True, "activation": "gelu"},
         [("t", (3, 4, 8)), ("m", (3, 6, 8))],
         {"tgt_mask": ("causal", (4, 4)), "tgt_is_causal": True, "memory_mask": ("float", (4, 6)),
          "tgt_key_padding_mask": ("bool_pad", (3, 4))}),
    _mod("decoder", "TransformerDecoder", ["dec_layer", 2], {"norm": True},
         [("t", (4, 3, 8)), ("m", (6, 3, 8))], {"tgt_mask": ("causal", (4, 4))}),
    _mod("transformer", "Transformer", [],
         {"d_model": 8, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 1, "dim_feedforward": 16,
          "dropout": 0.0}, [("s", (6, 3, 8)), ("t", (4, 3, 8))],
         {"tgt_mask": ("causal", (4, 4)), "src_key_padding_mask": ("bool_pad", (3, 6)),
          "memory_key_padding_mask": ("bool_pad", (3, 6))}),
    _mod("transformer_bf_pre", "Transformer", [],
         {"d_model": 8, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 2, "dim_feedforward": 16,
          "dropout": 0.0, "batch_first": True, "norm_first": True}, [("s", (3, 6, 8)), ("t", (3, 4, 8))],
         {"tgt_mask": ("causal", (4, 4)), "tgt_is_causal": True}),
]


def make_mask(rng, kind, shape):
    """Mask arrays by kind; every padding mask leaves each row one key."""
    if kind in ("bool", "bool_dead_row"):
        m = rng.random(shape) > 0.3
        m[..., 0] = True
        if kind == "bool_dead_row":
            m[..., 1, :] = False
        return m
    if kind == "bool_pad":
        m = np.zeros(shape, dtype=bool)
        if len(shape) == 2:
            for b in range(shape[0]):
                m[b, shape[1] - b:] = True  # True = padding (ignored)
        else:
            m[-2:] = True
        return m
    if kind == "float_pad":
        return np.where(make_mask(rng, "bool_pad", shape), -np.inf, 0.0)
    if kind == "bool_causal":
        return ~np.tril(np.ones(shape, dtype=bool))  # MHA: True = not allowed
    if kind == "causal":
        return np.triu(np.full(shape, -np.inf), 1)
    if kind in ("float", "float_grad", "float_dead_row"):
        m = rng.standard_normal(shape)
        if kind == "float_dead_row":
            m[..., 1, :] = -np.inf
        return m
    raise ValueError(kind)


def make_arrays(case, rng):
    """The case's inputs (numpy), output gradients are made later."""
    arrays = {}
    if case["kind"] == "sdpa":
        for n, s in zip("qkv", case["shapes"]):
            arrays[n] = rng.standard_normal(s).astype(case["dtype"])
        if case["mask"]:
            arrays["mask"] = make_mask(rng, *case["mask"])
        return arrays
    for item in case["inputs"]:
        if isinstance(item, tuple):
            arrays["in:" + item[0]] = rng.standard_normal(item[1]).astype(case["dtype"])
    for k, v in case["call"].items():
        if isinstance(v, tuple):
            arrays["mask:" + k] = make_mask(rng, *v)
    return arrays


def _tensor(T, a, dtype, requires_grad=False):
    if a.dtype == bool:
        return T.tensor(a.tolist(), dtype=T.bool)
    return T.tensor(a.tolist(), dtype=getattr(T, dtype), requires_grad=requires_grad)


def build_module(T, case, seed_state=None):
    """The case's module (in train or eval mode, parameters from seed_state
    when given)."""
    nn = T.nn
    kw = dict(case["kw"])
    dt = kw.pop("dtype", None)
    if dt:
        kw["dtype"] = getattr(T, dt)
    if kw.get("activation") == "callable_tanh":
        kw["activation"] = T.tanh
    args = list(case["args"])
    if case["ctor"] in ("TransformerEncoder", "TransformerDecoder"):
        enc = case["ctor"] == "TransformerEncoder"
        layer_kw = {"dropout": 0.0}
        if args[0].endswith("pre_bf"):
            layer_kw.update(batch_first=True, norm_first=True)
        layer = (nn.TransformerEncoderLayer if enc else nn.TransformerDecoderLayer)(8, 2, 16, **layer_kw)
        args[0] = layer
        if kw.pop("norm", False):
            kw["norm"] = nn.LayerNorm(8)
    m = getattr(nn, case["ctor"])(*args, **kw)
    if seed_state is not None:
        m.load_state_dict({k: _tensor(T, np.asarray(v), case["dtype"]) for k, v in seed_state.items()})
    m.train(case["train"])
    return m


def run(T, case, arrays, grads_out, module=None):
    """Outputs (numpy) and gradients (numpy, by name) of sum(out_i * g_i)."""
    dt = case["dtype"]
    leaves = {}
    if case["kind"] == "sdpa":
        q, k, v = (_tensor(T, arrays[n], dt, True) for n in "qkv")
        leaves.update(q=q, k=k, v=v)
        mask = None
        if "mask" in arrays:
            grad = case["mask"][0] == "float_grad"
            mask = _tensor(T, arrays["mask"], dt, grad)
            if grad:
                leaves["mask"] = mask
        outs = [T.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, **case["kw"])]
    else:
        inputs, named = [], {}
        for item in case["inputs"]:
            if isinstance(item, tuple):
                t = _tensor(T, arrays["in:" + item[0]], dt, True)
                named[item[0]] = t
                leaves["in:" + item[0]] = t
                inputs.append(t)
            else:
                inputs.append(named[item])
        call = {}
        for key, val in case["call"].items():
            if isinstance(val, tuple):
                a = arrays["mask:" + key]
                call[key] = _tensor(T, a, dt)
            else:
                call[key] = val
        res = module(*inputs, **call)
        outs = [o for o in (res if isinstance(res, tuple) else (res,)) if o is not None]
        for name, p in module.named_parameters():
            leaves["param:" + name] = p
    loss = None
    for o, g in zip(outs, grads_out):
        term = (o * _tensor(T, g, dt)).sum()
        loss = term if loss is None else loss + term
    names = list(leaves)
    gs = T.autograd.grad(loss, [leaves[n] for n in names], allow_unused=True)
    grads = {n: (None if g is None else g.detach().numpy()) for n, g in zip(names, gs)}
    return [o.detach().numpy() for o in outs], grads
