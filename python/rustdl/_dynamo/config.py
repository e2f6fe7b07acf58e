"""``torch._dynamo.config``: ``recompile_limit``, input signatures per compiled forward
(later signatures run eagerly)."""

import sys


class _Config(type(sys)):
    @property
    def recompile_limit(self):
        from . import eval_frame
        return eval_frame.recompile_limit

    @recompile_limit.setter
    def recompile_limit(self, value):
        from . import eval_frame
        eval_frame.recompile_limit = int(value)

    cache_size_limit = recompile_limit


sys.modules[__name__].__class__ = _Config
