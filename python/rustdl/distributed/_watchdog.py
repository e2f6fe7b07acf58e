"""The timeout of blocking collectives.

A blocking MPI call cannot be interrupted from Python, and a peer that died
or stopped calling collectives would leave the others waiting forever. Every
blocking wait is registered here with its deadline; a daemon thread checks
the deadlines and, when one passes, prints which operation on which rank
timed out and aborts the MPI job (``MPI_Abort``: every rank ends, as
PyTorch's watchdog tears the job down). ``mpirun`` itself ends the job when
a rank is killed or exits without finalising, usually before any deadline.
"""

import itertools
import os
import sys
import threading
import time


class Watchdog:
    def __init__(self, abort):
        self._abort = abort  # called with the message; must not return
        self._waits = {}  # token -> (description, deadline, timeout)
        self._tokens = itertools.count()
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="rustdl-distributed-watchdog", daemon=True)
        self._thread.start()

    def watch(self, description, timeout):
        return _Wait(self, description, timeout)

    def stop(self):
        self._stopped = True
        self._wake.set()

    def _run(self):
        while not self._stopped:
            waits = list(self._waits.values())
            now = time.monotonic()
            period = 1.0
            for description, deadline, timeout in waits:
                if now >= deadline:
                    self._abort(
                        f"{description} did not complete within the timeout of {timeout:g} s: a peer rank "
                        "probably died or stopped calling the same collectives. Aborting the job."
                    )
                    return
                period = min(period, max(0.01, deadline - now), max(0.01, timeout / 20))
            self._wake.wait(period)
            self._wake.clear()


class _Wait:
    __slots__ = ("description", "dog", "timeout", "token")

    def __init__(self, dog, description, timeout):
        self.dog = dog
        self.description = description
        self.timeout = timeout

    def __enter__(self):
        self.token = next(self.dog._tokens)
        self.dog._waits[self.token] = (self.description, time.monotonic() + self.timeout, self.timeout)
        if self.timeout < 1.0:
            self.dog._wake.set()  # the thread may be sleeping a full second
        return self

    def __exit__(self, *exc):
        self.dog._waits.pop(self.token, None)
        return False


def report(message):
    """Write ``message`` to stderr even if ``sys.stderr`` is wrapped or closed."""
    data = (message.rstrip("\n") + "\n").encode("utf-8", "replace")
    try:
        sys.stderr.flush()
    except Exception:  # noqa: BLE001, S110 (best effort before an abort)
        pass
    try:
        os.write(2, data)
    except OSError:
        pass
