"""report.html: one self-contained page per run directory (images embedded), read instead of a log.

Sections by the run's task kind (its config.yaml's `task:`). Every run: results and training curves (the
panels its Task names). Classifiers: confusion matrix, per-class
metrics, calibration, lowest-confidence and most confidently wrong test sequences drawn as signals, unit x
time activations, gradient norm through time. Character models: samples, units that track properties of
the text drawn as coloured text, gradient norm through time.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import logging
from pathlib import Path

import numpy as np
import torch

from rnnlab.config import recipe_from_dict
from rnnlab.data.datamodule import Scaler
from rnnlab.data.text import Vocab
from rnnlab.errors import RunDirError
from rnnlab.inspect import figures
from rnnlab.inspect.classify import diagnose, examples
from rnnlab.inspect.gradflow import plot_gradient_profile, probe_gradients
from rnnlab.inspect.neurons import (
    char_activations,
    colored_text,
    correlate_units,
    sensor_trace,
    text_properties,
)
from rnnlab.inspect.run_figures import draw_run_figures
from rnnlab.tasks import get
from rnnlab.tasks.charlm.data import load_corpus
from rnnlab.tasks.classify.evaluate import default_test_set, predict_probs
from rnnlab.tasks.registry import of_run
from rnnlab.train.rundir import RunFiles, check_writable, is_disk_full, open_run, write_atomic

log = logging.getLogger(__name__)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}img{max-width:100%}
.note{color:#555;font-size:.9em}.chars{font-family:ui-monospace,Menlo,monospace;font-size:13px;line-height:1.5;
border:1px solid #ddd;padding:.5em;max-height:22em;overflow:auto}pre{background:#f7f7f7;padding:.6em;overflow:auto}
"""
# After load, the page checks its own images and records the result where tests (and people) can read it.
CHECK = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
  document.getElementById('imgcheck').textContent = ok + ' of ' + imgs.length + ' figures rendered';
});
"""


def _read_json(run: Path, name: str) -> dict:
    p = run / name
    if not p.is_file():
        raise RunDirError(f"run directory {run} has no {name}; training did not finish - retrain the run")
    try:
        return json.loads(p.read_text())
    except (ValueError, OSError) as e:
        raise RunDirError(
            f"{p} is corrupt ({type(e).__name__}); retrain the run or restore the file"
        ) from None


def _read_metrics(run: Path) -> list[dict[str, str]]:
    p = run / "metrics.csv"
    if not p.is_file():
        raise RunDirError(
            f"run directory {run} has no metrics.csv; training did not finish - retrain the run"
        )
    try:
        with p.open(newline="") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            int(r["epoch"])
    except (KeyError, ValueError, TypeError, csv.Error) as e:
        raise RunDirError(
            f"{p} is corrupt ({type(e).__name__}: {e}); retrain the run or restore the file"
        ) from None
    return rows


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _summary(results: dict) -> str:
    rows = []
    for key, v in results.items():
        if isinstance(v, dict) and key in ("test", "val", "best_val"):
            rows += [[f"{key}.{k}", _fmt(x)] for k, x in v.items() if not isinstance(x, (dict, list))]
        elif not isinstance(v, (dict, list)):
            rows.append([key, _fmt(v)])
    return _table(["result", "value"], rows)


def _png_file(path: Path, alt: str) -> str:
    if not path.is_file():
        return f"<p>{html.escape(path.name)} is missing.</p>"
    return _img("data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii"), alt)


def _seq2seq_sections(files) -> str:
    """Greedy vs beam on the test set (and the copy baseline for text), attention evidence, the attention maps."""
    res = _read_json(files.path, "results.json")
    test = res.get("test", {})
    keys = [k for k in ("exact_match", "token_accuracy", "chrf", "bleu") if k in test.get("beam", {})]
    rows = [[name, *(_fmt(test.get(name, {}).get(k)) for k in keys)] for name in ("greedy", "beam")]
    for name, b in res.get("baselines", {}).items():
        rows.append([f"baseline: {name}", *(_fmt(b.get(k)) for k in keys)])
    parts = ["<h2>Decoding the test set</h2>", _table(["search", *keys], rows)]
    cmp_ = test.get("beam_vs_greedy", {})
    if cmp_:
        parts.append(
            f'<p class="note">Beam {cmp_.get("beam")} vs greedy under the {html.escape(str(cmp_.get("length_norm")))} '
            f"score: beam better on {cmp_.get('beam_better_than_greedy')} examples, worse on "
            f"{cmp_.get('beam_worse_than_greedy')}.</p>"
        )
    by = test.get("exact_match_by_digits")
    if by:
        parts.append(_table(["digits in the strip", "exact match"], [[k, _fmt(v)] for k, v in by.items()]))
    att = res.get("attention", {})
    if att.get("own_digit_mass") is not None:
        parts.append(
            f'<p class="note">Each correctly written word puts {att["own_digit_mass"]:.3f} of its attention (mean over '
            f"{att['words']} words) on the columns of its own digit; {att['share_above_half']:.3f} of words put "
            "more than half there.</p>"
        )
    maps = res.get("attention_maps", [])
    if maps:
        parts.append(
            '<h2>Attention maps</h2><p class="note">Rows: output tokens; columns: source positions '
            "(image columns for captions, characters for text). Bright = read.</p>"
        )
        parts += [_png_file(files.path / m, f"attention map {m}") for m in maps]
    return "".join(parts)


def _forecast_sections(files) -> str:
    """Test errors of the model and every baseline, interval coverage, direction, the forecast pictures, and
    the gradient norm through the lookback window."""
    res = _read_json(files.path, "results.json")
    test = res.get("test", {})
    direction = res.get("directional_accuracy", {})
    rows = []
    for name, m in test.items():
        d = direction.get(name)
        da = f"{d['accuracy']:.3f} [{d['ci95'][0]:.3f}, {d['ci95'][1]:.3f}]" if d and d.get("n") else "-"
        rows.append([name, *(_fmt(m.get(k)) for k in ("mae", "rmse", "smape", "mase")), da])
    cov = res.get("interval_coverage", {}).get("0.8")
    parts = [
        "<h2>Forecast errors on the test windows</h2>",
        f'<p class="note">{res.get("n_windows", "?")} test windows; every baseline forecasts the same windows. '
        "MASE divides MAE by the seasonal-naive error on the training part; direction is the share of first "
        "steps that move the same way as the truth (95% Wilson interval).</p>",
        _table(["forecaster", "MAE", "RMSE", "sMAPE %", "MASE", "direction"], rows),
        f"<p>80% interval ({html.escape(str(res.get('interval_method', '')))}) covers "
        f"<b>{_fmt(cov)}</b> of test points.</p>",
        "<h2>Forecasts against the truth</h2>",
        _png_file(files.path / "forecast.png", "forecast examples"),
        _png_file(files.path / "error_by_horizon.png", "error by horizon"),
    ]
    rnn = getattr(files.model, "rnn", None)
    if rnn is not None:
        dm = get("forecast").datamodule(recipe_from_dict(files.recipe))
        w = dm.parts["test"]
        x, xf, y = (torch.as_tensor(a[:64]) for a in (w.x, w.xf, w.y))
        files.model.eval()
        parts.append(_gradient_section(rnn, lambda: files.model(x, xf, y)[1], f"{len(y)} test windows"))
    return "".join(parts)


def _gradient_section(rnn, compute_loss, what: str) -> str:
    norms = probe_gradients(rnn, compute_loss)
    d = rnn.num_directions
    labels = [
        f"layer {k + 1}" + (" reverse" if i % d else "") for k in range(rnn.num_layers) for i in range(d)
    ]
    ratio = [float(n[0] / max(n[-1], 1e-30)) for n in norms]
    rows = [
        [lab, f"{n[-1]:.3e}", f"{n[0]:.3e}", f"{r:.3e}"]
        for lab, n, r in zip(labels, norms, ratio, strict=True)
    ]
    return (
        "<h2>Gradient norm through time</h2>"
        f'<p class="note">||dLoss/dh<sub>t</sub>|| for every step t, averaged over {what}, measured on the trained '
        "weights through the reference path. Where it falls steeply towards t=1, early inputs barely move the "
        "weights: the vanishing gradient.</p>"
        + _img(figures.to_data_uri(plot_gradient_profile(norms, labels)), "gradient norm through time")
        + _table(["layer", "||g|| at last step", "||g|| at first step", "first / last"], rows)
    )


def _classifier_sections(files: RunFiles) -> str:
    classes = files.data["classes"]
    test = default_test_set(files)
    probs = predict_probs(files, test)
    d = diagnose(probs, test.y, classes)
    rep = d.report
    conf = np.asarray(rep["confusion"])
    parts = [
        "<h2>Test set: confusion and per-class metrics</h2>",
        f"<p>accuracy {rep['accuracy']:.4f}, macro-F1 {rep['macro_f1']:.4f} on {len(test)} test sequences.</p>",
        _img(figures.to_data_uri(figures.confusion(conf, classes, False)), "confusion counts"),
        _img(figures.to_data_uri(figures.confusion(conf, classes, True)), "confusion normalised"),
        _table(
            ["class", "precision", "recall", "F1", "support"],
            [[c, m["precision"], m["recall"], m["f1"], m["support"]] for c, m in rep["per_class"].items()],
        ),
        "<h2>Calibration</h2>",
        '<p class="note">When the model says 0.9, is it right 90% of the time? Bars below the diagonal are '
        "over-confidence.</p>",
        _img(
            figures.to_data_uri(
                figures.reliability(probs.max(1), (probs.argmax(1) == test.y).astype(float), 10, d.ece)
            ),
            "reliability diagram",
        ),
        "<h2>Lowest-confidence test sequences</h2>",
        _img(
            figures.to_data_uri(figures.signals(examples(test, d, d.low_confidence, classes), test.features)),
            "low",
        ),
        "<h2>Most confidently wrong test sequences</h2>",
    ]
    wrong = examples(test, d, d.confident_wrong, classes)
    parts.append(
        _img(figures.to_data_uri(figures.signals(wrong, test.features)), "confidently wrong")
        if wrong
        else "<p>No wrong predictions.</p>"
    )
    model = files.model
    scaled = Scaler.from_dict(files.data["scaler"]).transform(test) if files.data.get("scaler") else test
    if hasattr(model, "rnn"):
        parts.append("<h2>Hidden units over time</h2>")
        parts.append(
            '<p class="note">Top-layer hidden state h<sub>t</sub> (units x time) for one correctly classified test '
            "sequence per class, with the input it read (after the run's scaling).</p>"
        )
        pred = probs.argmax(1)
        for ci, cname in enumerate(classes):
            idx = np.flatnonzero((test.y == ci) & (pred == ci))
            if not len(idx):
                continue
            i = int(idx[0])
            n = int(test.lengths[i])
            tr = sensor_trace(model, scaled.x[i : i + 1, :n], np.array([n]))
            top = tr.layer(model.rnn.num_layers - 1, 0, model.rnn.num_directions)["h"][0].numpy()
            title = f"{cname} ({test.ids[i] if test.ids else i}): top layer h, {top.shape[1]} units"
            fig = figures.heatmap(top, scaled.x[i, :n], title, test.features)
            parts.append(_img(figures.to_data_uri(fig), f"activations {cname}"))
        batch = min(64, len(test))
        x = torch.as_tensor(scaled.x[:batch])
        lengths = torch.as_tensor(scaled.lengths[:batch])
        y = torch.as_tensor(test.y[:batch])
        parts.append(_gradient_section(model.rnn, lambda: model(x, lengths, y)[1], f"{batch} test sequences"))
    return "".join(parts)


def _lm_sections(files: RunFiles) -> str:
    run = files.path
    vocab = Vocab.from_dict(files.data["vocab"])
    parts = []
    samples = run / "samples.txt"
    if samples.is_file():
        parts.append(
            "<h2>Samples at several temperatures</h2><pre>" + html.escape(samples.read_text()) + "</pre>"
        )
    text = _probe_text(files, vocab)
    model = files.model
    # states only: a gate that copies the current character (e.g. "is a space") is true but says little
    ids = vocab.encode(text)
    acts = {k: v for k, v in char_activations(model, ids).items() if k in ("h", "c")}
    found = correlate_units(acts, text_properties(text))
    parts.append("<h2>Units that track the text</h2>")
    parts.append(
        f'<p class="note">Each property of the {len(text):,} characters below is correlated with every unit of the '
        "top layer's state (hidden h, and for an LSTM the cell c); the best unit per property is "
        "listed, and the strongest are drawn as the text coloured by the unit (red positive, blue negative).</p>"
    )
    parts.append(
        _table(
            ["property", "unit", "correlation"],
            [[f["property"], f"{f['tensor']}[{f['unit']}]", f"{f['r']:+.3f}"] for f in found],
        )
    )
    shown = text[:1500]
    for f in found[:3]:
        vals = acts[f["tensor"]][: len(shown), f["unit"]]
        parts.append(f"<h3>{f['tensor']}[{f['unit']}]: {html.escape(f['property'])} (r = {f['r']:+.3f})</h3>")
        parts.append(colored_text(shown, vals))
    chunks = torch.as_tensor(ids[: 16 * 129]).view(16, 129)
    parts.append(
        _gradient_section(
            model.rnn,
            lambda: model(chunks[:, :-1], None, chunks[:, 1:]).loss,
            "16 chunks of 128 validation characters",
        )
    )
    return "".join(parts)


def _probe_text(files: RunFiles, vocab, n: int = 6000) -> str:
    """A stretch of the run's validation text (or, if the data cannot be reloaded, its samples)."""
    try:
        corpus = load_corpus(recipe_from_dict(files.recipe))
        return vocab.decode(corpus.val[:n])
    except Exception as e:  # the report still renders from what the run directory holds
        log.warning("could not reload the run's text (%s); using its samples instead", e)
        return (files.path / "samples.txt").read_text()[:n]


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write RUN_DIR/report.html (or `out`) and return its path; raises RunDirError naming a bad file.

    Where the report cannot be written (a read-only run directory, a full disk) the error comes before the
    plots are computed and suggests --out."""
    files = open_run(run_dir)
    run = files.path
    path = Path(out) if out else run / "report.html"
    fix = (
        f"write the report elsewhere with `rnnlab inspect {run} --out DIR/report.html`"
        if out is None
        else "choose a writable --out"
    )
    check_writable(path.parent, what="run directory" if out is None else "the directory of --out", fix=fix)
    results = _read_json(run, "results.json")
    rows = _read_metrics(run)
    task = of_run(files)
    draw_run_figures(run, only_missing=True)  # runs trained from Python have their pictures drawn here
    panels = [(title, list(columns)) for title, columns in task.curves]
    body = [
        f"<h1>rnnlab report: {html.escape(run.name)}</h1>",
        f'<p class="note">{html.escape(files.model.__class__.__name__)} with {results.get("params", "?")} parameters; '
        f'data {html.escape(str(files.data.get("name", "?")))}. <span id="imgcheck"></span></p>',
        "<h2>Results</h2>",
        _summary(results),
        "<h2>Training curves</h2>",
        _img(figures.to_data_uri(figures.curves(rows, panels)), "training curves")
        if rows
        else "<p>No epochs.</p>",
    ]
    sections = SECTIONS.get(task.name)
    if sections is not None:  # a task kind of the user's own gets the results and curves above
        body.append(sections(files))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>rnnlab report</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}<script>{CHECK}</script></body></html>"
    )
    try:
        write_atomic(path, page)
    except OSError as e:  # the directory changed since the check (or filled up): still one line
        why = "no space left on device" if is_disk_full(e) else (e.strerror or type(e).__name__)
        raise RunDirError(f"cannot write report {path} ({why}); {fix}") from None
    return path


SECTIONS = {  # task kind -> its sections after the results and the training curves
    "classify": _classifier_sections,
    "charlm": _lm_sections,
    "forecast": _forecast_sections,
    "seq2seq": _seq2seq_sections,
}
