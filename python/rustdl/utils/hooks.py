"""``torch.utils.hooks``: the handle every ``register_*_hook`` returns."""

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """Removes one hook (keyed by ``id`` in ``hooks_dict``) when ``remove()`` is called or the
    ``with`` block ends. ``extra_dict``: other tables keyed by the same id (dicts, or sets of
    per-hook flags such as with_kwargs/always_call) that lose the entry too."""

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = hooks_dict
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if extra_dict is None:
            extra_dict = ()
        elif isinstance(extra_dict, (dict, set)):
            extra_dict = (extra_dict,)
        self.extra_dict_ref = tuple(extra_dict)

    def remove(self):
        self.hooks_dict_ref.pop(self.id, None)
        for table in self.extra_dict_ref:
            if isinstance(table, set):
                table.discard(self.id)
            else:
                table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
