"""One contract every model passes: shapes, ragged lengths, padding invariance, loss, save/load, tiny overfit."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models import build_model
from rnnlab.train.rundir import open_run, save_model, write_json, write_yaml

F, C, T = 5, 3, 12
MODELS = [
    ("SequenceClassifier", dict(cell="lstm", hidden=16, layers=2, readout="last")),
    ("SequenceClassifier", dict(cell="gru", hidden=16, layers=1, bidirectional=True, readout="mean")),
    ("SequenceClassifier", dict(cell="rnn", hidden=16, layers=2, bidirectional=True, readout="attention")),
    ("SequenceClassifier", dict(cell="lstm", hidden=16, layers=1, readout="last", fast_path="off")),
    ("SequenceClassifier", dict(cell="mingru", hidden=16, layers=2, bidirectional=True, readout="last")),
    ("SequenceClassifier", dict(cell="minlstm", hidden=16, layers=1, readout="mean")),
    ("SequenceClassifier", dict(cell="lnlstm", hidden=16, layers=2, bidirectional=True, readout="last")),
    ("SequenceClassifier", dict(cell="lngru", hidden=16, layers=1, readout="attention")),
    (
        "SequenceClassifier",
        dict(cell="lstm", hidden=16, layers=1, readout="mean", conv_channels=8, conv_kernel=3),
    ),
    ("MLPClassifier", dict(max_len=T, hidden=32)),
    ("CNN1dClassifier", dict(channels=16, layers=2, kernel=3)),
]
IDS = [f"{k}-{a.get('cell', '')}-{a.get('readout', '')}-{a.get('conv_channels', 0)}" for k, a in MODELS]


def _make(kind, args):
    torch.manual_seed(0)
    return build_model(kind, n_features=F, n_classes=C, **args)


def _batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, T, F, generator=g)
    lengths = torch.tensor([12, 5, 9, 1, 12, 7])
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return x, lengths, y


@pytest.mark.parametrize("kind,args", MODELS, ids=IDS)
def test_shapes_and_loss(kind, args):
    model = _make(kind, args)
    x, lengths, y = _batch()
    assert model(x).shape == (6, C)
    logits, loss = model(x, lengths, y)
    assert logits.shape == (6, C) and loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("kind,args", MODELS, ids=IDS)
def test_padding_does_not_change_the_answer(kind, args):
    model = _make(kind, args).eval()
    x, lengths, _ = _batch()
    garbage = x.clone()
    m = torch.arange(T)[None, :, None] >= lengths[:, None, None]
    garbage[m.expand_as(x)] = 1e3  # values past each length must be ignored
    torch.testing.assert_close(model(x, lengths), model(garbage, lengths), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind,args", MODELS, ids=IDS)
def test_save_load_round_trip(kind, args, tmp_path):
    model = _make(kind, args).eval()
    save_model(tmp_path, model)
    write_yaml(tmp_path / "config.yaml", {"name": "t"})
    write_json(tmp_path / "data.json", {"classes": ["a", "b", "c"], "features": list("abcde")})
    loaded = open_run(tmp_path).model
    x, lengths, _ = _batch()
    torch.testing.assert_close(model(x, lengths), loaded(x, lengths))


@pytest.mark.parametrize("kind,args", MODELS, ids=IDS)
def test_tiny_overfit(kind, args):
    model = _make(kind, args)
    x, lengths, y = _batch()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        _, loss = model(x, lengths, y)
        loss.backward()
        opt.step()
    model.eval()
    assert (model(x, lengths).argmax(-1) == y).all(), f"{kind} could not memorise 6 sequences"


def test_tagger_per_step_labels_and_masking():
    torch.manual_seed(0)
    model = build_model("SequenceTagger", n_features=F, n_classes=C, hidden=16, layers=1)
    x, lengths, _ = _batch()
    y = (x[..., 0] > 0).long()  # label of each step depends on that step's input
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        logits, loss = model(x, lengths, y)
        loss.backward()
        opt.step()
    assert logits.shape == (6, T, C)
    m = torch.arange(T)[None, :] < lengths[:, None]
    acc = (model(x, lengths).argmax(-1) == y)[m].float().mean()
    assert acc > 0.95


@pytest.mark.parametrize(
    "kind,args,match",
    [
        ("SequenceClassifier", dict(cell="lstmm"), "unknown cell"),
        ("SequenceClassifier", dict(readout="max"), "readout must be one of"),
        ("CNN1dClassifier", dict(kernel=4), "odd"),
        ("Transformer", dict(), "unknown model"),
    ],
)
def test_bad_arguments_raise_at_construction(kind, args, match):
    with pytest.raises(ValueError, match=match):
        build_model(kind, n_features=F, n_classes=C, **args)


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="at least two labels"):
        build_model("SequenceClassifier", n_features=F, n_classes=1)
