"""`model.config`: the constructor arguments a model records, which model.json stores and
``build_model(kind, **config)`` rebuilds the model from."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any


def constructor_config(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """`cls`'s constructor arguments by name, in signature order, read from `values`.

    Call it inside ``cls.__init__`` with ``locals()``, after resolving any argument whose stored value
    differs from what was passed (CharLM's embed=0 meaning 'as wide as hidden'), so the config rebuilds the
    same model.
    """
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # without self
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        raise TypeError(
            f"{cls.__name__}.__init__ takes *args/**kwargs, which a config cannot name; list them"
        )
    missing = [p.name for p in params if p.name not in values]
    if missing:
        raise TypeError(
            f"no value for {', '.join(missing)}; pass locals() from inside {cls.__name__}.__init__"
        )
    return {p.name: values[p.name] for p in params}
