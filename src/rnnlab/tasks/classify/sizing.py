"""`model.kind: auto` (the `classify` recipe's default): the model and schedule sized from the training data.

Small sets (up to SMALL training + validation sequences, what UEA/UCR problems and most users' own recordings
are) get LSTM-FCN (Karim et al. 2017: an 8-unit LSTM beside a 128-256-128 FCN), small batches and more
epochs, early stopping on validation loss: the configuration that reached 1.000 on BasicMotions and 0.986 on
JapaneseVowels in `rnnlab bench tsc` where a recurrent classifier alone reached 0.87-0.93. Larger sets and
token sequences keep the recipe's recurrent SequenceClassifier and its settings. Any key given on the command
line (``--model.hidden 32``, ``--epochs 10``) wins over what auto would choose; the choice is written to the
run's config.yaml, so evaluate, predict, export and resume see a concrete model.
"""

from __future__ import annotations

import math
from typing import Any

from rnnlab.config import Recipe, apply_overrides, explicit_keys

SMALL = 5000  # training + validation sequences up to which LSTM-FCN is chosen
VAL_FRACTION = 0.2
# the model keys LSTM-FCN reads; any other model key given on the command line configures the recurrent
# SequenceClassifier (layers, bidirectional, readout, conv front-end, regularisers), so auto picks that
LSTMFCN_KEYS = frozenset(
    {"model.kind", "model.cell", "model.hidden", "model.channels", "model.dropout", "model.fast_path"}
)


def schedule(n: int, val_fraction: float = VAL_FRACTION) -> dict[str, int]:
    """Batch size and epochs for `n` labelled sequences (training + validation): small sets get small batches
    and more epochs, about 1500 optimiser steps, 40-300 epochs."""
    batch = 16 if n < 100 else 32
    batches = math.ceil(n * (1 - val_fraction) / batch)
    return {"batch_size": batch, "max_epochs": int(min(300, max(40, 1500 // batches)))}


def auto_settings(n: int, tokens: bool = False, recurrent_keys: bool = False) -> dict[str, Any]:
    """The dotted recipe settings `model.kind: auto` stands for, given `n` training + validation sequences
    (`recurrent_keys`: the command line set keys only the SequenceClassifier reads)."""
    if tokens or n > SMALL or recurrent_keys:
        return {"model.kind": "SequenceClassifier"}
    s = schedule(n)
    return {
        "model.kind": "LSTMFCN",
        "model.cell": "lstm",
        "model.hidden": 8,
        "model.channels": 128,
        "model.dropout": 0.8,
        "data.batch_size": s["batch_size"],
        "train.max_epochs": s["max_epochs"],
        "train.patience": max(10, s["max_epochs"] // 3),
        "train.lr": 2e-3,
        "train.monitor": "val_loss",
    }


def resolve_auto(recipe: Recipe, n: int, tokens: bool = False) -> str:
    """Replace `model.kind: auto` in `recipe` by concrete settings (keeping every key set on the command
    line); returns the one-line note the data description carries."""
    explicit = explicit_keys(recipe)
    recurrent = sorted(k for k in explicit if k.startswith("model.") and k not in LSTMFCN_KEYS)
    settings = auto_settings(n, tokens, bool(recurrent))
    chosen = {k: v for k, v in settings.items() if k not in explicit}
    if "model.kind" in explicit:  # kind given explicitly is never 'auto' here; nothing to resolve
        return ""
    apply_overrides(recipe, chosen, explicit=False)
    kept = sorted(set(settings) - set(chosen))
    why = "token sequences" if tokens else f"{n} labelled sequences"
    if recurrent and not tokens and n <= SMALL:
        why += f", {recurrent[0]} given (a SequenceClassifier key)"
    sizes = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in chosen.items() if k != "model.kind")
    return (
        f"model.kind auto -> {chosen['model.kind']} for {why}"
        + (f" ({sizes})" if sizes else " (the recipe's settings)")
        + (f"; kept from the command line: {', '.join(kept)}" if kept else "")
    )
