"""The speed suite's rows: schema, FLOP accounting and the CLI (no timing is asserted: speed lives in bench/)."""

from __future__ import annotations

import json

import pytest

from rnnlab.benchmark import run
from rnnlab.benchmark.suite import SENSOR, Case, measure, plan
from rnnlab.benchmark.timing import percentile, recurrent_flops
from rnnlab.cli import main


def test_recurrent_flops_count_the_gate_matmuls():
    # LSTM: 4 gates x (F + H) inputs x H outputs x 2 (multiply-add) per step; training is 3x forward
    assert recurrent_flops("lstm", 2, 3, 5, 7, train=False) == 2 * 3 * 2 * (5 + 7) * 4 * 7
    assert recurrent_flops("lstm", 2, 3, 5, 7) == 3 * recurrent_flops("lstm", 2, 3, 5, 7, train=False)
    # the scan cells have no hidden-to-hidden product; a second layer reads both directions
    assert recurrent_flops("mingru", 1, 1, 5, 7, train=False) == 2 * 5 * 2 * 7
    two = recurrent_flops("gru", 1, 1, 5, 7, layers=2, directions=2, train=False)
    assert two == 2 * (2 * (5 + 7) * 3 * 7) + 2 * (2 * (14 + 7) * 3 * 7)


def test_percentile_is_a_measured_value():
    ts = [float(i) for i in range(1, 101)]
    assert percentile(ts, 50) == 50.0 and percentile(ts, 99) == 99.0 and percentile([3.0], 99) == 3.0


def test_plan_covers_every_kind_and_the_issue_shapes():
    names = {c.name for c in plan()}
    for kind in ("lstm", "gru", "rnn", "mingru", "minlstm", "lnlstm", "lngru"):
        assert f"{kind}-train" in names and f"{kind}-infer" in names
    assert {"lnlstm-train", "lngru-train"} <= {c.name for c in plan(quick=True)}
    assert {"lstm-bi-train", "lstm-ragged-train", "lstm-bi-ragged-train"} <= names
    shapes = {(c.shape.B, c.shape.T, c.shape.F, c.shape.H, c.shape.layers) for c in plan()}
    assert {
        (64, 128, 9, 128, 1),
        (64, 256, 128, 512, 2),
        (16, 1024, 64, 256, 1),
        (16, 4096, 64, 256, 1),
    } <= shapes
    assert {c.name for c in plan(quick=True)} < names


@pytest.mark.parametrize(
    "case",
    [
        Case("gru", SENSOR, ragged=True, bidirectional=True, reps=1),
        Case("mingru", SENSOR, reps=1),
        Case("lnlstm", SENSOR, ragged=True, reps=1),
    ],
)
def test_measure_returns_a_complete_row(case):
    from dataclasses import replace

    small = replace(case, shape=replace(SENSOR, B=4, T=16))
    row = measure(small, peak_gflops=100.0)
    assert row["name"] == case.name and row["device"] == "cpu"
    # the layer-normalised cells are held to the fused LSTM of the same size
    assert row["reference"] == ("torch.nn.LSTM" if case.kind == "lnlstm" else "torch.nn.GRU")
    for key in ("rnnlab_per_s", "reference_per_s", "ratio", "peak_fraction"):
        assert row[key] > 0
    assert row["ratio"] == pytest.approx(row["reference_ms"] / row["ms"])


def test_cli_bench_writes_json_rows(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--only", "gru-step", "--stream-steps", "60", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["name"] for r in rows] == ["gru-step"]
    assert rows[0]["p50_us"] > 0 and rows[0]["machine"]["matmul_peak_gflops"] > 0
    assert "| gru-step |" in capsys.readouterr().out


def test_cli_bench_unknown_row_is_one_line_error(capsys):
    assert main(["bench", "--only", "nonesuch", "--stream-steps", "10"]) == 2
    assert "no benchmark row matches --only 'nonesuch'" in capsys.readouterr().err


def test_run_refuses_cuda_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="no GPU"):
        run(device="cuda")
