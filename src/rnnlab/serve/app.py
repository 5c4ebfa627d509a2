"""make_app(RUN_DIR): a FastAPI app serving one trained run. The run is opened once (eval mode, no gradients)
and its kind's Served (rnnlab.serve.kind) adds the routes it answers; /health and /info are common to all.

A sensor classifier's run gets the live page at / (rnnlab.serve.page: it plays a real recording through a
session); `page=False` leaves / free. Extra pages or routes go in with `routers=[...]` (APIRouters included
as they are, listed in /info) or `mounts={"/": StaticFiles(directory=..., html=True)}` (mounted after every
route, so a page at / hides none of them); with nothing at /, GET / leads to the API docs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from starlette.types import ASGIApp

from rnnlab.serve.errors import install_error_handlers
from rnnlab.serve.kind import ServeOptions, served
from rnnlab.serve.limits import RequestLimits
from rnnlab.tasks import of_run
from rnnlab.train.rundir import open_run


def default_threads() -> int:
    """Torch threads for serving: small recurrent steps run best on few threads, and concurrent requests
    already use the other cores; half the cores, 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def make_app(
    run_dir: str | Path,
    max_sessions: int = 64,
    session_ttl: float = 600.0,
    max_body: int = 4 * 1024 * 1024,
    threads: int | None = None,
    routers: Iterable[APIRouter] = (),
    mounts: Mapping[str, ASGIApp] | None = None,
    page: bool = True,
    demo: str | Path | None = None,
) -> FastAPI:
    """The app serving the run at `run_dir`; see the module docstring for `routers` and `mounts`. `page`: a
    sensor classifier's live page at / playing `demo` (an .npz) or the run's own data (rnnlab.serve.page);
    any other run's / leads to the API docs."""
    torch.set_num_threads(threads or default_threads())
    files = open_run(run_dir)
    files.model.eval()
    for p in files.model.parameters():  # no autograd graph on any thread (grad mode is per thread)
        p.requires_grad_(False)
    task = of_run(files)
    options = ServeOptions(
        int(max_sessions), float(session_ttl), int(max_body), page, None if demo is None else str(demo)
    )
    kind = served(files, task, options)
    model_kind = type(files.model).__name__
    app = FastAPI(
        title=f"rnnlab serve: {files.path.name}",
        description=f"A trained {task.name} run ({model_kind}) from {files.path}.",
        version="1",
    )
    included = [*kind.routers(), *routers]
    for router in included:
        app.include_router(router)
    endpoints = [f"{m} {r.path}" for router in included for r in router.routes for m in _methods(r)]

    @app.get("/health", tags=["run"], summary="is the server up, and what it serves")
    def health() -> dict:
        return {"status": "ok", "task": task.name, "model": model_kind, "run": str(files.path)}

    @app.get("/info", tags=["run"], summary="the model's signature, its data and the endpoints it serves")
    def info() -> dict:
        return {
            "task": task.name,
            "model": model_kind,
            "run": str(files.path),
            "signature": task.signature(files.model).to_dict(),
            "endpoints": endpoints + ["GET /health", "GET /info"],
            **kind.info(),
        }

    if not any(getattr(r, "path", None) == "/" for router in included for r in router.routes) and "/" not in (
        mounts or {}
    ):
        app.add_api_route(
            "/", lambda: RedirectResponse("/docs"), include_in_schema=False
        )  # no page: the API docs
    for path, sub in (mounts or {}).items():  # after every route, so a page mounted at / shadows none of them
        app.mount(path, sub)
    install_error_handlers(app, endpoints + ["GET /health", "GET /info", "GET /docs"])
    app.add_middleware(RequestLimits, max_body=options.max_body)
    app.state.served = kind
    return app


def _methods(route: object) -> list[str]:
    """A route's methods for /info and the 404 message ('WS' for a websocket)."""
    methods = getattr(route, "methods", None)
    return sorted(m for m in methods if m != "HEAD") if methods else ["WS"]
