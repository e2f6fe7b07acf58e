"""``rustdl.Size``: the shape of a tensor, a tuple subclass like ``torch.Size``."""


class Size(tuple):
    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self):
        return f"rustdl.Size([{', '.join(str(d) for d in self)}])"

    def __getitem__(self, key):
        r = super().__getitem__(key)
        return Size(r) if isinstance(key, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))
