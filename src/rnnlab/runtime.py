"""Process-wide settings the CLI applies before any work: glibc's malloc keeps freed memory for reuse.

PyTorch's CPU allocator has no cache of its own: every large tensor is a fresh ``mmap`` whose pages fault in,
zero-filled, on first touch, and every free hands them back. A recurrent training step allocates and frees
tens of MB of per-step buffers, so on this 2-core CPU that page traffic costs about as much as the arithmetic
(the fused LSTM's training step at B=64, T=128, H=128 runs in about half the time without it; docs/RESULTS.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

from rnnlab.errors import ConfigError

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
_ONE_GIB = 1 << 30


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to serve allocations up to 1 GiB from its heap and keep freed memory there.

    The price: the process holds on to its peak memory until it exits. Linux with glibc only (elsewhere a
    no-op returning False); ``RNNLAB_MALLOC=default`` leaves malloc as it is (``keep``, or unset: this).
    """
    choice = os.environ.get("RNNLAB_MALLOC", "keep")
    if choice not in ("keep", "default"):
        raise ConfigError(f"RNNLAB_MALLOC must be 'keep' or 'default', got {choice!r}; unset it for 'keep'")
    if choice == "default" or platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _ONE_GIB) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, 2 * _ONE_GIB - 1) == 1 and ok
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    log.debug("glibc malloc keeps freed memory (mmap threshold 1 GiB): %s", ok)
    return ok
