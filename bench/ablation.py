"""Regularisation-kit ablation: a recipe with each kit option on its own, over seeds, at one budget.

Usage: python bench/ablation.py RECIPE [--seeds 0,1,2] [--budget MINUTES] [--workers 2] [--threads 1]
       [--only NAME,...] [--option NAME='ARGS'] [--extra='ARGS'] [--out DIR] [--table-only] [--dry-run]

Each (option, seed) is one `rnnlab train RECIPE` in its own process, into OUT/NAME_sSEED, seed-major (every
option's seed 0 first), `--workers` at a time with `--threads` torch threads each. A run whose results.json
exists is skipped, so a killed ablation resumes. Then a markdown table: the recipe's metric (charlm:
validation nats/char; classify: test accuracy) mean +- sd per option, its difference from the recipe row,
the seeds' values, training seconds and (charlm) characters trained; also OUT/table.md and OUT/rows.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Each option on its own against the recipe row (name -> extra command-line overrides).
CHARLM_KIT: dict[str, str] = {
    "recipe": "",
    "weight_drop": "--model.weight_drop 0.3",
    "locked_dropout": "--model.locked_dropout 0.25",
    "embed_dropout": "--model.embed_dropout 0.1",
    "ar_tar": "--train.ar 2 --train.tar 1",
    "zoneout": "--model.zoneout 0.1",
    "zoneout_hc": "--model.zoneout 0.05 --model.zoneout_c 0.5",  # Krueger et al.'s character-level rates
    "proj_size": "--model.proj_size 256",
    "forget_bias": "--model.forget_bias 1.0",
    "orthogonal": "--model.init orthogonal",
    "layers2": "--model.layers 2",
    "layers2_residual": "--model.layers 2 --model.residual true",
    "state_reset": "--train.state_reset 0.05",
}
CLASSIFY_KIT: dict[str, str] = {
    "recipe": "",
    "weight_drop": "--model.weight_drop 0.3",
    "orthogonal": "--model.init orthogonal",
    "forget_bias": "--model.forget_bias 1.0",
    "zoneout": "--model.zoneout 0.1",
    "layers2": "--model.layers 2",
    "layers2_locked": "--model.layers 2 --model.locked_dropout 0.3",
    "layers2_residual": "--model.layers 2 --model.residual true",
    "label_smoothing": "--train.label_smoothing 0.1",
}
KITS = {"charlm": CHARLM_KIT, "classify": CLASSIFY_KIT}


def run_dir(out: Path, name: str, seed: int) -> Path:
    """Where one (option, seed) run lives: OUT/NAME_sSEED."""
    return out / f"{name}_s{seed}"


def train_command(
    recipe: str, args: str, seed: int, budget: float | None, threads: int, out: Path
) -> list[str]:
    """The `rnnlab train` command line of one run."""
    exe = Path(sys.executable).parent / "rnnlab"
    cmd = [str(exe) if exe.exists() else (shutil.which("rnnlab") or "rnnlab"), "train", recipe]
    cmd += ["--train.seed", str(seed), "--train.threads", str(threads), "--out", str(out)]
    if budget is not None:
        cmd += ["--train.max_time", str(budget)]
    return cmd + shlex.split(args)


def metric(results: dict) -> tuple[str, float]:
    """(label, value) of one run's results.json: charlm validation nats/char, else test accuracy."""
    if "val" in results and "loss_nats" in results["val"]:
        return "validation nats/char", float(results["val"]["loss_nats"])
    if "test" in results and "accuracy" in results["test"]:
        return "test accuracy", float(results["test"]["accuracy"])
    raise ValueError(f"has neither val.loss_nats nor test.accuracy (keys {sorted(results)})")


def mean_sd(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


def collect(out: Path, options: dict[str, str], seeds: list[int]) -> list[dict]:
    """One row per option from the finished runs under OUT (missing or failed seeds are listed, not guessed).
    Character models also give the median validation stream's loss (blind to one stuck stream) and how many
    seeds had a stuck stream (rnnlab.tasks.charlm.generate.stream_report)."""
    rows = []
    for name, args in options.items():
        vals, secs, chars, medians, stuck, paths, missing = [], [], [], [], [], set(), []
        label = None
        for s in seeds:
            f = run_dir(out, name, s) / "results.json"
            if not f.exists():
                missing.append(s)
                continue
            r = json.loads(f.read_text())
            try:
                label, v = metric(r)
            except ValueError as e:
                raise ValueError(f"{f} {e}; this script tabulates charlm and classify runs") from None
            vals.append((s, v))
            secs.append(float(r.get("train_seconds", float("nan"))))
            if "chars_trained" in r:
                chars.append(float(r["chars_trained"]))
            if "median_stream_loss" in r.get("val", {}):
                medians.append(float(r["val"]["median_stream_loss"]))
                stuck.append(bool(r["val"]["stuck"]))
            paths.add(str(r.get("path", "?")))
        row = {"option": name, "args": args, "metric": label, "values": vals, "missing": missing}
        if vals:
            row["mean"], row["sd"] = mean_sd([v for _, v in vals])
            row["train_seconds"] = sum(secs) / len(secs)
            row["chars_trained"] = sum(chars) / len(chars) if chars else None
            row["median_stream"] = mean_sd(medians) if len(medians) == len(vals) else None
            row["stuck"] = sum(stuck) if len(stuck) == len(vals) else None
            row["path"] = "/".join(sorted(paths))
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    """The markdown table of collect()'s rows; the difference column is against the 'recipe' row."""
    label = next((r["metric"] for r in rows if r["metric"]), "metric")
    base = next((r for r in rows if r["option"] == "recipe" and r["values"]), None)

    def seeds(r: dict) -> str:
        text = " / ".join(f"{v:.4f}" for _, v in r["values"])
        return text + (f" (seeds {', '.join(map(str, r['missing']))} missing)" if r["missing"] else "")

    columns = [
        (f"{label}, mean +- sd", lambda r: f"{r['mean']:.4f} +- {r['sd']:.4f}"),
        ("vs recipe", lambda r: f"{r['mean'] - base['mean']:+.4f}" if base and r is not base else ""),
        ("seeds", seeds),
        ("train s", lambda r: f"{r['train_seconds']:.0f}"),
    ]
    if any(r.get("chars_trained") for r in rows):
        columns.append(
            ("chars trained", lambda r: f"{r['chars_trained'] / 1e6:.2f} M" if r["chars_trained"] else "")
        )
    if any(r.get("median_stream") for r in rows):
        columns.append(
            (
                "median stream, mean +- sd",
                lambda r: "{:.4f} +- {:.4f}".format(*r["median_stream"]) if r["median_stream"] else "",
            )
        )
        columns.append(
            ("seeds stuck", lambda r: "" if r["stuck"] is None else f"{r['stuck']} of {len(r['values'])}")
        )
    columns.append(("path", lambda r: r["path"]))
    lines = [
        "| option | overrides | " + " | ".join(h for h, _ in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for r in rows:
        cells = [cell(r) for _, cell in columns] if r["values"] else ["not run"] + [""] * (len(columns) - 1)
        lines.append(f"| {r['option']} | `{r['args'] or '(none)'}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("recipe")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument(
        "--budget", type=float, default=None, help="train.max_time in minutes (default: the recipe's)"
    )
    p.add_argument("--workers", type=int, default=1, help="runs at a time")
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads per run (default: cores / workers)"
    )
    p.add_argument("--only", default="", help="comma-separated option names (the recipe row is always kept)")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        help="extra option NAME='ARGS' (e.g. wd5='--model.weight_drop 0.5')",
    )
    p.add_argument(
        "--extra",
        default="",
        help="more `rnnlab train` arguments for every run, e.g. --extra='--train.precision auto' (with =)",
    )
    p.add_argument("--out", default=None, help="default runs/ablation/RECIPE")
    p.add_argument(
        "--table-only", action="store_true", help="only print the table of the runs already in OUT"
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    a = p.parse_args(argv)

    from rnnlab.config import load_recipe

    task = load_recipe(a.recipe).task
    if task not in KITS and not a.option:
        sys.exit(f"no kit list for task {task!r} (have {sorted(KITS)}); pass --option NAME='ARGS' rows")
    options = dict(KITS.get(task, {"recipe": ""}))
    added: dict[str, str] = {}
    for o in a.option:
        if "=" not in o:
            sys.exit(f"--option {o!r} needs NAME='ARGS', e.g. wd5='--model.weight_drop 0.5'")
        k, v = o.split("=", 1)
        added[k.strip()] = v.strip()
    if a.only:  # the recipe row and --option rows are always kept; --only may name either
        wanted = [o.strip() for o in a.only.split(",") if o.strip()]
        unknown = [o for o in wanted if o not in options and o not in added]
        if unknown:
            sys.exit(f"--only: unknown option(s) {unknown}; the {task} kit has {sorted(options)}")
        options = {k: v for k, v in options.items() if k == "recipe" or k in wanted}
    options.update(added)
    extra = f" {a.extra}" if a.extra else ""
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        sys.exit(f"--seeds {a.seeds!r} must be comma-separated integers, e.g. 0,1,2")
    out = Path(a.out or f"runs/ablation/{Path(a.recipe).stem}")
    threads = a.threads or max(1, (os.cpu_count() or 1) // max(1, a.workers))

    if not a.table_only:
        jobs = [(n, s) for s in seeds for n in options if not (run_dir(out, n, s) / "results.json").exists()]
        cmds = [
            train_command(a.recipe, f"{options[n]}{extra}", s, a.budget, threads, run_dir(out, n, s))
            for n, s in jobs
        ]
        if a.dry_run:
            print("\n".join(shlex.join(c) for c in cmds))
            return
        out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}

        def run(job_cmd: tuple[tuple[str, int], list[str]]) -> None:
            (n, s), cmd = job_cmd
            d = run_dir(out, n, s)
            shutil.rmtree(d, ignore_errors=True)  # a killed run's partial directory
            with open(f"{d}.log", "w") as log:
                rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
            print(f"{n} seed {s}: {'done' if rc == 0 else f'failed (rc {rc}, see {d}.log)'}", flush=True)

        with ThreadPoolExecutor(max_workers=max(1, a.workers)) as pool:
            list(pool.map(run, zip(jobs, cmds, strict=True)))

    try:
        rows = collect(out, options, seeds)
    except ValueError as e:
        sys.exit(str(e))
    text = table(rows)
    if out.exists():
        (out / "table.md").write_text(text + "\n")
        with (out / "rows.jsonl").open("w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print(text)


if __name__ == "__main__":
    main()
