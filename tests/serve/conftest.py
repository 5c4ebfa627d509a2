"""Small runs written the way `rnnlab train` writes them (config.yaml, data.json, model.json + safetensors,
results.json), from random-init models: one per served kind, made in well under a second each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from rnnlab.config import DataConfig, ModelConfig, Recipe
from rnnlab.data.captions import VOCAB
from rnnlab.data.har import CLASSES, FEATURES
from rnnlab.data.pairs import CharVocab
from rnnlab.data.text import Vocab
from rnnlab.data.tokens import TokenVocab
from rnnlab.models import build_model
from rnnlab.serve import make_app
from rnnlab.train.rundir import save_model, write_json, write_yaml

WINDOW = 24  # the classifiers' training sequence length (HAR's 128 cut short to keep the tests quick)


def write_run(
    path: Path,
    task: str,
    model: torch.nn.Module,
    data: dict,
    results: dict | None = None,
    model_cfg: dict | None = None,
) -> Path:
    """A run directory as training leaves it."""
    path.mkdir(parents=True, exist_ok=True)
    recipe = Recipe(
        name=path.name, task=task, data=DataConfig(name="user"), model=ModelConfig(**(model_cfg or {}))
    )
    write_yaml(path / "config.yaml", recipe.to_dict())
    write_json(path / "data.json", data)
    save_model(path, model)
    write_json(path / "results.json", results or {})
    return path


def classifier_run(path: Path, har, **model_args) -> Path:
    """A SequenceClassifier over HAR's 9 features and 6 classes with the scaler of real HAR windows."""
    torch.manual_seed(0)
    model = build_model("SequenceClassifier", n_features=9, n_classes=6, hidden=16, layers=1, **model_args)
    x = har.x[:, :WINDOW].reshape(-1, 9)
    data = {
        "name": "har",
        "classes": list(CLASSES),
        "features": list(FEATURES),
        "scaler": {"mean": x.mean(0).tolist(), "std": x.std(0).tolist()},
        "sizes": {"train": 80, "val": 20, "test": 18},
        "max_len": WINDOW,
    }
    return write_run(path, "classify", model, data)


def forecast_run_dir(path: Path) -> Path:
    """A Forecaster run on an hourly CSV (target y, measured-ahead temp, calendar features), its data.json
    written by the real ForecastDataModule; the CSV is kept beside it as series.csv."""
    import pandas as pd

    from rnnlab.data.forecastdata import ForecastDataModule, select_columns
    from rnnlab.tasks.forecast.data import load_recipe_series

    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    n = 120
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-03-01", periods=n, freq="h").astype(str),
            "y": 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, n),
            "temp": 5 + 2 * np.cos(2 * np.pi * t / 24) + rng.normal(0, 0.2, n),
        }
    )
    frame.to_csv(path / "series.csv", index=False)
    cfg = DataConfig(
        name="series",
        path=str(path / "series.csv"),
        target="y",
        time_col="time",
        future=["temp"],
        lookback=6,
        horizon=4,
    )
    series = select_columns(load_recipe_series(cfg), "y", None, ["temp"])
    dm = ForecastDataModule(series, "y", lookback=6, horizon=4, future=series.future, name="series")
    torch.manual_seed(2)
    model = build_model(
        "Forecaster",
        n_features=dm.n_features,
        horizon=4,
        n_future=len(dm.future),
        hidden=8,
        layers=1,
        dropout=0.2,
    )
    recipe = Recipe(name="fc", task="forecast", data=cfg, model=ModelConfig(kind="Forecaster", mc_samples=4))
    write_yaml(path / "config.yaml", recipe.to_dict())
    write_json(path / "data.json", dm.describe())
    save_model(path, model)
    write_json(path / "results.json", {"interval_noise_sd": [0.5, 0.6, 0.7, 0.8]})
    return path


@pytest.fixture(scope="session")
def runs(tmp_path_factory, har_small) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("serve-runs")
    out = {
        "recurrent": classifier_run(root / "gru", har_small, cell="gru", readout="mean"),
        "window": classifier_run(root / "cnn-bilstm", har_small, bidirectional=True, conv_channels=8),
    }
    torch.manual_seed(1)
    vocab = Vocab(tuple("\n abcdefghijklmnopqrstuvwxyz.,"), " ")
    out["charlm"] = write_run(
        root / "lm",
        "charlm",
        build_model("CharLM", vocab_size=len(vocab), hidden=16, layers=1, dropout=0.0),
        {"name": "text", "vocab": vocab.to_dict()},
    )
    out["forecast"] = forecast_run_dir(root / "fc")
    pairs = CharVocab.from_pairs([("thou art", "you are"), ("hath", "has")])
    torch.manual_seed(3)
    out["translate"] = write_run(
        root / "s2s",
        "seq2seq",
        build_model("Seq2Seq", tgt_vocab=len(pairs), src_vocab=len(pairs), hidden=8, embed=4),
        {"name": "pairs", "vocab": pairs.to_dict(), "pad_id": 0, "bos_id": 1, "eos_id": 2},
    )
    torch.manual_seed(4)
    captioner = build_model("Captioner", tgt_vocab=len(VOCAB), channels=4, feature=8, hidden=8, embed=4)
    out["caption"] = write_run(
        root / "cap", "seq2seq", captioner, {"name": "captions", "vocab": list(VOCAB), "max_caption_len": 5}
    )
    docs = ["a fine good day", "a bad awful day", "good good fine", "awful bad"]
    vocab = TokenVocab.build(docs)
    torch.manual_seed(5)
    text_model = build_model(
        "SequenceClassifier", n_features=1, n_classes=2, hidden=8, layers=1, vocab_size=len(vocab), embed=8
    )
    out["text"] = write_run(
        root / "text",
        "classify",
        text_model,
        {
            "name": "textcsv",
            "classes": ["neg", "pos"],
            "features": ["token"],
            "scaler": None,
            "max_len": 4,
            "vocab": vocab.to_dict(),
            "max_tokens": None,
        },
    )
    return out


@pytest.fixture(scope="session")
def clients(runs) -> dict[str, TestClient]:
    """One TestClient per run (sessions capped at 3, 1 MiB bodies, so the limits are quick to reach)."""
    return {
        k: TestClient(make_app(p, max_sessions=3, session_ttl=60, max_body=1 << 20, threads=1))
        for k, p in runs.items()
    }


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
