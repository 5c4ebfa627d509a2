"""`rnnlab export RUN_DIR` end to end: a run trained through the CLI exports its graphs and a manifest a
caller outside Python can work from; a saved run of another kind exports too; unknown formats, missing ONNX
packages, cells that cannot export and kinds without graphs are one-line errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import pytest
import yaml

from rnnlab.cli import main
from rnnlab.models import build_model
from rnnlab.tasks import Task, register, registry
from rnnlab.train.rundir import save_model


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, f"error should be one line, got: {err!r}"
    return err


def _saved_run(path, task: str, kind: str, data: dict, **config):
    """A run directory holding a randomly initialised model and the files open_run requires."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump({"name": task, "task": task}))
    (path / "data.json").write_text(json.dumps(data))
    save_model(path, build_model(kind, **config))
    return path


def test_a_trained_run_exports_through_the_cli(har_small, tmp_path, capsys):
    data = tmp_path / "mine.npz"
    np.savez(
        data,
        X=har_small.x,
        ids=np.array(har_small.ids),
        y=np.array([har_small.classes[i] for i in har_small.y]),
    )
    run = tmp_path / "run"
    args = [
        "train",
        "classify",
        "--data",
        str(data),
        "--out",
        str(run),
        "--epochs",
        "1",
        "--model.hidden",
        "8",
        "--model.kind",
        "SequenceClassifier",  # the classify recipe's auto would pick LSTM-FCN for these few windows
    ]
    assert main([*args, "--model.cell", "lstm", "--model.layers", "1", "--model.bidirectional", "false"]) == 0
    capsys.readouterr()
    assert main(["export", str(run)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[-1] == f"manifest: {run / 'export' / 'manifest.json'}"
    assert lines[0].startswith(str(run / "export" / "sequence.onnx")) and "max round-trip error" in lines[0]
    m = json.loads((run / "export" / "manifest.json").read_text())
    assert m["task"] == "classify" and m["model"]["kind"] == "SequenceClassifier" and m["opset"] == 17
    assert sorted(m["data"]["classes"]) == sorted(har_small.classes) and len(m["data"]["features"]) == 9
    assert m["data"]["scaler"] and m["signature"]["inputs"][0]["name"] == "x"
    assert {"torch", "onnx", "onnxruntime", "rnnlab"} <= set(m["versions"])
    seq, step = m["graphs"]
    assert [i["name"] for i in seq["inputs"]] == ["x", "lengths", "h0", "c0"]
    assert seq["inputs"][0]["dims"] == ["batch", "time", 9] and seq["inputs"][2]["dims"] == [1, "batch", 8]
    assert [o["name"] for o in seq["outputs"]] == ["logits", "h", "c"]
    assert step["name"] == "step" and all(g["max_abs_error"] < 1e-5 for g in m["graphs"])
    onnx.checker.check_model(str(run / "export" / "step.onnx"))


def test_a_saved_charlm_run_exports_to_another_directory(tmp_path, capsys):
    vocab = {"chars": list("abc\n")}
    run = _saved_run(tmp_path / "lm", "charlm", "CharLM", {"vocab": vocab}, vocab_size=4, hidden=8, layers=1)
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json",
        "sequence.onnx",
        "step.onnx",
    ]
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["data"]["vocab"] == vocab and m["graphs"][1]["inputs"][0] == {
        "name": "ids",
        "dtype": "int64",
        "dims": ["batch"],
    }


def test_export_errors_are_one_line(tmp_path, capsys, monkeypatch):
    run = _saved_run(tmp_path / "lm", "charlm", "CharLM", {}, vocab_size=4, hidden=8, layers=1)
    assert main(["export", str(run), "--format", "tflite"]) == 2
    assert "unknown export format 'tflite'; choose one of onnx" in _err(capsys)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main(["export", str(run)]) == 2
    assert "needs onnxruntime, which is not installed; pip install -e '.[export]'" in _err(capsys)
    monkeypatch.undo()
    ln = _saved_run(tmp_path / "ln", "charlm", "CharLM", {}, vocab_size=4, cell="lnlstm", hidden=8, layers=1)
    assert main(["export", str(ln)]) == 2
    assert "cell 'lnlstm' cannot be exported with a dynamic time axis" in _err(capsys)
    assert main(["export", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in _err(capsys)


def test_a_task_kind_without_graphs_says_export_does_not_support_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))  # registered for this test only

    class Stateless(Task):
        name, data_names, model_kinds = "stateless-export-test", (), ("CharLM",)

    register(Stateless)
    run = _saved_run(tmp_path / "s", "stateless-export-test", "CharLM", {}, vocab_size=4, hidden=8, layers=1)
    assert main(["export", str(run)]) == 2
    assert _err(capsys) == "error: `rnnlab export` does not support 'stateless-export-test' runs"
