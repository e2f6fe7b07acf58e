"""`Tensor.untyped_storage()` and `Tensor.storage()`: views of the memory a tensor (and every view
of it) reads. They answer what scripts ask of storages - where the memory is (`data_ptr`, to test
whether two tensors share it), how large it is (`nbytes`, `size`), its elements (`tolist`) - and
`Tensor.set_`-free code that copies through them works. Resizing a storage in place is not
supported (rustdl's storages have a fixed size) and raises."""

import warnings


class UntypedStorage:
    def __init__(self, tensor):
        self._tensor = tensor

    def data_ptr(self):
        return self._tensor.data_ptr() - self._tensor.storage_offset() * self._tensor.element_size()

    def nbytes(self):
        return self._tensor._storage_numel() * self._tensor.element_size()

    def size(self):
        return self.nbytes()

    def __len__(self):
        return self.nbytes()

    def element_size(self):
        return 1

    @property
    def device(self):
        return self._tensor.device

    def is_shared(self):
        return self._tensor.is_shared()

    def _cdata(self):
        return self._tensor._storage_id()

    def __eq__(self, other):
        return isinstance(other, UntypedStorage) and self._tensor._storage_id() == other._tensor._storage_id()

    def __hash__(self):
        return hash(self._tensor._storage_id())

    def resize_(self, size):
        raise RuntimeError("rustdl: storages have a fixed size; resize the tensor (Tensor.resize_) instead")

    def __repr__(self):
        return f"[torch.storage.UntypedStorage(device={self.device}) of size {self.nbytes()}]"


class TypedStorage(UntypedStorage):
    """The element view of a storage (`Tensor.storage()`, deprecated in PyTorch as here)."""

    @property
    def dtype(self):
        return self._tensor.dtype

    def size(self):
        return self._tensor._storage_numel()

    def __len__(self):
        return self.size()

    def element_size(self):
        return self._tensor.element_size()

    def _flat(self):
        numel = self._tensor._storage_numel()
        return self._tensor.detach().as_strided((numel,), (1,), 0)

    def tolist(self):
        return self._flat().tolist()

    def __getitem__(self, index):
        return self._flat()[index].item() if isinstance(index, int) else self._flat()[index]

    def __repr__(self):
        body = "\n".join(f" {v}" for v in self.tolist())
        return f"{body}\n[torch.storage.TypedStorage(dtype={self.dtype}, device={self.device}) of size {self.size()}]"


def untyped_storage(self):
    return UntypedStorage(self)


def storage(self):
    warnings.warn("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only "
                  "storage class. This should only matter to you if you are using storages directly.  To access "
                  "UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()",
                  UserWarning, stacklevel=2)
    return TypedStorage(self)


def install(tensor_class, torch_namespace):
    tensor_class.untyped_storage = untyped_storage
    tensor_class.storage = storage
    torch_namespace.setdefault("UntypedStorage", UntypedStorage)
    torch_namespace.setdefault("TypedStorage", TypedStorage)
    torch_namespace.setdefault("is_storage", lambda obj: isinstance(obj, UntypedStorage))

