"""Every kind's graphs against PyTorch at sizes other than the traced ones: forecasters, the classification
baselines, a token classifier and a tagger; encoder-decoders decoded greedily by a Python loop over the ONNX
Runtime graphs give the model's own greedy tokens; cells that cannot export are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models import build_model
from rnnlab.models.decoding import BOS, EOS
from rnnlab.tasks import get


@pytest.mark.parametrize(
    "cfg",
    [
        dict(n_features=3, horizon=4, n_future=2, hidden=8, highway=3),
        dict(n_features=3, horizon=5, hidden=8, decoder="autoregressive", cell="gru", layers=1),
        dict(n_features=3, horizon=4, n_future=2, hidden=8, highway=3, normalize="window"),
        dict(n_features=3, horizon=4, hidden=8, decoder="autoregressive", normalize="none"),
    ],
)
def test_forecast_graph_matches_pytorch(cfg, runtime, assert_close):
    model = build_model("Forecaster", **cfg).eval()
    (graph,) = get("forecast").graphs(model)
    ort = runtime(graph)
    for batch, lookback in ((1, 5), (9, 48)):
        inputs = [torch.randn(batch, lookback, 3)]
        if cfg.get("n_future"):
            inputs.append(torch.randn(batch, cfg["horizon"], cfg["n_future"]))
        with torch.no_grad():
            want = model(*inputs)
        assert_close(want, ort(*inputs))


@pytest.mark.parametrize(
    "kind,cfg",
    [
        ("MLPClassifier", dict(n_features=3, n_classes=4, max_len=10, hidden=16)),
        ("CNN1dClassifier", dict(n_features=3, n_classes=4, channels=8)),
        ("LSTMFCN", dict(n_features=3, n_classes=4, hidden=8, channels=8)),
        (
            "SequenceClassifier",
            dict(n_features=1, n_classes=4, cell="gru", hidden=8, vocab_size=20, readout="mean"),
        ),
        ("SequenceClassifier", dict(n_features=3, n_classes=4, hidden=8, conv_channels=4, ragged="mask")),
        (  # the regularisation kit trains differently but exports as the plain model
            "SequenceClassifier",
            dict(n_features=3, n_classes=4, hidden=8, weight_drop=0.3, locked_dropout=0.2, residual=True),
        ),
        ("SequenceTagger", dict(n_features=3, n_classes=4, hidden=8, layers=1, bidirectional=True)),
    ],
)
def test_classification_graphs_match_pytorch(kind, cfg, runtime, assert_close):
    model = build_model(kind, **cfg).eval()
    graphs = get("classify").graphs(model)
    streams = kind == "SequenceClassifier" and not cfg.get(
        "conv_channels"
    )  # not a baseline, conv or bidirectional
    assert [g.name for g in graphs] == ["sequence", "step"][: 1 + streams]
    ort = runtime(graphs[0])
    n_state = len(graphs[0].inputs) - 2
    for batch, time in ((1, 3), (5, 15)):
        x = torch.randint(1, 20, (batch, time, 1)) if cfg.get("vocab_size") else torch.randn(batch, time, 3)
        lengths = torch.randint(1, time + 1, (batch,))
        lengths[0] = time
        state = tuple(torch.zeros(graphs[0].example[2].shape[0], batch, 8) for _ in range(n_state))
        with torch.no_grad():
            want = model(x, lengths)
        got = ort(x, lengths, *state)
        if kind == "SequenceTagger":  # padding steps are not compared
            real = (torch.arange(time)[None] < lengths[:, None]).numpy()
            got[0], want = got[0] * real[..., None], want * torch.as_tensor(real)[..., None]
        assert_close(want, got[:1])


def _greedy_onnx(graphs, runtime, src, lengths, hidden, max_len=12):
    """Greedy decoding written against the two ONNX graphs only (what a non-Python caller does)."""
    enc, step = runtime(graphs["encoder"]), runtime(graphs["decoder_step"])
    outs = dict(zip(graphs["encoder"].outputs, enc(src.numpy(), lengths.numpy()), strict=True))
    n = len(src)
    carried = {name: outs[name + "0"] for name in ("h", "c") if name + "0" in outs}
    if "feed0" in graphs["decoder_step"].inputs:
        carried["feed"] = np.zeros((n, hidden), np.float32)  # Luong's o_0 = 0
    y, tokens, alive = np.full(n, BOS, np.int64), [[] for _ in range(n)], np.ones(n, bool)
    for _ in range(max_len):
        feeds = {**outs, "y_prev": y, **{k + "0": v for k, v in carried.items()}}
        res = dict(zip(step.graph.outputs, step(*[feeds[k] for k in step.graph.inputs]), strict=True))
        y = res["logits"].argmax(-1)
        carried = {k: res[k] for k in carried}
        for b in range(n):
            if alive[b] and y[b] != EOS:
                tokens[b].append(int(y[b]))
        alive &= y != EOS
        if not alive.any():
            break
    return tokens


@pytest.mark.parametrize(
    "kind,cfg",
    [
        ("Seq2Seq", dict(tgt_vocab=9, src_vocab=11, hidden=8, embed=4, bidirectional=True, layers=2)),
        ("Seq2Seq", dict(tgt_vocab=9, src_vocab=11, hidden=8, embed=4, attention="bahdanau", cell="gru")),
        ("Seq2Seq", dict(tgt_vocab=9, src_features=5, hidden=8, embed=4, attention="none")),
        ("Captioner", dict(tgt_vocab=9, channels=4, feature=8, hidden=8)),
    ],
)
def test_greedy_decoding_over_onnx_graphs_gives_the_models_tokens(kind, cfg, runtime):
    model = build_model(kind, **cfg).eval()
    graphs = {g.name: g for g in get("seq2seq").graphs(model)}
    for batch, size in ((1, 4), (6, 13)):
        if kind == "Captioner":
            src = torch.rand(
                batch, 1, 28, size * 4
            )  # widths: multiples of 4 after padding (see the graph note)
            lengths = torch.randint(1, size * 4 + 1, (batch,))
        elif cfg.get("src_vocab"):
            src, lengths = torch.randint(3, 11, (batch, size)), torch.randint(1, size + 1, (batch,))
        else:
            src, lengths = torch.randn(batch, size, 5), torch.randint(1, size + 1, (batch,))
        lengths[0] = src.shape[-1] if kind == "Captioner" else size
        want = model.greedy(src, lengths, max_len=12).tokens
        assert _greedy_onnx(graphs, runtime, src, lengths, cfg["hidden"]) == want


@pytest.mark.parametrize("cell", ["lnlstm", "lngru", "mingru", "minlstm"])
def test_cells_without_a_dynamic_time_export_are_one_line_errors(cell):
    model = build_model("CharLM", vocab_size=5, cell=cell, hidden=8, layers=1)
    with pytest.raises(
        ConfigError, match=rf"cell '{cell}' cannot be exported .*; the cells that export are rnn, lstm, gru"
    ):
        get("charlm").graphs(model)
