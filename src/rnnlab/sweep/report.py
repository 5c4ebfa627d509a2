"""SWEEP_DIR/report.html: one self-contained page (figures embedded) with the trials, the best value over
trials and parameter importance."""

from __future__ import annotations

import html
import math
from pathlib import Path

import optuna
from matplotlib.ticker import MaxNLocator
from optuna.trial import TrialState

from rnnlab.inspect import figures
from rnnlab.inspect.figures import plt
from rnnlab.inspect.report import CSS
from rnnlab.train.rundir import write_atomic


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def best_so_far(study: optuna.Study) -> tuple[list[int], list[float], list[float]]:
    """Trial numbers and values of the completed trials, and the best value up to each of them."""
    minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
    xs, ys, best = [], [], []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.value is None or not math.isfinite(t.value):
            continue
        xs.append(t.number)
        ys.append(t.value)
        prev = best[-1] if best else t.value
        best.append(min(prev, t.value) if minimize else max(prev, t.value))
    return xs, ys, best


def history_figure(study: optuna.Study, monitor: str):
    xs, ys, best = best_so_far(study)
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.scatter(xs, ys, s=18, color="#999", label=f"{monitor} of a trial")
    ax.step(xs, best, where="post", color="#c03", label="best so far")
    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    pv = [
        (t.number, t.intermediate_values[max(t.intermediate_values)]) for t in pruned if t.intermediate_values
    ]
    if pv:
        ax.scatter(*zip(*pv, strict=True), s=18, marker="x", color="#36c", label="pruned (last value)")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(monitor)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def importance(study: optuna.Study) -> tuple[dict[str, float], str]:
    """Parameter importances (PED-ANOVA: optuna's own, no scikit-learn needed) and a note; empty with the reason when they cannot be computed
    (fewer than 2 completed trials, or no parameter that took two values)."""
    complete = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None
    ]
    if len(complete) < 2:
        return {}, f"Parameter importance needs at least 2 completed trials; this sweep has {len(complete)}."
    varied = {k for k in complete[0].params if len({repr(t.params.get(k)) for t in complete}) > 1}
    if not varied:
        return {}, "Parameter importance needs a parameter that took two values over the completed trials."
    try:
        imp = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(), params=sorted(varied)
        )
    except (ValueError, RuntimeError, ImportError) as e:
        return {}, f"Parameter importance could not be computed: {e}"
    fixed = sorted(set(complete[0].params) - varied)
    note = f"PED-ANOVA over {len(complete)} completed trials (optuna.importance); few trials, rough numbers."
    if fixed:
        note += f" Left out, one value in every completed trial: {', '.join(fixed)}."
    return dict(imp), note


def importance_figure(imp: dict[str, float]):
    keys = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.4 * len(keys) + 1.2))
    ax.barh(keys, [imp[k] for k in keys], color="#4a7")
    ax.set_xlabel("importance")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def write_report(path: Path, study: optuna.Study, monitor: str, best) -> Path:
    from rnnlab.sweep.study import trial_rows

    header, rows = trial_rows(study)
    states = {s.name: len(study.get_trials(deepcopy=False, states=(s,))) for s in TrialState}
    counts = ", ".join(f"{n} {s.lower()}" for s, n in states.items() if n)
    goal = "lower" if study.direction == optuna.study.StudyDirection.MINIMIZE else "higher"
    body = [
        f"<h1>rnnlab sweep: {html.escape(path.parent.name)}</h1>",
        f'<p class="note">{len(rows)} trials ({counts}); {html.escape(monitor)} on the validation split, '
        f"{goal} is better.</p>",
    ]
    if best is not None:
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items())
        body.append(
            f"<p>Best: trial {best.number}, {html.escape(monitor)} = {best.value:.6g} ({html.escape(shown)}); "
            "its recipe is best.yaml (<code>rnnlab train best.yaml</code>).</p>"
        )
    else:
        body.append("<p>No trial has completed yet.</p>")
    body.append("<h2>Best value over trials</h2>")
    if best is not None:
        body.append(
            f'<img src="{figures.to_data_uri(history_figure(study, monitor))}" alt="best value over trials">'
        )
    else:
        body.append('<p class="note">No completed trial to plot.</p>')
    body.append("<h2>Parameter importance</h2>")
    imp, note = importance(study)
    if imp:
        body.append(f'<img src="{figures.to_data_uri(importance_figure(imp))}" alt="parameter importance">')
        body.append(_table(["parameter", "importance"], [[k, v] for k, v in imp.items()]))
    body.append(f'<p class="note">{html.escape(note)}</p>')
    body.append("<h2>Trials</h2>")
    body.append(_table(header, rows))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>rnnlab sweep</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    write_atomic(path, page)
    return path
