"""Issue 19's reproducers: calls where rustdl once crashed, returned a wrong
value or gradient, or accepted what PyTorch refuses.

Each case is ``(name, code)``: ``code`` runs with ``L`` bound to the library
(``rustdl`` or ``torch``) and ``F`` to its ``nn.functional``, and leaves its
result in ``r``. ``tools/differential/record_regressions.py`` runs them under
PyTorch and writes what PyTorch returned or raised to
``tests/golden/regressions.json``; ``test_regressions.py`` replays them on
rustdl and compares.
"""

CASES = [
    ('abs_view0', 'x=L.zeros(11,0,1,requires_grad=True); L.abs(x[1::2]).sum().backward(); r=x.grad.shape'),
    ('mul_view0', 'x=L.zeros(3,7,0,requires_grad=True); (x[1]*2).sum().backward(); r=x.grad.shape'),
    ('pad0', 'r=F.pad(L.zeros(3,0,9,4),(1,3)).shape'),
    ('setitem0', 'y=L.zeros(4,0); y[-1,:]=7; r=y.shape'),
    ('stack0', 'r=L.stack((L.zeros(0,2,3,dtype=L.int64), L.zeros(0,2,3)),0).shape'),
    ('numpy0', 'r=L.zeros(3,0)[1:].numpy().shape'),
    ('print0', 'r=str(L.zeros(3,0)[1:])'),
    ('cat0d', 'r=L.cat((L.tensor(.5), L.tensor(1.)), 0)'),
    ('conv1d_dil', "r=F.conv1d(L.ones(2,1,1), L.ones(1,1,3), padding='same', dilation=2)"),
    ('convT_dil', 'r=F.conv_transpose2d(L.ones(3,3,5,1), L.ones(3,1,3,3), stride=1, padding=(0,2), dilation=(1,2)).shape'),
    ('bigalloc', 'r=L.empty(2**10, 3, 2**16, 2**16).shape'),
    ('atan2', 'x=L.tensor([1.,2.],requires_grad=True); y=L.tensor([3.,-1.]); z=L.atan2(x,y); z.sum().backward(); r=(z.requires_grad, x.grad)'),
    ('mfill_v', 'x=L.zeros(4); v=L.tensor(2.,requires_grad=True); x.masked_fill(L.tensor([True,False,True,True]), v).sum().backward(); r=v.grad'),
    ('cumprod0', 'x=L.tensor([2.,0,3,4],requires_grad=True); x.cumprod(0).sum().backward(); r=x.grad'),
    ('add_alpha', 'r=L.add(L.tensor([1.,1.]), L.tensor([3,1]), alpha=0.5)'),
    ('sub_alpha', 'r=L.sub(L.tensor([1.,1.]), L.tensor([3,1]), alpha=0.5)'),
    ('add_int_bool', 'r=L.add(L.tensor([1,2]), L.tensor([True,False]), alpha=2)'),
    ('arange_int', 'r=L.arange(-2.55, 4.9, dtype=L.int64)'),
    ('std0', 'x=L.ones(3,requires_grad=True); x.std().backward(); r=x.grad'),
    ('var0', 'x=L.ones(3,requires_grad=True); x.var().backward(); r=x.grad'),
    ('clamp_tie', 'x=L.tensor([1.,2.,3.],requires_grad=True); lo=L.tensor([1.,0.,3.],requires_grad=True); x.clamp(min=lo).sum().backward(); r=(x.grad, lo.grad)'),
    ('ln1', 'x=L.tensor([[3.]],requires_grad=True); y=F.layer_norm(x,(1,)); y.sum().backward(); r=(y,x.grad)'),
    ('relu_nan', "r=L.relu(L.tensor([float('nan'),-1.,2.]))"),
    ('sign_nan', "r=L.sign(L.tensor([float('nan'),-1.,2.]))"),
    ('fmod_inf', "r=L.fmod(L.tensor([1.5,-2.]), float('inf'))"),
    ('max_nan_grad', "a=L.tensor([float('nan'),1.],requires_grad=True); b=L.tensor([0.,2.],requires_grad=True); L.maximum(a,b).sum().backward(); r=(a.grad,b.grad)"),
    ('floordiv_ninf', "r=L.floor_divide(L.tensor([1.,-1.]), float('-inf'))"),
    ('lsm_inf', "r=F.log_softmax(L.tensor([[float('inf'),1.]]),1)"),
    ('ce_inf', "r=F.cross_entropy(L.tensor([[float('inf'),1.]]),L.tensor([0]))"),
    ('negzero_pow', 'r=L.tensor([-0.])**-0.5'),
    ('huber_inf', "x=L.tensor([float('inf'),float('nan'),1.],requires_grad=True); F.huber_loss(x,L.zeros(3)).backward(); r=x.grad"),
    ('sl1_inf', "x=L.tensor([float('inf'),float('nan'),1.],requires_grad=True); F.smooth_l1_loss(x,L.zeros(3)).backward(); r=x.grad"),
    ('l1_inf', "x=L.tensor([float('inf'),float('nan'),1.],requires_grad=True); F.l1_loss(x,L.zeros(3)).backward(); r=x.grad"),
    ('nll_allign', 'r=F.nll_loss(L.tensor([[0.1,0.2]]), L.tensor([-100]))'),
    ('norm_inf', "r=(L.tensor([1.,float('inf'),-3.]).norm(p=float('inf')), L.tensor([1.,float('nan')]).norm(p=float('inf')))"),
    ('max0d', 'r=L.tensor(3.).max(0)'),
    ('nonzero0d', 'r=L.tensor(3.).nonzero(as_tuple=True)'),
    ('where0d', 'r=L.where(L.tensor(3.))'),
    ('hardtanh_int', 'r=F.hardtanh(L.tensor([-3,0,3]))'),
    ('cumsum_bool', 'r=L.tensor(False).cumsum(-1)'),
    ('chunk_empty', 'r=[t.shape for t in L.zeros(0).chunk(3)]'),
    ('linear_bias', 'r=F.linear(L.ones(5,3), L.ones(1,3), bias=L.ones(4)).shape'),
    ('intdiv0', "r=L.div(L.tensor(4), L.tensor(0), rounding_mode='trunc')"),
    ('intrem0', 'r=L.remainder(L.tensor(4), L.tensor(0))'),
    ('mfill_int_inf', "r=L.tensor([1,2]).masked_fill(L.tensor([True,False]), float('-inf'))"),
    ('elu_int', 'r=F.elu(L.tensor([1,2]))'),
    ('softmax_int', 'r=L.softmax(L.tensor([1,2]),0)'),
    ('gelu_int', 'r=F.gelu(L.tensor([1,2]))'),
    ('abs_bool', 'r=L.abs(L.tensor([True]))'),
    ('sin_list', 'r=L.sin([1.,2.])'),
    ('maximum_num', 'r=L.maximum(L.tensor([1.]), 3)'),
    ('softmax0d', 'r=L.tensor(-1.).softmax(1)'),
    ('arange_nan', "r=L.arange(0, float('nan'))"),
    ('ragged', 'r=L.tensor([1.0,[2.0]])'),
    ('onehot_empty', 'r=F.one_hot(L.zeros(0,dtype=L.int64))'),
    ('gn1', 'r=F.group_norm(L.ones(2,3,1),3)'),
    ('hardtanh_minmax', 'r=F.hardtanh(L.ones(2),2.,1.)'),
    ('pad_reflect', "r=F.pad(L.ones(1,1,3),(3,3),mode='reflect')"),
    ('rsub_bool', 'r=-2 - L.tensor([True,False])'),
    ('bce_nan', "r=F.binary_cross_entropy(L.tensor([float('nan')]), L.tensor([1.]))"),
    ('type_bad', "r=L.ones(2).type('notadtype')"),
    ('cat_empty', 'r=L.cat([])'),
    ('bitwise_float', 'r=L.tensor([1.]) & L.tensor([1.])'),
    ('bool_mm', 'r=L.tensor([[True]]) @ L.tensor([[True]])'),
    ('isel_oob', 'r=L.index_select(L.ones(3),0,L.tensor([5]))'),
    ('iadd_oob', 'r=L.ones(3).index_add(0,L.tensor([5]),L.ones(1))'),
    ('sadd_oob', 'r=L.ones(3).scatter_add(0,L.tensor([5]),L.ones(1))'),
    ('max_empty', 'r=L.zeros(0,3).max(0)'),
    ('ce_shape', 'r=F.cross_entropy(L.ones(2,3),L.tensor([0,1,2]))'),
    ('nll_shape', 'r=F.nll_loss(L.ones(2,3),L.tensor([0,1,2]))'),
    ('gn_shape', 'r=F.group_norm(L.ones(2,3,4),2)'),
    ('broadcast_to', 'r=L.broadcast_to(L.tensor([1.,2.]),(3,2)).shape'),
    ('inner', 'r=L.inner(L.tensor([1.,2.]),L.tensor([3.,4.]))'),
    ('twhere', 'r=L.tensor([1.,2.]).where(L.tensor([True,False]), L.tensor(0.))'),
    ('concat', 'r=L.concat([L.ones(1),L.zeros(1)])'),
    ('tile', 'r=L.tile(L.tensor([1,2]),(2,))'),
    ('std_mean', 'r=L.std_mean(L.tensor([1.,2.,4.]))'),
    ('var_mean', 'r=L.var_mean(L.tensor([1.,2.,4.]))'),
    ('conv_int', 'r=F.conv1d(L.ones(1,1,3,dtype=L.int64), L.ones(1,1,2,dtype=L.int64))'),
    ('lse_empty', 'r=L.logsumexp(L.zeros(2,0),1)'),
    ('gather_empty', 'r=L.gather(L.zeros(0,2),0,L.zeros(0,2,dtype=L.int64)).shape'),
    ('apool_empty', 'r=F.adaptive_avg_pool2d(L.zeros(0,1,4,4),2).shape'),
    ('rem_empty', 'r=L.remainder(L.zeros(0),2).shape'),
    ('mfill_bcast', 'r=L.zeros(2).masked_fill(L.tensor([[True,False],[False,True]]), 1.)'),
    ('mm_bool_empty', 'r=(L.zeros(0,2,dtype=L.bool) @ L.zeros(2,0,dtype=L.bool)).shape'),
    ('add_bool_alpha', 'r=L.add(L.tensor([True]), L.tensor([True]), alpha=-1)'),
    ('convT_0', 'r=F.conv_transpose1d(L.ones(1,1,1), L.ones(1,1,1), padding=0, output_padding=0, stride=1, dilation=1).shape'),
    # more edges from the issue and the differential runs
    ('std_grad_const', 'x=L.full((2,3),2.,requires_grad=True); x.std(1).sum().backward(); r=x.grad'),
    ('var_grad_const', 'x=L.full((4,),1.5,dtype=L.float64,requires_grad=True); x.var().backward(); r=x.grad'),
    ('std_mean_dim', 'r=L.std_mean(L.tensor([[1.,2.],[4.,8.]]), 1)'),
    ('fmax_nan', "r=L.fmax(L.tensor([float('nan'),1.,float('nan')]), L.tensor([0.,float('nan'),float('nan')]))"),
    ('fmin_grad', "a=L.tensor([1.,float('nan'),2.],requires_grad=True); b=L.tensor([1.,0.,3.],requires_grad=True); L.fmin(a,b).sum().backward(); r=(a.grad,b.grad)"),
    ('fmod_grad', 'a=L.tensor([5.,-7.],requires_grad=True); b=L.tensor([3.,2.],requires_grad=True); L.fmod(a,b).sum().backward(); r=(a.grad,b.grad)'),
    ('fmod_int', 'r=L.fmod(L.tensor([-7,7]), L.tensor([3,-3]))'),
    ('fmod_int0', 'r=L.fmod(L.tensor([1]), L.tensor([0]))'),
    ('floordiv_pinf', "r=L.floor_divide(L.tensor([1.,-1.,0.]), float('inf'))"),
    ('floordiv_0', 'r=L.floor_divide(L.tensor([1.,-1.,0.]), 0.)'),
    ('div_trunc_int', "r=L.div(L.tensor([-7,7,9007199254740993]), L.tensor([2,-2,1]), rounding_mode='trunc')"),
    ('div_floor_int', "r=L.div(L.tensor([-7,7]), L.tensor([2,-2]), rounding_mode='floor')"),
    ('remainder_inf', "r=L.remainder(L.tensor([1.5,-2.,0.]), float('inf'))"),
    ('relu_negzero', "r=L.relu(L.tensor([-0.,float('nan'),-1.])).signbit()"),
    ('sign_negzero', 'r=L.sign(L.tensor([-0.])).signbit()'),
    ('sub_bool_int', 'r=L.tensor([1]) - L.tensor([True])'),
    ('neg_bool', 'r=-L.tensor([True])'),
    ('sub_bool_alpha', 'r=L.sub(L.tensor([True]), L.tensor([True]), alpha=2)'),
    ('add_int_alpha_float', 'r=L.add(L.tensor([1]), L.tensor([2]), alpha=0.5)'),
    ('mfill_f64_value', 'r=L.zeros(2,dtype=L.float64).masked_fill(L.tensor([True,False]), L.tensor(0.1))'),
    ('mfill_inplace_bcast', 'x=L.zeros(2); x.masked_fill_(L.tensor([[True,False],[False,True]]), 1.); r=x'),
    ('argmax0d_keep', 'r=L.tensor(3.).argmax(0, keepdim=True)'),
    ('max0d_dim1', 'r=L.tensor(3.).max(1)'),
    ('argmax_empty', 'r=L.zeros(0).argmax()'),
    ('cumsum_int32', 'r=L.tensor([1,2],dtype=L.int32).cumsum(0)'),
    ('cumprod_bool0d', 'r=L.tensor(True).cumprod(0)'),
    ('chunk_empty2d', 'r=[t.shape for t in L.zeros(0,4).chunk(3,1)]'),
    ('nonzero0d_false', 'r=L.tensor(0.).nonzero(as_tuple=True)'),
    ('softmax_intdim', 'r=F.softmax(L.tensor([[1,2]]), 0)'),
    ('log_softmax_int', 'r=F.log_softmax(L.tensor([1,2]), 0)'),
    ('relu_bool', 'r=F.relu(L.tensor([True]))'),
    ('leaky_int', 'r=F.leaky_relu(L.tensor([1]))'),
    ('silu_int', 'r=F.silu(L.tensor([1]))'),
    ('floor_bool', 'r=L.floor(L.tensor([True]))'),
    ('frac_int', 'r=L.frac(L.tensor([1]))'),
    ('hardtanh_bool', 'r=F.hardtanh(L.tensor([True]))'),
    ('tuple_operand', 'r=L.tensor([1.,2.]) + (1.,2.)'),
    ('mul_list', 'r=L.mul(L.tensor([1.,2.]), [1.,2.])'),
    ('ragged_deep', 'r=L.tensor([[1,2],[3,[4]]])'),
    ('type_str', "r=L.ones(2).type('torch.DoubleTensor')"),
    ('arange_inf', "r=L.arange(0, float('inf'))"),
    ('arange_step_nan', "r=L.arange(0, 1, float('nan'))"),
    ('arange_int_step', 'r=L.arange(0.5, 3.7, 1.5, dtype=L.int64)'),
    ('lse_empty_keep', 'r=L.logsumexp(L.zeros(2,0),1,keepdim=True)'),
    ('ce_neg_inf', "r=F.cross_entropy(L.tensor([[float('-inf'),1.]]),L.tensor([1]))"),
    ('conv2d_int', 'r=F.conv2d(L.arange(16).reshape(1,1,4,4), L.ones(1,1,2,2,dtype=L.int64), stride=2)'),
    ('convT_int', 'r=F.conv_transpose1d(L.tensor([[[1,2]]]), L.tensor([[[1,1]]]))'),
    ('inner_nd', 'r=L.inner(L.arange(6.).reshape(2,3), L.arange(3.))'),
    ('tile_short', 'r=L.tile(L.ones(2,2), (3,)).shape'),
    ('one_hot_nc', 'r=F.one_hot(L.zeros(0,dtype=L.int64), 3).shape'),
    ('bias_bcast_ok', 'r=F.linear(L.ones(5,3), L.ones(4,3), bias=L.ones(1)).shape'),
    # round 2: from the 300 s differential run on a24cac6/1a55148
    ('narrow0d', 'r=L.tensor(2).narrow(0, 0, 1)'),
    ('select0d', 'r=L.tensor(2).select(0, 0)'),
    ('unbind0d', 'r=L.tensor(5).unbind()'),
    ('movedim0d', 'r=L.tensor(5).movedim(0, 0)'),
    ('roll0d_dims', 'r=L.tensor(1).roll((1,), (0,))'),
    ('roll0d', 'r=L.tensor(1.).roll(1)'),
    ('flip0d', 'r=L.tensor(1.).flip(0)'),
    ('split0d', 'r=L.tensor(-3).split([1, 2], dim=0)'),
    ('chunk0d', 'r=L.tensor(-3).chunk(1)'),
    ('index_add0d', 'r=L.tensor(2).index_add(0, L.tensor([0, 0, 0, 0]), L.tensor(-5))'),
    ('index_select0d', 'r=L.tensor(-3).index_select(0, L.zeros(0, dtype=L.int64))'),
    ('atan2_number', 'r=L.tensor(-1).atan2(0)'),
    ('maximum_number', 'r=L.tensor(-1).maximum(5)'),
    ('logical_or_number', 'r=L.zeros(0, dtype=L.int64).logical_or(3.25)'),
    ('clamp_u8_range', 'r=L.tensor([8, 3], dtype=L.uint8).clamp(min=0, max=-1)'),
    ('clamp_int_float', 'r=L.tensor([8, 3]).clamp(min=2.5)'),
    ('mean_bool', 'r=L.tensor([True]).mean(dim=-1)'),
    ('round_dec_int', 'r=L.zeros(0, dtype=L.int32).round(decimals=-1)'),
    ('square_bool', 'r=L.tensor(False).square()'),
    ('bce_logits_int', "r=F.binary_cross_entropy_with_logits(L.tensor([-2, -2, 5])[2], L.tensor(0.14), reduction='sum')"),
    ('bce_target_dtype', 'r=F.binary_cross_entropy(L.tensor(0.68), L.tensor([3, 9], dtype=L.uint8)[1])'),
    ('group_norm_one', 'r=F.group_norm(L.tensor([[[[-1.0]]]]), 1)'),
    ('group_norm_inf', "r=F.group_norm(L.tensor([[[1e-07], [float('inf')]], [[-1.75], [-2.5]]]), 1)"),
    ('layer_norm_huge', 'r=F.layer_norm(L.full((3, 3), 3e38), [3, 3])'),
    ('instance_norm_inf', "r=F.instance_norm(L.tensor([[[0.76, -4.01, 88.8], [-4.06, float('inf'), 5.48]]]))"),
    ('var_mean_keepdim', 'r=L.var_mean(L.tensor([[0.24, 1.]]), keepdim=True)'),
    ('inner_empty', 'r=L.zeros(0).inner(L.zeros(0))'),
    ('add_list', 'r=L.add([0.95, -0.43], 5)'),
    ('ones_no_size', 'r=L.ones()'),
    ('rand_out', 'c=L.zeros(2, 2); r=(L.rand(2, 2, out=c) is c, bool((c > 0).all()))'),
    ('zeros_out', 'c=L.ones(3); L.zeros(3, out=c); r=c'),
    ('cat_out', 'c=L.empty(4); L.cat([L.ones(2), L.zeros(2)], out=c); r=c'),
    ('floordiv_int_min', 'r=L.tensor([[5], [-2147483648]], dtype=L.int32).t().floor_divide(-1)'),
    ('u8_full_wrap', 'r=L.full((3,), -1, dtype=L.uint8)'),
    ('u8_div_number', 'r=L.tensor([3, 6], dtype=L.uint8).div(-3)'),
    ('int_pow_neg', 'r=L.pow(L.tensor([1, 1, 8, -1, -1, 2]), L.tensor([1, -5, 0, -3, -2, -1]))'),
    ('rfloordiv', 'r=(-1.5) // L.tensor([-0.05, 0.3])'),
    ('kl_div_neg_target', "x=L.zeros(2, 3, requires_grad=True); y=L.tensor([0.5, -1., 0.], requires_grad=True); F.kl_div(x, y, reduction='sum').backward(); r=(x.grad, y.grad)"),
    ('cat_empty_grad', 'a=L.zeros(0, requires_grad=True); b=L.ones(2, 2, requires_grad=True); L.cat([a, b]).sum().backward(); r=(a.grad, b.grad)'),
    ('setitem_mixed_range', 'x=L.zeros(3, 4); x[range(3), L.tensor([0, 2, 1])] = 5.; r=x'),
    ('setitem_slice_list', 'y=L.zeros(3, 4); y[:, [0, 2]] = L.ones(3, 2) * 7; r=y'),
    ('setitem_list_slice_int', 'z=L.zeros(2, 3, 2); z[[0, 1], :, 1] = 5; r=z'),
    ('setitem_mixed_grad', 'w=L.zeros(3, 4, requires_grad=True); v=L.ones(2, requires_grad=True); u=w*1; u[[0, 2], 1:3] = v.reshape(2, 1)*3; u.sum().backward(); r=(u, w.grad, v.grad)'),
    ('setitem_empty_none', "e=L.zeros(0); e[[], None] = float('nan'); r=e"),
    # round 3
    ('invert_float', 'r=~(L.tensor(1.0))'),
    ('any_u8', 'r=(L.tensor(5, dtype=L.uint8).any(), L.zeros(0, dtype=L.uint8).all())'),
    ('view_noargs', 'r=L.tensor(3).view()'),
    ('permute_noargs', 'r=L.tensor(0).permute()'),
    ('reshape_noargs', 'r=L.tensor(-5).reshape()'),
    ('scatter_empty_index', 'r=L.zeros(2, 0, dtype=L.int64).scatter(0, L.zeros(0, dtype=L.int64), value=3)'),
    ('gather_empty_index', 'r=L.zeros(3, 0, 1, 3, dtype=L.int64).gather(2, L.zeros(3, 0, 1, dtype=L.int64))'),
    ('argmax_none_keep', 'r=(L.tensor(-0.26).argmax(dim=None, keepdim=True), L.ones(2, 3).argmax(dim=None, keepdim=True))'),
    ('norm_u8', "r=L.tensor(3, dtype=L.uint8).expand(5).norm(p=float('inf'))"),
    ('full_like_inf_int', "r=L.full_like(L.tensor([-2], dtype=L.int32), float('inf'))"),
    ('full_int_overflow', 'r=L.full((2,), 300, dtype=L.uint8)'),
    ('setitem_overflow', 'y=L.tensor([2, 0, -2], dtype=L.int32); y[:2:3] = 1e+30; r=y'),
    ('softmax0d_grad', 'a=L.tensor(1.03, dtype=L.float64, requires_grad=True); y=a.softmax(dim=0); y.backward(); r=(y, y.requires_grad, a.grad)'),
    ('log_softmax0d_grad', 'a=L.tensor(11.86, requires_grad=True); y=a.log_softmax(dim=0); r=(y, y.requires_grad)'),
    ('remainder_bool', 'r=L.tensor([[True]]) % L.tensor([[False]])'),
    ('floordiv_bool', 'r=L.tensor([True]) // L.tensor([True])'),
    ('fmod_bool', 'r=L.fmod(L.tensor([True]), L.tensor([True]))'),
    ('layer_norm_u8_bias', 'r=F.layer_norm(L.tensor([11.46, 2.38, 13.03]), (3,), bias=L.tensor([4, 6, 5], dtype=L.uint8))'),
    ('batch_norm_int_weight', 'r=F.batch_norm(L.tensor([[-0.36], [0.48], [-0.37]]), None, None, weight=L.tensor([4], dtype=L.int32), training=True)'),
    ('nll_u8', 'r=F.nll_loss(L.tensor([7], dtype=L.uint8).expand(2, 1), L.tensor([0, 0]))'),
    ('bce_logits_int_target', 'r=F.binary_cross_entropy_with_logits(L.zeros(2), L.zeros(2, dtype=L.int64))'),
    ('bce_weight_bcast', 'r=F.binary_cross_entropy(L.full((2,), .5), L.full((2,), .5), weight=L.ones(3))'),
    ('std_huge', 'r=(L.std_mean(L.tensor([2.1, 4.5, -1e+30])), L.tensor([-1e+30, -104.0]).std(correction=0))'),
    ('var_grad_f32', 'x=L.tensor([1., 2., 4.], requires_grad=True); x.var().backward(); r=x.grad'),
    ('avg_pool3d_small', 'r=F.avg_pool3d(L.zeros(0, 3, 4, 1, 1), kernel_size=[2, 2, 1], ceil_mode=True)'),
    ('lt_inplace', 'y=L.tensor([0.95, -0.28, 5.]); y.lt_(3); r=y'),
    ('ne_inplace_int', 'y=L.tensor([1, -3]); y.ne_(-3); r=y'),
    ('fmin_inplace', 'y=L.tensor(5); y.fmin_(L.tensor(2)); r=y'),
]


def encode(r):
    """A JSON-able description of a result, the same for rustdl and torch."""
    if isinstance(r, BaseException):
        return {"raises": type(r).__name__}
    if hasattr(r, "tolist") and hasattr(r, "dtype") and hasattr(r, "shape"):
        dtype = str(r.dtype).split(".")[-1]
        values = r.detach().tolist() if hasattr(r, "detach") else r.tolist()
        return {"tensor": _plain(values), "shape": list(r.shape), "dtype": dtype}
    if type(r).__name__ in ("Size",):
        return {"size": list(r)}
    if isinstance(r, (tuple, list)):
        return {"seq": [encode(v) for v in r]}
    if r is None or isinstance(r, (bool, int, float, str)):
        return {"value": _plain(r)}
    return {"other": type(r).__name__}


def _plain(v):
    """NaN and infinities as strings (JSON has no such numbers)."""
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return repr(v)
    return v


def run(code, L, F):
    """The case's result, or the exception it raised."""
    ns = {"L": L, "F": F}
    try:
        exec(code, ns)  # noqa: S102 - the cases are this file's own code
    except Exception as e:  # noqa: BLE001 - every error is a result to compare
        return e
    return ns["r"]
