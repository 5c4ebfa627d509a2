"""Gradient flow through time: how much of the loss signal at the end of a sequence reaches its first steps.

`probe_gradients` measures ||dLoss/dh_t|| for every step t of any model built on a `Recurrent`;
`run_gradient_demo` shows the vanishing-gradient picture on the adding problem (Hochreiter & Schmidhuber
1997): a tanh RNN's gradient dies out within a few dozen steps, an LSTM's or GRU's reaches back much further.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from rnnlab.inspect.neurons import capture_trace
from rnnlab.nn.recurrent import Recurrent

log = logging.getLogger(__name__)

TOLERANCE = 0.04  # a prediction counts as correct when |prediction - target| < TOLERANCE (H&S 1997)
CELLS = ("rnn", "gru", "lstm")
_ROW_KEYS = ("cell", "T", "ratio_init", "ratio_trained", "accuracy", "mse", "train_seconds")


def probe_gradients(rnn: Recurrent, compute_loss: Callable[[], Tensor]) -> list[np.ndarray]:
    """Batch-mean L2 norm of dLoss/dh_t, shape (T,), per (layer, direction) in index order k*D+d.

    While `compute_loss()` runs, `rnn`'s forward is the probed reference loop (`Recurrent.trace`), so the
    model around it needs no change; the gradient is taken with `torch.autograd.grad` on the probes only,
    so no parameter's `.grad` is written (nothing leaks into training). Eval/train mode is the caller's.
    Steps past a sequence's end get zero gradient and count as zeros in the batch mean.
    """
    with capture_trace(rnn, probe=True) as traces, torch.enable_grad():
        loss = compute_loss()
    if len(traces) != 1:
        raise ValueError(
            f"compute_loss must run the probed Recurrent exactly once, it ran {len(traces)} times"
        )
    if not isinstance(loss, Tensor) or loss.numel() != 1 or not loss.requires_grad:
        raise ValueError("compute_loss must return a scalar loss tensor that depends on the model")
    trace = traces[0]
    flat = [p for ps in trace.probes for p in ps]
    grads = torch.autograd.grad(loss.reshape(()), flat, allow_unused=True)
    return [g.norm(dim=-1).mean(0).double().numpy() for g in trace.hidden_grads(list(grads))]


def adding_problem(n: int, T: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """The adding problem: x (n, T, 2) of [value in U[0,1), marker], y (n,) = sum of the two marked values.

    Variant of Le, Jaitly & Hinton (2015) and Arjovsky et al. (2016): one marker uniformly in the first half
    (t < T//2), one uniformly in the second half. Predicting the mean, 1.0, gives MSE 1/6 ~ 0.167 and
    accuracy (|error| < 0.04) 2*0.04 - 0.04^2 ~ 7.8%.
    """
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2 to mark two positions, got T={T}")
    values = torch.rand(n, T, generator=generator)
    first = torch.randint(0, T // 2, (n,), generator=generator)
    second = torch.randint(T // 2, T, (n,), generator=generator)
    rows = torch.arange(n)
    marks = torch.zeros(n, T)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return torch.stack([values, marks], dim=-1), y


class AddingRegressor(nn.Module):
    """A one-layer Recurrent and a Linear read-out of the last step's hidden state: x (B, T, 2) -> (B,)."""

    def __init__(self, cell: str, hidden: int) -> None:
        super().__init__()
        self.rnn = Recurrent(cell, 2, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


def _profile(model: AddingRegressor, x: Tensor, y: Tensor) -> np.ndarray:
    """dLoss/dh_t norms (T,) in float64 on a copy in eval mode: a tanh RNN's profile underflows float32."""
    m = copy.deepcopy(model).double().eval()
    xd, yd = x.double(), y.double()
    return probe_gradients(m.rnn, lambda: nn.functional.mse_loss(m(xd), yd))[0]


def _ratio(profile: np.ndarray) -> float:
    """Norm at the first step over norm at the last: the share of the end's loss signal reaching t=1."""
    return float(profile[0] / profile[-1]) if profile[-1] > 0 else float("nan")


@torch.no_grad()
def _evaluate(model: AddingRegressor, x: Tensor, y: Tensor, batch: int = 500) -> tuple[float, float]:
    """(accuracy at TOLERANCE, MSE) on a test set."""
    model.eval()
    pred = torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])
    model.train()
    err = pred - y
    return float((err.abs() < TOLERANCE).float().mean()), float((err**2).mean())


def _train_one(
    cell: str, T: int, hidden: int, steps: int, batch: int, lr: float, seed: int, test: tuple[Tensor, Tensor]
) -> dict[str, Any]:
    """Train one regressor on fresh adding-problem batches; profile before and after; test at the end."""
    torch.manual_seed(seed)
    model = AddingRegressor(cell, hidden)
    x_test, y_test = test
    x_probe, y_probe = x_test[:128], y_test[:128]
    before = _profile(model, x_probe, y_probe)
    gen = torch.Generator().manual_seed(seed * 7919 + T)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    curve: list[float] = []
    running, t0 = 0.0, time.perf_counter()
    for step in range(1, steps + 1):
        x, y = adding_problem(batch, T, gen)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        if step % 50 == 0 or step == steps:
            curve.append(running / (50 if step % 50 == 0 else step % 50))
            running = 0.0
    seconds = time.perf_counter() - t0
    after = _profile(model, x_probe, y_probe)
    acc, mse = _evaluate(model, x_test, y_test)
    log.info(
        "%s T=%d: accuracy %.3f, MSE %.4f, ratio %.2e -> %.2e, %.1f s",
        cell,
        T,
        acc,
        mse,
        _ratio(before),
        _ratio(after),
        seconds,
    )
    return {
        "cell": cell,
        "T": T,
        "ratio_init": _ratio(before),
        "ratio_trained": _ratio(after),
        "accuracy": acc,
        "mse": mse,
        "train_seconds": seconds,
        "train_loss_every_50": curve,
        "profile_init": before.tolist(),
        "profile_trained": after.tolist(),
    }


def plot_gradient_profile(
    norms: Sequence[np.ndarray], labels: Sequence[str] | None = None, title: str | None = None
) -> Figure:
    """One log-scale line per (layer, direction): ||dLoss/dh_t|| vs t, e.g. from `probe_gradients`."""
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")  # no pyplot: no backend or global state
    ax = fig.add_subplot()
    labels = list(labels) if labels is not None else [f"layer {k}" for k in range(len(norms))]
    for n, label in zip(norms, labels, strict=True):
        n = np.asarray(n, dtype=float)
        ax.plot(np.arange(1, len(n) + 1), np.where(n > 0, n, np.nan), label=label)
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("mean ||dLoss/dh_t||")
    ax.set_title(title or "gradient reaching each step")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def _demo_figure(results: list[dict[str, Any]], lengths: Sequence[int], cells: Sequence[str]) -> Figure:
    """One panel per T (relative gradient norm vs distance from the end) and a bar chart of accuracy."""
    n = len(lengths) + 1
    fig = Figure(figsize=(4.2 * n, 3.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    colors = {c: f"C{i}" for i, c in enumerate(cells)}
    by_key = {(r["cell"], r["T"]): r for r in results}
    for ax, T in zip(axes, lengths, strict=False):
        for c in cells:
            r = by_key[(c, T)]
            for key, style, alpha, when in (
                ("profile_init", "--", 0.5, "init"),
                ("profile_trained", "-", 1.0, "trained"),
            ):
                p = np.asarray(r[key], dtype=float)
                rel = p / p[-1] if p[-1] > 0 else np.full_like(p, np.nan)
                dist = T - np.arange(1, T + 1)  # T - t for t = 1..T
                ax.plot(
                    dist,
                    np.where(rel > 0, rel, np.nan),
                    style,
                    color=colors[c],
                    alpha=alpha,
                    label=f"{c} {when}",
                )
        ax.set_yscale("log")
        ax.set_title(f"T = {T}")
        ax.set_xlabel("distance from the end, T - t")
        ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="x-small", ncols=2)
    ax = axes[-1]
    width = 0.8 / len(cells)
    for i, c in enumerate(cells):
        accs = [by_key[(c, T)]["accuracy"] for T in lengths]
        ax.bar(
            np.arange(len(lengths)) + (i - (len(cells) - 1) / 2) * width,
            accs,
            width,
            color=colors[c],
            label=c,
        )
    ax.axhline(2 * TOLERANCE - TOLERANCE**2, color="k", ls=":", lw=1, label="predict 1.0")
    ax.set_xticks(np.arange(len(lengths)), [f"T={T}" for T in lengths])
    ax.set_ylim(0, 1.2)
    ax.set_ylabel(f"test accuracy (|error| < {TOLERANCE})")
    ax.set_title("adding problem after training")
    ax.legend(fontsize="x-small", ncols=4, loc="upper center")
    return fig


def run_gradient_demo(
    out_dir: Path,
    lengths: Sequence[int] = (100, 200, 400),
    cells: Sequence[str] = CELLS,
    hidden: int = 32,
    steps: int = 1200,
    batch: int = 128,
    lr: float = 1e-2,
    n_test: int = 1000,
    seed: int = 0,
    num_threads: int | None = None,
) -> dict[str, Any]:
    """Train each cell on the adding problem at each length; write gradient_demo.json and gradient_demo.png.

    Per (cell, T) the result holds the dLoss/dh_t profile at initialisation and after training (float64, on
    128 held-out sequences), ratio = norm at t=1 / norm at t=T for both, test accuracy and MSE, train seconds.
    """
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = []
    for T in lengths:
        test = adding_problem(n_test, T, torch.Generator().manual_seed(10_000 + seed))
        for c in cells:
            results.append(_train_one(c, T, hidden, steps, batch, lr, seed, test))
    report = {
        "config": dict(
            lengths=list(lengths),
            cells=list(cells),
            hidden=hidden,
            steps=steps,
            batch=batch,
            lr=lr,
            n_test=n_test,
            seed=seed,
            tolerance=TOLERANCE,
            threads=torch.get_num_threads(),
        ),
        "baseline": {"accuracy_predict_1": 2 * TOLERANCE - TOLERANCE**2, "mse_predict_1": 1 / 6},
        "rows": [{k: v for k, v in r.items() if k in _ROW_KEYS} for r in results],  # the table, no profiles
        "results": results,
        "total_seconds": time.perf_counter() - t0,
    }
    (out_dir / "gradient_demo.json").write_text(json.dumps(report, indent=1, allow_nan=True))
    _demo_figure(results, lengths, cells).savefig(out_dir / "gradient_demo.png", dpi=110)
    log.info("gradient demo written to %s in %.0f s", out_dir, report["total_seconds"])
    return report
