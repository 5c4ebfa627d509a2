"""Where a request's model work runs. On a small CPU, handing a few model steps to a worker thread costs more
than the steps themselves (measured in bench/serve_load.py: 1-sample session posts went from ~120 to ~370 per
second when stepped in place), so work of at most INLINE_STEPS time steps runs on the event loop, and
anything larger in the thread pool, where it cannot hold up other connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

INLINE_STEPS = 512
T = TypeVar("T")


async def run_model(steps: int, fn: Callable[..., T], *args: object) -> T:
    """fn(*args), in place when it costs at most INLINE_STEPS recurrent time steps, else in a worker thread."""
    if steps <= INLINE_STEPS:
        return fn(*args)
    return await run_in_threadpool(fn, *args)
