"""Recipe `task:` names -> Task classes. The built-in kinds are imported on first use (the CLI stays quick to
start); a new kind is one `register(MyTask)` line, from anywhere, even a test file."""

from __future__ import annotations

import importlib
from pathlib import Path

from rnnlab.errors import ConfigError, RunDirError
from rnnlab.tasks.contract import Task

BUILTIN = {  # name -> module whose TASK attribute is the Task class
    "classify": "rnnlab.tasks.classify.task",
    "charlm": "rnnlab.tasks.charlm.task",
    "forecast": "rnnlab.tasks.forecast.task",
    "seq2seq": "rnnlab.tasks.seq2seq.task",
    "panel": "rnnlab.tasks.panel.task",
}
_registered: dict[str, type[Task]] = {}


def register(task: type[Task]) -> type[Task]:
    """Make recipes with `task: <task.name>` train, evaluate, predict and resume with `task` (usable as a
    class decorator). Registering a name again replaces the earlier class."""
    if not isinstance(task, type) or not issubclass(task, Task) or not getattr(task, "name", ""):
        raise ConfigError(f"register() takes a Task subclass with a name, got {task!r}")
    _registered[task.name] = task
    return task


def names() -> list[str]:
    """Every task kind a recipe can name."""
    return sorted({*BUILTIN, *_registered})


def get(name: str) -> Task:
    """A Task instance for the recipe's `task:` name; an unknown name is one line listing the known ones."""
    if name not in _registered and name in BUILTIN:
        _registered[name] = importlib.import_module(BUILTIN[name]).TASK
    if name not in _registered:
        raise ConfigError(f"unknown task {name!r}; choose one of {names()}")
    return _registered[name]()


def of_run(files_or_recipe: dict | object) -> Task:
    """The Task of a finished run (its config.yaml's `task:`; runs from before the key read as classify)."""
    recipe = getattr(files_or_recipe, "recipe", files_or_recipe)
    name = recipe.get("task", "classify") if isinstance(recipe, dict) else "classify"
    try:
        return get(name)
    except ConfigError:
        where = getattr(files_or_recipe, "path", None) or Path(".")
        raise RunDirError(
            f"run directory {where} is a {name!r} run, a task kind this rnnlab does not know; "
            f"known kinds: {names()}"
        ) from None
