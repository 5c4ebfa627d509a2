"""The live page at /: plays a real recording through a streaming session (websocket) and plots the signal
with the predicted activity as it changes. GET /demo/recording serves the recording it plays."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from rnnlab.errors import RnnlabError
from rnnlab.serve.demo import Recording, har_test_recording, recording_from_npz
from rnnlab.train.rundir import RunFiles

PAGE = Path(__file__).parent / "static" / "index.html"


def run_recording(
    files: RunFiles, demo: str | Path | None = None, max_windows: int = 60
) -> Callable[[], Recording]:
    """What the page plays for this run, loaded on first request: the user's --demo file; for a HAR run a
    held-out subject's whole raw recording; for any other classifier its own test sequences back to back."""
    features, classes = list(files.data["features"]), list(files.data["classes"])
    if demo is not None:
        rec = recording_from_npz(demo, features, classes)
        return lambda: rec
    if files.recipe.get("data", {}).get("name") == "har":
        return har_test_recording

    def test_sequences() -> Recording:
        from rnnlab.tasks.classify.evaluate import default_test_set

        s = default_test_set(files)
        n = min(len(s.y), max_windows)
        xs = [s.x[i, : int(s.lengths[i])] for i in range(n)]
        labels = [np.full(len(x), int(s.y[i])) for i, x in enumerate(xs)]
        name = f"{n} test sequences of {files.recipe.get('name', 'the run')} played back to back"
        return Recording(
            name, np.concatenate(xs).astype(np.float32), np.concatenate(labels), features, classes, 50.0
        )

    return test_sequences


def page_router(recording: Callable[[], Recording]) -> APIRouter:
    """GET / (the page) and GET /demo/recording (its data, loaded once and kept)."""
    router = APIRouter()
    cache: dict[str, dict] = {}
    lock = threading.Lock()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @router.get(
        "/demo/recording", summary="The recording the live page plays (samples, true labels, classes)"
    )
    def demo_recording() -> JSONResponse:
        with lock:
            if "rec" not in cache:
                try:
                    cache["rec"] = recording().to_json()
                except (RnnlabError, OSError) as e:
                    return JSONResponse(
                        {"error": f"no demo recording: {str(e).splitlines()[0]}"}, status_code=404
                    )
        return JSONResponse(cache["rec"])

    return router
