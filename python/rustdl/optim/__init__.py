"""``rustdl.optim`` (being written)."""
