"""A lab shim for guards run under libfaketime: put this directory on their PYTHONPATH.

The lab steps a guard's wall clock with ``faketime`` and ``FAKETIME_DONT_FAKE_MONOTONIC=1``
(by default libfaketime moves CLOCK_MONOTONIC and CLOCK_BOOTTIME with the wall clock, which
breaks --max-delay and every deadline). Then Debian 12's libfaketime 0.9.10 turns Python
3.11's ``time.sleep`` (``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``) into EINVAL
(libfaketime issue #426, fixed upstream later). ``select``'s relative timeout is untouched,
so ``time.sleep`` waits on it here; nothing else changes. Never used outside the tests.
"""

from __future__ import annotations

import os

if os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1" and "faketime" in os.environ.get(
    "LD_PRELOAD", ""
):
    import select
    import time

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
