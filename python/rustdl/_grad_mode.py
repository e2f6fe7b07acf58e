"""Grad-mode context managers (also usable as decorators), as in PyTorch."""

import functools
import threading

from . import _C


class _GradMode:
    """Sets grad mode on enter, restores the previous mode on exit."""

    mode = True

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    mode = False


class enable_grad(_GradMode):
    mode = True


_inference_state = threading.local()


def is_inference_mode_enabled():
    return getattr(_inference_state, "enabled", False)


class inference_mode(_GradMode):
    def __init__(self, mode=True):
        self.mode = not mode

    def __enter__(self):
        self._prev_inference = is_inference_mode_enabled()
        _inference_state.enabled = not self.mode
        return super().__enter__()

    def __exit__(self, *exc):
        _inference_state.enabled = self._prev_inference
        return super().__exit__(*exc)

    def __call__(self, fn):
        if not callable(fn):
            return inference_mode(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not self.mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradMode):
    def __init__(self, mode):
        self.mode = bool(mode)
        # Like PyTorch, calling it as a function takes effect immediately.
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)
        return False

    def __call__(self, fn):
        _C._set_grad_enabled(self.prev)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper
