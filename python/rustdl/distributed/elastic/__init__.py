"""``torch.distributed.elastic``: only what training scripts import from it (``record``)."""
