"""The scripts in bench/ still run against the current models (their numbers are in docs/RESULTS.md; no timing
is asserted here): a tiny shape through each path the script measures."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from rnnlab.train.precision import bf16_native

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_charlm_throughput_runs(monkeypatch, capsys):
    args = ["--hidden", "16", "--embed", "8", "--batch", "4", "--bptt", "8", "--steps", "1", "--rounds", "1"]
    if bf16_native():
        args.append("--bf16")
    monkeypatch.setattr(sys, "argv", ["charlm_throughput.py", *args])
    runpy.run_path(str(BENCH / "charlm_throughput.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "ratio ours/plain" in out and "generate 500 characters" in out
    if bf16_native():
        assert "ratio bf16-mixed/float32" in out


def _ablation():
    return runpy.run_path(str(BENCH / "ablation.py"), run_name="ablation")


def test_ablation_kit_rows_are_valid_overrides_of_their_recipes():
    """Every kit row is a set of overrides its recipe accepts and its model builds with (no typo reaches a run)."""
    from types import SimpleNamespace

    from rnnlab import tasks
    from rnnlab.config import apply_overrides, load_recipe
    from rnnlab.tasks.charlm.data import make_lm
    from rnnlab.tasks.checks import check_recipe
    from rnnlab.tasks.classify.task import make_model

    ab = _ablation()
    for recipe, kit in (("shakespeare", ab["CHARLM_KIT"]), ("har", ab["CLASSIFY_KIT"])):
        for args in kit.values():
            words = args.split()
            over = {k.removeprefix("--"): v for k, v in zip(words[::2], words[1::2], strict=True)}
            r = apply_overrides(load_recipe(recipe), over)
            check_recipe(r, tasks.get(r.task))
            if r.task == "charlm":
                make_lm(r.model, SimpleNamespace(n_tokens=12))
            else:
                make_model(r.model, SimpleNamespace(n_features=3, n_classes=4))


def test_ablation_runs_resumes_and_tabulates(tmp_path, capsys):
    """Two options x one seed trained for real (two processes at once), a rerun skips them, the table reads
    their results.json."""
    text = Path(__file__).resolve().parents[1] / "fixtures" / "coriolanus_120k.txt"
    extra = f"--extra=--text {text} --epochs 1 --model.hidden 16 --model.layers 1 --data.bptt 16 --data.batch_size 8"
    argv = [
        "charlm",
        "--only",
        "weight_drop",
        "--seeds",
        "0",
        "--workers",
        "2",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
    ]
    ab = _ablation()
    ab["main"]([*argv, extra])
    out = capsys.readouterr().out
    assert "recipe seed 0: done" in out and "weight_drop seed 0: done" in out
    stamp = (tmp_path / "recipe_s0" / "results.json").stat().st_mtime
    ab["main"]([*argv, extra])  # resumes: nothing left to run
    out = capsys.readouterr().out
    assert "done" not in out and (tmp_path / "recipe_s0" / "results.json").stat().st_mtime == stamp
    lines = (tmp_path / "table.md").read_text().splitlines()
    assert lines[0].startswith("| option | overrides | validation nats/char, mean +- sd |")
    wd = next(line for line in lines if line.startswith("| weight_drop "))
    assert "`--model.weight_drop 0.3`" in wd and "| fused |" in wd


def test_ablation_table_statistics_and_missing_seeds(tmp_path):
    import json

    ab = _ablation()
    for name, seed, acc in (("recipe", 0, 0.90), ("recipe", 1, 0.94), ("orthogonal", 0, 0.95)):
        d = tmp_path / f"{name}_s{seed}"
        d.mkdir()
        res = {"test": {"accuracy": acc}, "train_seconds": 100.0, "path": "fused"}
        (d / "results.json").write_text(json.dumps(res))
    rows = ab["collect"](
        tmp_path, {"recipe": "", "orthogonal": "--model.init orthogonal", "zoneout": "-z"}, [0, 1]
    )
    assert abs(rows[0]["mean"] - 0.92) < 1e-12 and abs(rows[0]["sd"] - 0.02828427) < 1e-6
    text = ab["table"](rows)
    assert (
        "| orthogonal | `--model.init orthogonal` | 0.9500 +- 0.0000 | +0.0300 | 0.9500 (seeds 1 missing) |"
        in text
    )
    assert "| zoneout | `-z` | not run |" in text


def test_ablation_refuses_an_unknown_option_name():
    import pytest

    with pytest.raises(SystemExit, match="unknown option.*'zonout'.*the charlm kit has"):
        _ablation()["main"](["shakespeare", "--only", "zonout", "--dry-run"])


def test_ablation_table_counts_stuck_streams_of_character_models(tmp_path):
    import json

    ab = _ablation()
    for seed, (loss, median, stuck) in enumerate(((2.2, 1.8, True), (1.8, 1.79, False))):
        d = tmp_path / f"forget_bias_s{seed}"
        d.mkdir()
        val = {"loss_nats": loss, "median_stream_loss": median, "stuck": stuck}
        res = {"val": val, "train_seconds": 200.0, "chars_trained": 4_000_000, "path": "fused"}
        (d / "results.json").write_text(json.dumps(res))
    text = ab["table"](ab["collect"](tmp_path, {"forget_bias": "--model.forget_bias 1.0"}, [0, 1]))
    assert "| median stream, mean +- sd | seeds stuck | path |" in text.splitlines()[0]
    assert "| 4.00 M | 1.7950 +- 0.0071 | 1 of 2 | fused |" in text


def test_ablation_bad_seeds_and_foreign_results_are_one_line_errors(tmp_path):
    import pytest

    ab = _ablation()
    with pytest.raises(SystemExit, match="--seeds '0,x' must be comma-separated integers, e.g. 0,1,2"):
        ab["main"](["shakespeare", "--seeds", "0,x", "--dry-run"])
    (tmp_path / "recipe_s0").mkdir()
    (tmp_path / "recipe_s0" / "results.json").write_text('{"test": {"mae": 1.0}}')
    with pytest.raises(
        SystemExit, match=r"recipe_s0/results.json has neither val.loss_nats nor test.accuracy"
    ):
        ab["main"](
            ["shakespeare", "--seeds", "0", "--only", "zoneout", "--table-only", "--out", str(tmp_path)]
        )


def test_zoneout_speed_times_the_three_paths():
    from rnnlab.nn import native

    mod = runpy.run_path(str(BENCH / "zoneout_speed.py"), run_name="zoneout_speed")
    mod["SHAPES"]["tiny"] = (3, 5, 4, 6, True, "lstm")
    rows = mod["measure"]("tiny", 0.2, 1, bf16_native())
    loop = "sequence" if native.load() is not None else "reference"
    assert [path for _, path, _ in rows[:3]] == ["fused", loop, "reference"]
    assert all(ms > 0 for _, _, ms in rows)
