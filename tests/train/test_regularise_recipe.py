"""The regularisation kit from a recipe (issue 18): keys reach the models, bad values are one-line errors,
AR/TAR join the charlm training loss, and a regularised model exports and streams as a plain one."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from rnnlab import tasks
from rnnlab.cli import main
from rnnlab.config import TrainConfig, apply_overrides, load_recipe
from rnnlab.errors import ConfigError
from rnnlab.models import build_model
from rnnlab.models.heads import smoothed_cross_entropy
from rnnlab.models.streaming import streamable
from rnnlab.nn import native
from rnnlab.nn.regularize import activation_penalty
from rnnlab.tasks.charlm.data import make_lm
from rnnlab.tasks.charlm.module import LanguageModelModule
from rnnlab.tasks.checks import check_recipe
from rnnlab.tasks.classify.module import ClassificationModule
from rnnlab.tasks.classify.task import make_model
from rnnlab.tasks.exportable import inference_copy

AWD = {
    "model.weight_drop": "0.3",
    "model.locked_dropout": "0.25",
    "model.embed_dropout": "0.1",
    "model.residual": "true",
    "model.forget_bias": "1.0",
    "model.init": "orthogonal",
}
TEXT = Path(__file__).resolve().parents[1] / "fixtures" / "coriolanus_120k.txt"


def test_recipe_keys_reach_the_language_model():
    r = apply_overrides(load_recipe("shakespeare"), {**AWD, "model.hidden": "16", "model.layers": "2"})
    check_recipe(r, tasks.get("charlm"))
    lm = make_lm(r.model, SimpleNamespace(n_tokens=12))
    assert lm.config["weight_drop"] == 0.3 and lm.config["embed_dropout"] == 0.1
    assert (lm.rnn.weight_drop, lm.rnn.locked_dropout, lm.rnn.dropout) == (0.3, 0.25, 0.0)
    assert lm.rnn.residual and lm.rnn.forget_bias == 1.0 and lm.rnn.init == "orthogonal"
    assert lm.rnn.path == "fused"


def test_recipe_keys_reach_the_classifier():
    r = apply_overrides(load_recipe("har"), {"model.zoneout": "0.1", "model.weight_drop": "0.2"})
    check_recipe(r, tasks.get("classify"))
    model = make_model(r.model, SimpleNamespace(n_features=3, n_classes=4))
    want = "sequence" if native.available(model.rnn.weight_hh_l0) else "reference"  # zoneout's C++ loop
    assert (model.rnn.zoneout, model.rnn.weight_drop, model.rnn.path) == (0.1, 0.2, want)
    r = apply_overrides(load_recipe("har"), {"model.zoneout": "0.05", "model.zoneout_c": "0.5"})
    check_recipe(r, tasks.get("classify"))
    model = make_model(r.model, SimpleNamespace(n_features=3, n_classes=4))
    assert (model.rnn.zone_rates, model.rnn.path) == ((0.05, 0.5), want)
    lm = apply_overrides(load_recipe("shakespeare"), {"model.zoneout_c": "0.5", "model.hidden": "16"})
    check_recipe(lm, tasks.get("charlm"))
    assert make_lm(lm.model, SimpleNamespace(n_tokens=12)).rnn.zone_rates == (0.0, 0.5)


def test_locked_dropout_that_would_do_nothing_is_a_one_line_error():
    r = apply_overrides(load_recipe("har"), {"model.locked_dropout": "0.3", "model.dropout": "0"})
    with pytest.raises(ConfigError, match="one layer, feature inputs.*set model.layers >= 2"):
        make_model(r.model, SimpleNamespace(n_features=3, n_classes=4))
    apply_overrides(r, {"model.layers": "2"})  # between two layers it acts
    assert make_model(r.model, SimpleNamespace(n_features=3, n_classes=4)).rnn.locked_dropout == 0.3


def test_default_recipes_are_unchanged():
    for name in ("shakespeare", "har"):
        m = load_recipe(name).model
        assert (m.weight_drop, m.locked_dropout, m.embed_dropout, m.zoneout) == (0.0, 0.0, 0.0, 0.0)
        assert (m.residual, m.forget_bias, m.init) == (False, None, "default")


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"model.weight_drop": "-0.1"}, r"model.weight_drop must be in \[0, 1\)"),
        ({"model.zoneout": "1"}, r"model.zoneout must be in \[0, 1\)"),
        ({"model.zoneout_c": "1"}, r"model.zoneout_c must be in \[0, 1\)"),
        ({"model.zoneout_c": "0.5", "model.cell": "gru"}, "model.zoneout_c zones the LSTM's cell state, and"),
        ({"model.embed_dropout": "2"}, r"model.embed_dropout must be in"),
        ({"model.init": "xavier"}, "unknown model.init 'xavier'"),
        ({"train.ar": "-1"}, "train.ar and train.tar must be >= 0"),
        ({"train.label_smoothing": "1"}, r"train.label_smoothing must be in \[0, 1\)"),
        ({"model.proj_size": "512"}, r"model.proj_size must be 0 \(none\) or in \[1, model.hidden=512\)"),
    ],
)
def test_bad_values_are_one_line_errors(overrides, match):
    r = apply_overrides(load_recipe("shakespeare"), overrides)
    with pytest.raises(ConfigError, match=match) as e:
        check_recipe(r, tasks.get("charlm"))
    assert "\n" not in str(e.value)


def test_keys_a_model_would_ignore_are_errors():
    r = apply_overrides(load_recipe("electricity"), {"model.weight_drop": "0.2"})
    with pytest.raises(ConfigError, match="model.weight_drop applies to CharLM and SequenceClassifier, not"):
        check_recipe(r, tasks.get("forecast"))
    r = apply_overrides(load_recipe("har"), {"model.embed_dropout": "0.2"})
    with pytest.raises(ConfigError, match="model.embed_dropout applies to CharLM, not SequenceClassifier"):
        check_recipe(r, tasks.get("classify"))
    r = apply_overrides(load_recipe("har"), {"train.ar": "1"})
    with pytest.raises(ConfigError, match="train.ar and train.tar apply to task charlm, not classify"):
        check_recipe(r, tasks.get("classify"))
    r = apply_overrides(load_recipe("shakespeare"), {"train.label_smoothing": "0.1"})
    with pytest.raises(ConfigError, match="train.label_smoothing applies to task classify, not charlm"):
        check_recipe(r, tasks.get("charlm"))


def test_model_level_errors():
    with pytest.raises(ConfigError, match="residual connects stacked layers"):
        build_model("CharLM", vocab_size=12, hidden=8, layers=1, residual=True)
    with pytest.raises(ConfigError, match="forget_bias applies to the 'lstm' cell"):
        build_model("SequenceClassifier", n_features=3, n_classes=2, cell="gru", forget_bias=1.0)
    with pytest.raises(ConfigError, match="weight_drop applies to the cells"):
        build_model("CharLM", vocab_size=12, cell="minlstm", hidden=8, layers=1, weight_drop=0.2)
    with pytest.raises(ConfigError, match="ragged 'pack'"):
        build_model("SequenceClassifier", n_features=3, n_classes=2, residual=True, ragged="mask")


def test_ar_tar_join_the_training_loss_only():
    torch.manual_seed(0)
    lm = build_model("CharLM", vocab_size=12, hidden=8, layers=2, embed=4, dropout=0.2)
    module = LanguageModelModule(lm, TrainConfig(ar=2.0, tar=1.0), steps_per_epoch=1)
    module._trainer = SimpleNamespace(world_size=1)
    module.log = lambda *a, **k: None
    batch = {"x": torch.randint(0, 12, (3, 6)), "y": torch.randint(0, 12, (3, 6)), "first": torch.tensor(True)}
    torch.manual_seed(1)
    loss = module._step(batch, "train")
    torch.manual_seed(1)
    out = lm(batch["x"], None, batch["y"])
    want = out.loss + 2.0 * out.dropped.pow(2).mean() + 1.0 * (out.hidden[:, 1:] - out.hidden[:, :-1]).pow(2).mean()
    torch.testing.assert_close(loss, want)
    torch.testing.assert_close(want - out.loss, activation_penalty(out.hidden, out.dropped, 2.0, 1.0))
    torch.testing.assert_close(lm.decoder(out.dropped), out.logits)
    lm.eval()
    torch.testing.assert_close(module._step(batch | {"first": torch.tensor(True)}, "val"), lm(batch["x"], None, batch["y"]).loss)


def _smoothed_by_hand(logits, y, e):
    q = torch.full_like(logits, e / logits.shape[-1])
    q[torch.arange(len(y)), y] += 1 - e
    return -(q * logits.log_softmax(-1)).sum(-1).mean()


def test_label_smoothing_is_the_smoothed_target_by_hand():
    torch.manual_seed(0)
    logits, y = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 3, 1, 1, 2])
    torch.testing.assert_close(smoothed_cross_entropy(logits, y, None, 0.2), _smoothed_by_hand(logits, y, 0.2))
    torch.testing.assert_close(smoothed_cross_entropy(logits, y, None, 0.0), torch.nn.functional.cross_entropy(logits, y))
    # per step: steps past each sequence's length are left out
    steps, ys, lengths = torch.randn(2, 3, 4, dtype=torch.float64), torch.tensor([[0, 1, 2], [3, 3, 0]]), torch.tensor([3, 2])
    real = lengths[:, None] > torch.arange(3)
    want = _smoothed_by_hand(steps[real], ys[real], 0.1)
    torch.testing.assert_close(smoothed_cross_entropy(steps, ys, lengths, 0.1), want)


def test_label_smoothing_changes_the_training_loss_only():
    torch.manual_seed(0)
    model = build_model("SequenceClassifier", n_features=3, n_classes=4, hidden=8, dropout=0.0)
    batch = {"x": torch.randn(5, 7, 3), "lengths": torch.tensor([7, 7, 5, 3, 2]), "y": torch.tensor([0, 3, 1, 1, 2])}
    logits, plain = model(batch["x"], batch["lengths"], batch["y"])
    logged = {}
    for e in (0.0, 0.2):
        module = ClassificationModule(model, 4, TrainConfig(label_smoothing=e), steps_per_epoch=1)
        module._trainer = SimpleNamespace(world_size=1)
        module.log = lambda name, value, **k: logged.__setitem__(name, value)
        module.log_lr = lambda: None
        loss = module.training_step(batch, 0)
        want = plain if e == 0 else _smoothed_by_hand(logits, batch["y"], e)
        torch.testing.assert_close(loss, want)
        torch.testing.assert_close(logged["train_loss"], plain)  # the logged loss stays the plain one
    assert (loss - plain).abs().item() > 1e-3  # the smoothed loss is a different objective


def test_regularised_models_export_and_stream_as_plain_ones():
    torch.manual_seed(0)
    args = dict(n_features=3, n_classes=2, hidden=8, layers=2, weight_drop=0.3, locked_dropout=0.2, residual=True)
    model = build_model("SequenceClassifier", **args)
    assert streamable(model) is None
    x = torch.randn(2, 5, 3)
    copy = inference_copy(model)
    torch.testing.assert_close(copy(x), model.eval()(x))
    zoned = build_model("SequenceClassifier", n_features=3, n_classes=2, hidden=8, zoneout=0.1)
    assert streamable(zoned) is None  # it steps (the zoneout expectation) but does not export
    with pytest.raises(ConfigError, match=r"retrain with --model.zoneout 0 .*to export"):
        inference_copy(zoned)
    projected = build_model("CharLM", vocab_size=12, hidden=8, layers=1, proj_size=4)
    with pytest.raises(ConfigError, match="retrain with --model.proj_size 0 to export"):
        inference_copy(projected)


def test_charlm_trains_with_the_kit_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "charlm", "--text", str(TEXT), "--out", str(out), "--epochs", "1",
            "--model.hidden", "16", "--model.layers", "2", "--model.embed", "8", "--data.batch_size", "16",
            "--data.bptt", "32", "--train.overfit_batches", "4", "--train.patience", "0",
            "--model.weight_drop", "0.3", "--model.locked_dropout", "0.3", "--model.embed_dropout", "0.1",
            "--train.ar", "2", "--train.tar", "1"]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((out / "model.json").read_text())
    text = json.dumps(config)
    assert '"weight_drop": 0.3' in text and '"locked_dropout": 0.3' in text
    assert json.loads((out / "results.json").read_text())["val"]["loss_nats"] > 0


def test_cold_starts_zero_whole_streams_at_the_rate():
    from rnnlab.tasks.charlm.module import cold_starts

    torch.manual_seed(0)
    h, c = torch.randn(2, 4000, 3) + 5, torch.randn(2, 4000, 3) + 5  # (layers, batch, width), no zeros
    nh, nc = cold_starts((h, c), 0.25)
    zeroed = (nh == 0).all(2).all(0)
    assert ((nh == 0) == zeroed.view(1, -1, 1)).all()  # a stream is zeroed in every layer and unit or not at all
    assert torch.equal(nc == 0, nh == 0)  # h and c of the same streams
    assert abs(zeroed.float().mean().item() - 0.25) < 0.03
    torch.testing.assert_close(nh[:, ~zeroed], h[:, ~zeroed], rtol=0, atol=0)
    assert cold_starts((h,), 0.0)[0].equal(h)


def test_state_reset_reaches_the_carried_training_state_only():
    torch.manual_seed(0)
    lm = build_model("CharLM", vocab_size=12, hidden=8, layers=1, embed=4, dropout=0.0)
    module = LanguageModelModule(lm, TrainConfig(state_reset=0.5), steps_per_epoch=1)
    module._trainer = SimpleNamespace(world_size=1)
    module.log = lambda *a, **k: None
    seen = []
    forward = lm.forward
    lm.forward = lambda x, state=None, y=None: seen.append(state) or forward(x, state, y)
    chunk = {"x": torch.randint(0, 12, (64, 6)), "y": torch.randint(0, 12, (64, 6))}
    module._step(chunk | {"first": torch.tensor(True)}, "train")  # a pass starts from zeros, nothing to reset
    carried = module.states["train"]
    module._step(chunk | {"first": torch.tensor(False)}, "train")
    cold = (seen[1][0] == 0).all(2).all(0)
    assert 10 < int(cold.sum()) < 54  # about half of 64 streams start cold
    torch.testing.assert_close(seen[1][0][:, ~cold], carried[0][:, ~cold], rtol=0, atol=0)
    module._step(chunk | {"first": torch.tensor(True)}, "val")
    val_carried = module.states["val"]
    module._step(chunk | {"first": torch.tensor(False)}, "val")
    assert seen[3][0].equal(val_carried[0])  # validation always carries


@pytest.mark.parametrize(
    "recipe,overrides,match",
    [
        ("shakespeare", {"train.state_reset": "1"}, r"train.state_reset must be in \[0, 1\)"),
        ("shakespeare", {"train.state_reset": "0.01", "data.carry": "false"}, "with data.carry true .*carry False"),
        ("har", {"train.state_reset": "0.01"}, "train.state_reset applies to task charlm .*task classify"),
    ],
)
def test_state_reset_errors(recipe, overrides, match):
    r = apply_overrides(load_recipe(recipe), overrides)
    with pytest.raises(ConfigError, match=match) as e:
        check_recipe(r, tasks.get(r.task))
    assert "\n" not in str(e.value)
