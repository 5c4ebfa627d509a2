"""The pictures a finished run directory shows beside its numbers, drawn from the files training wrote:
forecast.png and error_by_horizon.png (forecast runs), panel.png (panel runs), attention_K.png (seq2seq runs). Training writes only
CSV/JSON; `rnnlab train` and `rnnlab inspect` call draw_run_figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnlab.errors import RunDirError
from rnnlab.inspect.attention_plots import plot_caption_attention, plot_text_attention
from rnnlab.inspect.figures import plt
from rnnlab.inspect.forecast_plots import error_by_horizon, forecast_examples
from rnnlab.inspect.panel_plot import panel_figure


def _json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError) as e:
        raise RunDirError(f"{path} is corrupt ({type(e).__name__}); retrain the run or restore the file") from None


def draw_run_figures(run: str | Path, only_missing: bool = False) -> list[Path]:
    """Draw every picture the run's files allow (PNG beside them); returns their paths. `only_missing`:
    leave the run alone when its pictures are all there already."""
    run = Path(run)
    if only_missing and not _missing(run):
        return []
    made: list[Path] = []
    examples = _json(run / "forecast_examples.json")
    if examples is not None and examples.get("windows"):
        made.append(_save(forecast_examples(examples), run / "forecast.png", plt))
        results = _json(run / "results.json") or {}
        by_h = {k: v["by_horizon"]["mae"] for k, v in results.get("test", {}).items() if "by_horizon" in v}
        if by_h:
            made.append(_save(error_by_horizon(by_h, examples["target"]), run / "error_by_horizon.png", plt))
    panel = _json(run / "panel_examples.json")
    if panel:
        target = (_json(run / "data.json") or {}).get("target", "value")
        made.append(_save(panel_figure(panel, target), run / "panel.png", plt))
    attention = _json(run / "attention.json")
    if attention is not None:
        for k, m in enumerate(attention.get("maps", [])):
            path = run / f"attention_{k}.png"
            attn = np.asarray(m["attn"], dtype=np.float64).reshape(m["attn_shape"])
            if m["kind"] == "caption":
                made.append(plot_caption_attention(np.asarray(m["image"]), m["words"], attn, path))
            else:
                made.append(plot_text_attention(m["source"], m["output"], attn, path))
    return made


def _save(fig, path: Path, plt) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _missing(run: Path) -> bool:
    """Whether a picture the run's files call for is not drawn yet."""
    if (run / "forecast_examples.json").is_file() and not (run / "forecast.png").is_file():
        return True
    if (run / "panel_examples.json").is_file() and not (run / "panel.png").is_file():
        return True
    maps = (_json(run / "attention.json") or {}).get("maps", []) if (run / "attention.json").is_file() else []
    return any(not (run / f"attention_{k}.png").is_file() for k in range(len(maps)))
