"""Exact resume of a killed run: which checkpoint, with which settings, and the metrics rows to keep.

A resumed run writes into its own directory, with the recipe in its config.yaml (a different setting is a
one-line error), from checkpoints/last.ckpt (or best.ckpt when last.ckpt is gone); metrics.csv loses the rows
of epochs the checkpoint had not finished, which train again. See docs/RELIABILITY.md.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

import yaml

from rnnlab.config import Recipe, _merge, load_recipe, recipe_from_dict
from rnnlab.errors import ConfigError, RunDirError
from rnnlab.train.checkpoints import BEST, LAST, safe_load
from rnnlab.train.distributed import is_global_zero
from rnnlab.train.rundir import check_writable, write_atomic

log = logging.getLogger("rnnlab.train")


def prepare_resume(
    recipe: Recipe, out: str | Path | None, resume: str | Path | None, train_overrides: dict
) -> tuple[str | Path | None, Path | None, dict]:
    """(out, checkpoint to continue from, remaining overrides) for the fit driver; unchanged when not resuming.

    Resuming: the run writes into `resume` itself, the recipe (with any overrides applied) must equal the
    run's config.yaml, the checkpoint is last.ckpt (or best.ckpt), and metrics.csv loses the rows of epochs
    the checkpoint had not finished."""
    if resume is None:
        return out, None, train_overrides
    if out is not None and Path(out).resolve() != Path(resume).resolve():
        raise ConfigError(
            f"resume={resume} and out={out} differ; a resumed run writes into its own directory"
        )
    if train_overrides:
        _merge(recipe.train, train_overrides, "train.")
        train_overrides = {}
    check_resume_config(Path(resume), recipe.to_dict())
    ckpt_path = resume_checkpoint(Path(resume))
    if is_global_zero():  # rank 0 alone rewrites the run directory's files
        check_writable(Path(resume))
        done = truncate_metrics(Path(resume) / "metrics.csv", safe_load(ckpt_path))
        log.info("resuming %s from %s (%d epochs done)", resume, ckpt_path, done)
    return resume, ckpt_path, train_overrides


def resume_checkpoint(run: Path) -> Path:
    """The checkpoint a resume continues from: last.ckpt, or best.ckpt if last.ckpt was removed.

    A last.ckpt that exists but cannot be read is an error (never a silent fallback): the message names the
    file and says that deleting it resumes from best.ckpt, an earlier epoch-end checkpoint.
    """
    if (run / "results.json").is_file():
        raise RunDirError(f"run {run} already finished (results.json exists); nothing to resume")
    ckpts = run / "checkpoints"
    for name in (LAST, BEST):
        if (ckpts / name).is_file():
            if name == BEST:
                log.warning("resuming from %s: %s is missing", ckpts / BEST, ckpts / LAST)
            return ckpts / name
    raise RunDirError(
        f"run directory {run} has no checkpoint to resume from (checkpoints/{LAST} or {BEST}); "
        "it stopped before its first checkpoint - start it again without --resume"
    )


def check_resume_config(run: Path, recipe: dict) -> None:
    """Refuse to resume with settings other than those the run was started with (config.yaml)."""
    path = run / "config.yaml"
    if not path.is_file():
        raise RunDirError(
            f"{run} is not a run directory (no config.yaml); pass the directory `rnnlab train` printed"
        )
    saved = yaml.safe_load(path.read_text()) or {}
    for key, value in _flatten(recipe).items():
        if _flatten(saved).get(key, value) != value:
            raise ConfigError(
                f"cannot resume {run}: {key} is {value!r} but the run was started with "
                f"{_flatten(saved)[key]!r}; resume with the run's own settings or start a new run"
            )


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def truncate_metrics(path: Path, ckpt: dict) -> int:
    """Drop metrics.csv rows for epochs the checkpoint has not finished (they are trained again); returns
    how many epochs are kept. A half-written last line from a kill goes too."""
    done = _epochs_done(ckpt)
    if not path.is_file():
        return done
    rows = list(csv.reader(path.open(newline="")))
    if not rows:
        return done
    header, keep = rows[0], [rows[0]]
    for r in rows[1:]:
        try:
            if len(r) == len(header) and int(r[0]) < done:
                keep.append(r)
        except ValueError:
            continue
    buf = io.StringIO()
    csv.writer(buf).writerows(keep)
    write_atomic(path, buf.getvalue())
    return done


def _epochs_done(ckpt: dict) -> int:
    """Epochs whose training and validation finished when the checkpoint was saved."""
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError):
        return int(ckpt.get("epoch", 0))


def resume_recipe(run: str | Path, recipe_arg: str):
    """The Recipe a resumed run continues with: RUN/config.yaml (safe_load), never the recipe given again.

    `recipe_arg` (the positional RECIPE) must agree: the saved recipe's name, or a YAML file with that name.
    Every task kind resumes (they all train through the one fit driver).
    """
    run = Path(run)
    path = run / "config.yaml"
    if not path.is_file():
        raise RunDirError(
            f"{run} is not a run directory (no config.yaml); pass the directory `rnnlab train` printed"
        )
    try:
        recipe = recipe_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError) as e:
        # a ConfigError (unknown key) is a ValueError too: every one becomes one line naming the file
        why = "nested too deeply" if isinstance(e, RecursionError) else (str(e).splitlines() or [""])[0]
        raise RunDirError(f"{path} is not valid YAML ({why or type(e).__name__}); start a new run") from None
    given = recipe_arg
    if Path(recipe_arg).suffix in (".yaml", ".yml"):
        given = recipe.name if Path(recipe_arg).resolve() == path.resolve() else load_recipe(recipe_arg).name
    if given != recipe.name:
        raise ConfigError(
            f"cannot resume {run} as {recipe_arg!r}: it is a run of recipe {recipe.name!r}; "
            f"use `rnnlab train {recipe.name} --resume {run}`"
        )
    return recipe
