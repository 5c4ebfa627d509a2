"""Architectures built from rnnlab.nn: plain nn.Modules, usable without Lightning."""

from __future__ import annotations

from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.models.baselines import CNN1dClassifier, MLPClassifier
from rnnlab.models.captioner import Captioner
from rnnlab.models.classifier import SequenceClassifier, SequenceTagger
from rnnlab.models.forecaster import Forecaster
from rnnlab.models.global_forecaster import GlobalForecaster
from rnnlab.models.language import CharLM
from rnnlab.models.lstm_fcn import LSTMFCN
from rnnlab.models.seq2seq import Seq2Seq

MODELS: dict[str, type[nn.Module]] = {
    "SequenceClassifier": SequenceClassifier,
    "SequenceTagger": SequenceTagger,
    "MLPClassifier": MLPClassifier,
    "CNN1dClassifier": CNN1dClassifier,
    "LSTMFCN": LSTMFCN,
    "CharLM": CharLM,
    "Forecaster": Forecaster,
    "GlobalForecaster": GlobalForecaster,
    "Seq2Seq": Seq2Seq,
    "Captioner": Captioner,
}


def build_model(kind: str, **config) -> nn.Module:
    """Rebuild a model from its class name and the `config` dict it stores (model.json)."""
    if kind not in MODELS:
        raise ConfigError(f"unknown model {kind!r}; choose one of {sorted(MODELS)}")
    return MODELS[kind](**config)


__all__ = [
    "MODELS",
    "CNN1dClassifier",
    "Captioner",
    "CharLM",
    "Forecaster",
    "GlobalForecaster",
    "LSTMFCN",
    "MLPClassifier",
    "SequenceClassifier",
    "Seq2Seq",
    "SequenceTagger",
    "build_model",
]
