"""Character LM end to end on real Shakespeare (the committed Coriolanus extract): train, generate, evaluate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rnnlab.cli import main

TEXT = Path(__file__).resolve().parents[1] / "fixtures" / "coriolanus_120k.txt"
SMALL = ["--model.hidden", "64", "--model.layers", "1", "--model.embed", "16", "--data.batch_size", "16"]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lm") / "run"
    argv = ["train", "charlm", "--text", str(TEXT), "--out", str(out), "--epochs", "3", *SMALL]
    assert main(argv + ["--train.lr", "0.01", "--train.patience", "0"]) == 0
    return out


def test_training_learns_and_writes_the_run(lm_run):
    r = json.loads((lm_run / "results.json").read_text())
    v = r["val"]
    # a unigram model of this text scores ~3.3 nats/char; three short epochs must already beat it clearly
    assert v["loss_nats"] < 2.6
    assert v["bits_per_char"] == pytest.approx(v["loss_nats"] / math.log(2))
    assert v["perplexity"] == pytest.approx(math.exp(v["loss_nats"]))
    assert r["chars_per_second"] > 0 and r["carry"] is True
    for f in ("config.yaml", "data.json", "model.json", "model.safetensors", "metrics.csv", "samples.txt"):
        assert (lm_run / f).is_file(), f
    samples = (lm_run / "samples.txt").read_text()
    assert all(f"temperature {t}" in samples for t in ("0.5", "0.8", "1.0"))
    vocab = json.loads((lm_run / "data.json").read_text())["vocab"]
    assert vocab["fallback"] == " " and len(vocab["chars"]) > 50


def test_generate_same_seed_same_text(lm_run, capsys):
    argv = ["generate", str(lm_run), "--prime", "MENENIUS.", "--length", "80", "--temperature", "0.8"]
    assert main(argv + ["--seed", "3"]) == 0
    a = capsys.readouterr().out
    assert main(argv + ["--seed", "3"]) == 0
    b = capsys.readouterr().out
    assert main(argv + ["--seed", "4"]) == 0
    c = capsys.readouterr().out
    assert a == b and a != c and a.startswith("MENENIUS.") and len(a.rstrip("\n")) >= 80
    assert main(["generate", str(lm_run), "--length", "20", "--greedy", "--top-k", "5"]) == 0


def test_prime_outside_the_vocabulary_falls_back(lm_run, capsys):
    assert main(["generate", str(lm_run), "--prime", "ROMEO~\u00e9", "--length", "10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ROMEO~\u00e9")


def test_evaluate_on_a_text_file(lm_run, tmp_path, capsys):
    assert main(["evaluate", str(lm_run), "--data", str(TEXT), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["chars"] > 100_000 and m["loss_nats"] < 2.6


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--temperature", "0"], "temperature must be > 0"),
        (["--length", "0"], "length must be >= 1"),
        (["--top-p", "0"], "top_p must be in"),
    ],
)
def test_bad_generation_settings(lm_run, capsys, extra, match):
    assert main(["generate", str(lm_run), *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "content, match",
    [(b"", "is empty"), (b"\x00\x01\x02binary" * 300, "binary"), (b"short text\n", "at least")],
)
def test_bad_text_files(tmp_path, capsys, content, match):
    p = tmp_path / "t.txt"
    p.write_bytes(content)
    assert main(["train", "charlm", "--text", str(p), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_charlm_without_text_and_wrong_kind(tmp_path, capsys):
    assert main(["train", "charlm"]) == 2
    assert "--text PATH" in capsys.readouterr().err
    assert main(["train", "charlm", "--text", str(TEXT), "--model.kind", "SequenceClassifier"]) == 2
    assert "choose one of ['CharLM']" in capsys.readouterr().err


def test_no_carry_random_windows_also_train(tmp_path):
    out = tmp_path / "nc"
    argv = ["train", "charlm", "--text", str(TEXT), "--out", str(out), "--epochs", "1", *SMALL]
    assert main(argv + ["--data.carry", "false", "--model.cell", "gru"]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["carry"] is False and r["val"]["loss_nats"] < 3.5


def test_time_budget_schedule_follows_the_clock(monkeypatch):
    """With a wall-clock budget the LR anneals by time used when that runs out before the steps do."""
    from rnnlab.train import optim as tasks

    now = [100.0]
    monkeypatch.setattr(tasks.time, "perf_counter", lambda: now[0])
    p = tasks._Progress(total=1000, budget_s=60.0)
    assert p.factor(0, warm=0.02) == pytest.approx(1e-3)  # the clock starts at step 0, warm-up begins
    now[0] += 30.0  # half the budget gone after only 10 of 1000 steps: half-way down the cosine
    assert p.factor(10, warm=0.0) == pytest.approx(0.5, abs=1e-6)
    now[0] += 60.0
    assert p.factor(11, warm=0.0) == pytest.approx(1e-3)
    assert p.factor(500, warm=0.0) == pytest.approx(1e-3)  # never below the floor, never negative
