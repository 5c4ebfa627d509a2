"""One contract every model passes: shapes, (output, loss) given targets, finite loss and gradients, padding
invariance, save/load round trip, a tiny overfit, and step/generate == forward where the model streams.

A model is tested by one entry in CASES: its kind, the task it solves and its arguments. A task says what
differs between forward signatures: the sizes the data fixes, a fixed tiny batch, how to call the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from rnnlab.models import MODELS, build_model
from rnnlab.models.decoding import BOS, EOS
from rnnlab.train.rundir import open_run, save_model, write_json, write_yaml

F, C, T = 5, 3, 12  # classifiers: features, classes, time steps
V = 12  # language model vocabulary
L, H, NF = 16, 4, 2  # forecaster: lookback, horizon, known-future covariates
V_SRC, V_TGT, S, TT = 11, 13, 7, 5  # seq2seq: vocabularies, source and target lengths
W = 24  # captioner: image width (6 columns after the CNN)

Batch = dict[str, torch.Tensor]


# --- tasks: how to build, feed and judge each family of models ----------------------------------------
def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _classify_batch() -> Batch:
    g = _gen()
    x = torch.randn(6, T, F, generator=g)
    return dict(x=x, lengths=torch.tensor([12, 5, 9, 1, 12, 7]), y=torch.tensor([0, 1, 2, 0, 1, 2]))


def _tag_batch() -> Batch:
    b = _classify_batch()
    return b | dict(y=(b["x"][..., 0] > 0).long())  # each step's label depends on that step's input


def _lm_batch() -> Batch:
    seq = torch.randint(0, V, (4, 11), generator=_gen())
    return dict(x=seq[:, :-1], y=seq[:, 1:])


def _forecast_batch() -> Batch:
    g = _gen()
    x, xf = torch.randn(6, L, F, generator=g), torch.randn(6, H, NF, generator=g)
    return dict(x=x, xf=xf, y=x[:, -H:, 0].flip(1) + 0.5 * xf[..., 0])


def _panel_batch() -> Batch:
    g = _gen()
    x, xf = torch.randn(6, L, 1 + 4, generator=g), torch.randn(6, H, 4, generator=g)
    sid, static = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([[0], [1], [0], [1], [0], [1]])
    return dict(x=x, xf=xf, log_scale=torch.zeros(6), sid=sid, static=static, y=x[:, -H:, 0].flip(1))


def _target(g: torch.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    tgt = torch.randint(3, V_TGT, (batch, TT + 1), generator=g)
    tgt[:, 0] = BOS
    return tgt[:, :-1], tgt[:, 1:]


def _translate_batch() -> Batch:
    g, lengths = _gen(), torch.tensor([7, 3, 5, 1])
    src = torch.randint(3, V_SRC, (4, S), generator=g) * (torch.arange(S)[None] < lengths[:, None])
    tgt_in, tgt_out = _target(g, 4)
    return dict(src=src, lengths=lengths, tgt_in=tgt_in, tgt_out=tgt_out)


def _caption_batch() -> Batch:
    g, widths = _gen(), torch.tensor([24, 16, 20, 9])
    images = torch.rand(4, 1, 28, W, generator=g) * (torch.arange(W) < widths[:, None, None, None])
    tgt_in, tgt_out = _target(g, 4)
    return dict(src=images, lengths=widths, tgt_in=tgt_in, tgt_out=tgt_out)


def _classify(model, b: Batch, targets: bool):
    return model(b["x"], b["lengths"], b["y"]) if targets else (model(b["x"], b["lengths"]), None)


def _lm(model, b: Batch, targets: bool):
    out = model(b["x"], None, b["y"] if targets else None)
    return out.logits, out.loss


def _forecast(model, b: Batch, targets: bool):
    return model(b["x"], b["xf"], b["y"]) if targets else (model(b["x"], b["xf"]), None)


def _panel(model, b: Batch, targets: bool):
    if targets:
        loss, loc = model.nll(b)
        return loc, loss
    return model(b["x"], b["xf"], b["log_scale"], b["sid"], b["static"])[0], None


def _seq2seq(model, b: Batch, targets: bool):
    out = model(b["src"], b["lengths"], b["tgt_in"], tgt_out=b["tgt_out"] if targets else None)
    return out.logits, out.loss


def _garble_features(b: Batch) -> Batch:
    pad = torch.arange(b["x"].shape[1])[None, :, None] >= b["lengths"][:, None, None]
    return b | dict(x=b["x"].masked_fill(pad, 1e3))  # values past each length must be ignored


def _garble_tokens(b: Batch) -> Batch:
    pad = torch.arange(b["src"].shape[1])[None] >= b["lengths"][:, None]
    return b | dict(src=torch.where(pad, torch.full_like(b["src"], V_SRC - 1), b["src"]))


def _memorised(model, b: Batch) -> None:
    assert (model(b["x"], b["lengths"]).argmax(-1) == b["y"]).all(), "could not memorise 6 sequences"


def _lm_streams(model, b: Batch) -> None:
    """step() token by token == forward; greedy generate() picks forward's argmax after each prefix."""
    full, state, steps = model(b["x"]), None, []
    for t in range(b["x"].shape[1]):
        logits, state = model.step(b["x"][:, t], state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full.logits, atol=1e-5, rtol=1e-5)
    prime = b["x"][:, :3]
    new = model.generate(prime, 6, greedy=True)
    logits = model(torch.cat([prime, new], 1)).logits[:, 2:-1]
    assert torch.equal(logits.argmax(-1), new)


def _seq2seq_streams(model, b: Batch) -> None:
    """step() fed the gold tokens == teacher-forced forward; greedy() picks forward's argmax at each step."""
    memory = model.encode(b["src"], b["lengths"])
    dec, steps = model.start(memory), []
    for t in range(b["tgt_in"].shape[1]):
        logits, dec, _ = model.step(b["tgt_in"][:, t], dec, memory)
        steps.append(logits)
    full = model(b["src"], b["lengths"], b["tgt_in"]).logits
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)
    d = model.greedy(b["src"], b["lengths"], max_len=6)
    for i, (tokens, ended) in enumerate(zip(d.tokens, d.ended, strict=True)):
        out = tokens + [EOS] * ended
        tgt_in = torch.tensor([[BOS, *out[:-1]]])
        logits = model(b["src"][i : i + 1], b["lengths"][i : i + 1], tgt_in).logits
        assert logits[0].argmax(-1).tolist() == out


@dataclass(frozen=True)
class Task:
    """What differs between model families: sizes the data fixes, a tiny batch, the call, extra checks."""

    name: str
    sizes: dict
    batch: Callable[[], Batch]
    run: Callable  # (model, batch, targets) -> (output, loss or None)
    shape: tuple[int, ...]  # the output's shape on `batch`
    steps: int = 40  # tiny-overfit optimiser steps
    garble: Callable[[Batch], Batch] | None = None  # rewrite the padding; the output must not change
    learned: Callable | None = None  # extra check after the tiny overfit
    streams: Callable | None = None  # step()/generate() against forward


CLASSIFY = Task(
    "classify", dict(n_features=F, n_classes=C), _classify_batch, _classify, (6, C),
    steps=150, garble=_garble_features, learned=_memorised,
)  # fmt: skip
TAG = Task("tag", dict(n_features=F, n_classes=C), _tag_batch, _classify, (6, T, C), garble=_garble_features)
LM = Task("lm", dict(vocab_size=V), _lm_batch, _lm, (4, 10, V), streams=_lm_streams)
FORECAST = Task("forecast", dict(n_features=F, horizon=H, n_future=NF), _forecast_batch, _forecast, (6, H))
PANEL = Task(
    "panel", dict(n_series=3, static_sizes=[2], n_calendar=4, lookback=L, horizon=H), _panel_batch, _panel, (6, H),
    steps=80,
)  # fmt: skip
TRANSLATE = Task(
    "translate", dict(tgt_vocab=V_TGT, src_vocab=V_SRC), _translate_batch, _seq2seq, (4, TT, V_TGT),
    garble=_garble_tokens, streams=_seq2seq_streams,
)  # fmt: skip
CAPTION = Task(
    "caption", dict(tgt_vocab=V_TGT), _caption_batch, _seq2seq, (4, TT, V_TGT), streams=_seq2seq_streams
)

# --- every model: one entry each ----------------------------------------------------------------------
CASES = [
    ("SequenceClassifier", CLASSIFY, dict(cell="lstm", hidden=16, layers=2, readout="last")),
    ("SequenceClassifier", CLASSIFY, dict(cell="gru", hidden=16, layers=1, bidirectional=True,
                                          readout="mean")),
    ("SequenceClassifier", CLASSIFY, dict(cell="rnn", hidden=16, layers=2, bidirectional=True,
                                          readout="attention")),
    ("SequenceClassifier", CLASSIFY, dict(cell="lstm", hidden=16, layers=1, readout="last", fast_path="off")),
    ("SequenceClassifier", CLASSIFY, dict(cell="mingru", hidden=16, layers=2, bidirectional=True,
                                          readout="last")),
    ("SequenceClassifier", CLASSIFY, dict(cell="minlstm", hidden=16, layers=1, readout="mean")),
    ("SequenceClassifier", CLASSIFY, dict(cell="lnlstm", hidden=16, layers=2, bidirectional=True,
                                          readout="last")),
    ("SequenceClassifier", CLASSIFY, dict(cell="lngru", hidden=16, layers=1, readout="attention")),
    ("SequenceClassifier", CLASSIFY, dict(cell="lstm", hidden=16, layers=1, readout="mean", conv_channels=8,
                                          conv_kernel=3)),
    ("SequenceClassifier", CLASSIFY, dict(cell="lstm", hidden=16, layers=2, readout="last", weight_drop=0.2,
                                          locked_dropout=0.1, residual=True, forget_bias=1.0)),
    ("SequenceClassifier", CLASSIFY, dict(cell="gru", hidden=16, layers=2, bidirectional=True, readout="mean",
                                          zoneout=0.1, init="orthogonal")),
    ("SequenceClassifier", CLASSIFY, dict(cell="lstm", hidden=16, layers=2, readout="last", ragged="mask",
                                          proj_size=8)),
    ("MLPClassifier", CLASSIFY, dict(max_len=T, hidden=32)),
    ("CNN1dClassifier", CLASSIFY, dict(channels=16, layers=2, kernel=3)),
    ("LSTMFCN", CLASSIFY, dict(hidden=8, channels=8, kernels=(4, 3, 3), dropout=0.2)),
    ("SequenceTagger", TAG, dict(hidden=16, layers=1)),
    ("CharLM", LM, dict(cell="lstm", hidden=32, layers=2, embed=8, dropout=0.0)),
    ("CharLM", LM, dict(cell="mingru", hidden=32, layers=1, dropout=0.0)),
    ("CharLM", LM, dict(cell="lstm", hidden=32, layers=2, embed=8, weight_drop=0.2, locked_dropout=0.1,
                        embed_dropout=0.1, residual=True, forget_bias=1.0, init="orthogonal")),
    ("CharLM", LM, dict(cell="gru", hidden=32, layers=2, dropout=0.0, zoneout=0.1)),
    ("CharLM", LM, dict(cell="lstm", hidden=32, layers=2, dropout=0.0, tie=True, proj_size=16)),
    ("Forecaster", FORECAST, dict(hidden=16, layers=1, dropout=0.0)),
    ("Forecaster", FORECAST, dict(cell="gru", hidden=16, layers=2, decoder="autoregressive", conv_channels=4,
                                  conv_kernel=3, highway=3)),
    ("Forecaster", FORECAST, dict(hidden=16, layers=1, dropout=0.0, head="quantile", normalize="window")),
    ("GlobalForecaster", PANEL, dict(hidden=16, season=4, likelihood="gaussian")),
    ("GlobalForecaster", PANEL, dict(cell="gru", hidden=16, layers=2, anchor="last")),
    ("Seq2Seq", TRANSLATE, dict(attention="luong", cell="lstm", hidden=16, embed=8, dropout=0.0)),
    ("Seq2Seq", TRANSLATE, dict(attention="bahdanau", cell="gru", bidirectional=True, hidden=16, embed=8)),
    ("Seq2Seq", TRANSLATE, dict(attention="none", bidirectional=True, layers=2, hidden=16, embed=8)),
    ("Captioner", CAPTION, dict(channels=4, feature=16, hidden=16, embed=8, dropout=0.0)),
]  # fmt: skip


def _ids(cases) -> list[str]:
    return ["-".join([kind, *(str(v) for v in args.values())]) for kind, _, args in cases]


def _params(want: Callable[[Task], object] = lambda task: True):
    cases = [c for c in CASES if want(c[1])]
    return pytest.mark.parametrize("kind,task,args", cases, ids=_ids(cases))


def _make(kind: str, task: Task, args: dict):
    torch.manual_seed(0)
    return build_model(kind, **task.sizes, **args)


def test_every_model_kind_has_a_line():
    assert {kind for kind, _, _ in CASES} == set(MODELS)


# --- the contract ----------------------------------------------------------------------------------------
@_params()
def test_shapes_loss_and_gradients(kind, task, args):
    model, b = _make(kind, task, args), task.batch()
    out, loss = task.run(model, b, targets=False)
    assert loss is None and out.shape == task.shape
    out, loss = task.run(model, b, targets=True)
    assert out.shape == task.shape and loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@_params(lambda task: task is CLASSIFY)
def test_classifiers_run_without_lengths(kind, task, args):
    assert _make(kind, task, args)(task.batch()["x"]).shape == task.shape


@_params(lambda task: task.garble is not None)
def test_padding_does_not_change_the_answer(kind, task, args):
    model, b = _make(kind, task, args).eval(), task.batch()
    out, _ = task.run(model, b, targets=False)
    torch.testing.assert_close(out, task.run(model, task.garble(b), targets=False)[0], atol=1e-5, rtol=1e-5)


@_params()
def test_save_load_round_trip(kind, task, args, tmp_path):
    model, b = _make(kind, task, args).eval(), task.batch()
    save_model(tmp_path, model)
    write_yaml(tmp_path / "config.yaml", {"name": "t"})
    write_json(tmp_path / "data.json", {"task": task.name})
    loaded = open_run(tmp_path).model
    assert type(loaded) is type(model) and loaded.config == model.config
    torch.testing.assert_close(task.run(model, b, targets=False)[0], task.run(loaded, b, targets=False)[0])


@_params()
def test_tiny_overfit(kind, task, args):
    model, b = _make(kind, task, args), task.batch()
    with torch.no_grad():
        first = float(task.run(model.eval(), b, targets=True)[1])
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(task.steps):
        opt.zero_grad()
        _, loss = task.run(model, b, targets=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        last = float(task.run(model, b, targets=True)[1])
        assert last < 0.5 * first, (
            f"{kind}: loss {first:.3f} -> {last:.3f} in {task.steps} steps on one batch"
        )
        if task.learned is not None:
            task.learned(model, b)


@_params(lambda task: task.streams is not None)
def test_streaming_matches_forward(kind, task, args):
    with torch.no_grad():
        task.streams(_make(kind, task, args).eval(), task.batch())


def test_tied_language_model_round_trips(tmp_path):
    """save_model gives safetensors one tensor per name, so tied embedding/decoder weights save too."""
    test_save_load_round_trip("CharLM", LM, dict(hidden=16, layers=1, tie=True), tmp_path)


# --- classifier specifics ------------------------------------------------------------------------------
def test_tagger_per_step_labels_and_masking():
    torch.manual_seed(0)
    model = build_model("SequenceTagger", n_features=F, n_classes=C, hidden=16, layers=1)
    x, lengths, y = (_tag_batch()[k] for k in ("x", "lengths", "y"))
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
