"""The clinical recipe: patient-level split, AUROC/AUPRC with bootstrap intervals, last-visit baseline."""

from __future__ import annotations

import json

import pytest

from rnnlab.cli import main


@pytest.mark.slow
def test_clinical_recipe_reports_auroc_with_intervals_against_last_visit_logreg(tmp_path):
    assert main(["train", "clinical", "--out", str(tmp_path / "run")]) == 0
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    t = r["test"]
    assert t["n"] == 56 or 50 <= t["n"] <= 60
    for k in ("auroc", "auprc"):
        lo, hi = t[f"{k}_ci95"]
        assert lo <= t[k] <= hi and hi - lo < 0.6
    assert t["auroc"] > 0.6  # better than chance on patients never seen in training
    b = r["baselines"]["last_step_logreg"]
    assert 0.5 < b["auroc"] < 1 and "auroc_ci95" in b
