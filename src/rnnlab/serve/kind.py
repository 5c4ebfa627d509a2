"""What a task kind contributes to the server: `Served` (its routes and its part of /info) and the registry
from a run's task name to the module that serves it. A new kind is one `SERVED[name] = "pkg.module"` line;
that module's `served(files, task, options)` returns its Served."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from fastapi import APIRouter

from rnnlab.errors import RunDirError
from rnnlab.tasks.contract import Task
from rnnlab.train.rundir import RunFiles

SERVED = {  # task name -> module with served(files, task, options) -> Served
    "classify": "rnnlab.serve.classify",
    "charlm": "rnnlab.serve.charlm",
    "forecast": "rnnlab.serve.forecast",
    "seq2seq": "rnnlab.serve.seq2seq",
}


@dataclass(frozen=True)
class ServeOptions:
    """Server limits (live streaming sessions, their idle expiry in seconds, request bodies in bytes) and the
    live page."""

    max_sessions: int = 64
    session_ttl: float = 600.0
    max_body: int = 4 * 1024 * 1024
    page: bool = True  # a sensor classifier's live page at / (rnnlab.serve.page)
    demo: str | None = None  # the recording that page plays (an .npz); None: the run's own data


class Served:
    """One open run of one kind: the routes it answers (`routers`) and what /info adds about it (`info`)."""

    def __init__(self, files: RunFiles, task: Task, options: ServeOptions) -> None:
        self.files, self.task, self.options = files, task, options

    def routers(self) -> list[APIRouter]:
        raise NotImplementedError

    def info(self) -> dict:
        return {}


def served(files: RunFiles, task: Task, options: ServeOptions) -> Served:
    """The Served of this run's kind, or a one-line RunDirError naming the kinds that can be served."""
    if task.name not in SERVED:
        raise RunDirError(
            f"run {files.path} is a {task.name!r} run, which `rnnlab serve` cannot serve; it serves "
            f"{', '.join(sorted(SERVED))} runs (add yours to rnnlab.serve.kind.SERVED)"
        )
    return importlib.import_module(SERVED[task.name]).served(files, task, options)
