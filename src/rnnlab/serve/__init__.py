"""`rnnlab serve RUN_DIR`: an HTTP server for a trained run (FastAPI; the `serve` extra).

app.py      make_app: open the run once, /health, /info, the kind's routes, limits and one-line errors
kind.py     Served (a kind's routes and /info) and SERVED, the task name -> module registry
classify.py /predict and streaming sessions (sessions.py: store and endpoints; streams.py: the two modes)
charlm.py   /generate, streamed one sampled character at a time
forecast.py /predict from a posted history;  seq2seq.py  /predict: translate a line or caption pixel rows
errors.py, limits.py, inputs.py: the one-line JSON errors, body size/content type, array checks
work.py     a few model steps run on the event loop, larger work in the thread pool
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def make_app(*args: object, **kwargs: object) -> FastAPI:
    """rnnlab.serve.app.make_app, imported on first use (fastapi is an optional dependency)."""
    from rnnlab.serve.app import make_app as make

    return make(*args, **kwargs)


__all__ = ["make_app"]
