"""`torch.memory_format` and `torch.layout` values. A memory format names the order of a tensor's
dimensions in memory (`channels_last`: N, H, W, C for a 4-D tensor); rustdl's Rust layer reads
it from the object's repr (rust/python/convert.rs, memory_format_arg)."""


class memory_format:
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        return (_by_name, (self._name,))


class layout:
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        return (_by_name, (self._name,))


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")
strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")

_ALL = {v._name: v for v in (contiguous_format, channels_last, channels_last_3d, preserve_format, strided,
                              sparse_coo, sparse_csr)}


def _by_name(name):
    return _ALL[name]


NAMES = ["memory_format", "layout", *_ALL]
