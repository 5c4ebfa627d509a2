"""Every built-in kind's Signature (what export and serving will rely on) is what its model really takes and
gives: inputs built from the spec run through the model, and the outputs and the carried state have the
spec's shapes; the registry knows the four kinds and finds a run's kind from its config.yaml."""

from __future__ import annotations

import pytest
import torch

from rnnlab.errors import ConfigError, RunDirError
from rnnlab.models import build_model
from rnnlab.tasks import Signature, get, names, of_run, register
from rnnlab.tasks.contract import recurrent_state

SIZES = {"batch": 3, "time": 7, "lookback": 12, "src_time": 6, "tgt_time": 5, "width": 40}
MODELS = {
    "classify": ("SequenceClassifier", dict(n_features=4, n_classes=5, cell="gru", hidden=8, layers=1)),
    "charlm": ("CharLM", dict(vocab_size=11, cell="lstm", hidden=8, layers=2, embed=4)),
    "forecast": ("Forecaster", dict(n_features=3, horizon=4, n_future=2, hidden=8, layers=1)),
    "seq2seq": ("Seq2Seq", dict(tgt_vocab=9, src_vocab=9, hidden=8, embed=4)),
}


def _tensor(spec) -> torch.Tensor:
    shape = [SIZES.get(d, d) if isinstance(d, str) else d for d in spec.dims]
    if spec.dtype == "int64":
        high = SIZES["time"] if spec.name.endswith("lengths") else 4
        return torch.randint(1, high, shape) if spec.name.endswith("lengths") else torch.randint(3, 9, shape)
    return torch.randn(shape)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_the_signature_is_what_the_model_takes_and_gives(kind):
    task = get(kind)
    torch.manual_seed(0)
    model = build_model(MODELS[kind][0], **MODELS[kind][1]).eval()
    sig = task.signature(model)
    assert isinstance(sig, Signature) and sig.to_dict()["inputs"]
    inputs = [_tensor(s) for s in sig.inputs]
    if kind == "classify":  # lengths no longer than the batch's time steps
        inputs[1] = torch.tensor([7, 3, 5])
    if kind == "seq2seq":
        inputs[1] = torch.tensor([6, 4, 2])
    with torch.no_grad():
        out = model(*inputs)
    first = out[0] if isinstance(out, tuple) else out
    want = [SIZES.get(d, d) if isinstance(d, str) else d for d in sig.outputs[0].dims]
    assert list(first.shape) == want, (kind, tuple(first.shape), want)
    if sig.state:  # the state the model carries between calls has the spec's shape
        state = out.state
        assert len(state) == len(sig.state)
        for s, spec in zip(state, sig.state, strict=True):
            assert list(s.shape) == [SIZES.get(d, d) if isinstance(d, str) else d for d in spec.dims]
    assert recurrent_state(torch.nn.Linear(2, 2)) == ()


def test_the_registry_knows_every_built_in_kind_and_a_runs_kind():
    assert {"classify", "charlm", "forecast", "seq2seq"} <= set(names())
    assert type(of_run({"task": "forecast"})).__name__ == "ForecastTask"
    assert type(of_run({})).__name__ == "ClassifyTask"  # runs from before the key: classification


def test_a_bad_registration_and_an_unknown_runs_kind_are_one_line_errors():
    with pytest.raises(ConfigError, match="register\\(\\) takes a Task subclass with a name"):
        register(int)
    with pytest.raises(RunDirError, match=r"is a 'tagging' run, a task kind this rnnlab does not know; known"):
        of_run({"task": "tagging"})
