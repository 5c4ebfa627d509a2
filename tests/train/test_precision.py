"""train.precision (issue 18): bf16-mixed trains as well as float32 where the CPU runs bfloat16 natively, the
C++ loops and scans stay float32 under it, and a precision the hardware would emulate is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from rnnlab import tasks
from rnnlab.cli import main
from rnnlab.config import apply_overrides, load_recipe
from rnnlab.errors import ConfigError
from rnnlab.nn.layers import make_layer
from rnnlab.tasks.checks import check_recipe
from rnnlab.train import precision

TEXT = Path(__file__).resolve().parents[1] / "fixtures" / "coriolanus_120k.txt"
needs_bf16 = pytest.mark.skipif(not precision.bf16_native(), reason="no native bfloat16 on this CPU")


def test_unknown_precision_is_a_one_line_error():
    r = apply_overrides(load_recipe("har"), {"train.precision": "fp8"})
    with pytest.raises(ConfigError, match=r"unknown train.precision 'fp8'.*'32', 'auto', 'bf16-mixed'") as e:
        check_recipe(r, tasks.get("classify"))
    assert "\n" not in str(e.value)


def test_precision_32_from_yaml_as_a_number_is_accepted():
    r = apply_overrides(load_recipe("har"), {"train.precision": 32})
    assert r.train.precision == "32"
    check_recipe(r, tasks.get("classify"))


def test_bf16_on_a_cpu_that_would_emulate_it_is_refused(monkeypatch):
    monkeypatch.setattr(precision.torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(precision.torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(precision.torch.cuda, "is_available", lambda: False)
    r = apply_overrides(load_recipe("shakespeare"), {"train.precision": "bf16-mixed"})
    with pytest.raises(ConfigError, match="bf16-mixed needs a GPU or a CPU with AVX512-BF16/AMX.*leave"):
        check_recipe(r, tasks.get("charlm"))


@pytest.mark.parametrize("native", [False, True])
def test_auto_takes_bf16_only_where_it_is_native(monkeypatch, native):
    """'auto' passes the check on any CPU and resolves to bf16-mixed where native, float32 elsewhere."""
    monkeypatch.setattr(precision.torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(precision.torch.cpu, "_is_amx_tile_supported", lambda: native)
    monkeypatch.setattr(precision.torch.cuda, "is_available", lambda: False)
    r = apply_overrides(load_recipe("shakespeare"), {"train.precision": "auto"})
    check_recipe(r, tasks.get("charlm"))
    assert precision.resolve_precision("auto") == ("bf16-mixed" if native else "32")
    assert precision.resolve_precision("32") == "32" and precision.resolve_precision("bf16-mixed") == "bf16-mixed"


@pytest.mark.parametrize("cell", ["gru", "lnlstm", "lngru", "slstm", "mingru", "minlstm"])
def test_loops_and_scans_run_float32_under_autocast(cell):
    """rnnlab's own C++ loops and the parallel scans leave autocast: the same float32 numbers with it as without."""
    torch.manual_seed(0)
    layer = make_layer(cell, 3, 8, 2, bidirectional=True)
    x, lengths = torch.randn(4, 11, 3), torch.tensor([11, 7, 4, 1])
    plain, plain_state = layer(x, lengths)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, state = layer(x, lengths)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, plain, rtol=0, atol=0)
    for a, b in zip(state, plain_state, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("cell", ["mingru", "lstm"])
def test_trace_under_autocast_keeps_its_shape(cell):
    """The inspection path returns (output, state, trace) under autocast too; the scans' trace in float32."""
    torch.manual_seed(0)
    layer = make_layer(cell, 3, 8, 1)
    x = torch.randn(2, 5, 3)
    plain = layer.trace(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, state, trace = layer.trace(x)
    assert type(trace) is type(plain[2]) and len(trace.steps) == len(plain[2].steps)
    if cell == "mingru":
        torch.testing.assert_close(out, plain[0], rtol=0, atol=0)


def _train_charlm(out: Path, prec: str) -> dict:
    argv = ["train", "charlm", "--text", str(TEXT), "--out", str(out), "--epochs", "3",
            "--model.hidden", "64", "--model.layers", "1", "--model.embed", "16", "--data.batch_size", "16",
            "--data.bptt", "64", "--train.overfit_batches", "20", "--train.patience", "0",
            "--train.lr", "0.01", "--train.precision", prec]  # fmt: skip
    assert main(argv) == 0
    return json.loads((out / "results.json").read_text())


@needs_bf16
def test_bf16_mixed_learns_the_text_as_float32_does(tmp_path):
    full = _train_charlm(tmp_path / "fp32", "32")["val"]["loss_nats"]
    results = _train_charlm(tmp_path / "bf16", "bf16-mixed")
    half = results["val"]["loss_nats"]
    assert results["precision"] == "bf16-mixed"
    assert half < 3.0  # learned: uniform over the ~60 characters is ~4.1 nats
    assert abs(half - full) < 0.1, (half, full)
    config = yaml.safe_load((tmp_path / "bf16" / "config.yaml").read_text())
    assert config["train"]["precision"] == "bf16-mixed"
    weights = torch.load(tmp_path / "bf16" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert all(w.dtype == torch.float32 for w in weights.values() if w.is_floating_point())
