"""Training precision (train.precision): float32, or bfloat16 autocast where the hardware runs it natively."""

from __future__ import annotations

import torch

from rnnlab.errors import ConfigError

PRECISIONS = ("32", "bf16-mixed", "auto")


def bf16_native() -> bool:
    """Whether bfloat16 matmuls run in hardware here: a CUDA GPU that has them (Ampere on), or a CPU with
    AVX512-BF16 or AMX tiles. Elsewhere PyTorch emulates them, slower than float32."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False):
        return True
    cpu = torch.cpu
    return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())


def resolve_precision(precision: str) -> str:
    """The precision a run trains in: 'auto' is bf16-mixed where bfloat16 is native here, else '32'; so a
    recipe can ask for the fast path without failing on a CPU that lacks it."""
    if precision == "auto":
        return "bf16-mixed" if bf16_native() else "32"
    return precision


def check_precision(precision: str) -> None:
    """Refuse bf16-mixed where it would only be slower, in one line naming the fix."""
    if precision == "bf16-mixed" and not bf16_native():
        raise ConfigError(
            "train.precision bf16-mixed needs a GPU or a CPU with AVX512-BF16/AMX (this one would emulate "
            "bfloat16, slower than float32); leave train.precision at '32', or 'auto' to take bfloat16 only "
            "where native"
        )
