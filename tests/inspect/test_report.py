"""`rnnlab inspect`: report.html for a classifier and a character model, bad run directories, a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rnnlab.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ARTIFACTS = Path(
    os.environ.get("RNNLAB_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


@pytest.fixture(scope="module")
def clf_run(har_small, tmp_path_factory) -> Path:
    """A bidirectional GRU trained on real HAR windows saved as the user's npz (so inspect can reload them)."""
    tmp = tmp_path_factory.mktemp("clf")
    data = tmp / "mine.npz"
    np.savez(
        data,
        X=har_small.x,
        y=np.array([har_small.classes[i] for i in har_small.y]),
        ids=np.array(har_small.ids),
    )
    run = tmp / "run"
    argv = [
        "train",
        "classify",
        "--data",
        str(data),
        "--out",
        str(run),
        "--epochs",
        "4",
        "--model.hidden",
        "16",
    ]
    assert main(argv) == 0
    return run


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("lm") / "run"
    text = FIXTURES / "coriolanus_120k.txt"
    argv = [
        "train",
        "charlm",
        "--text",
        str(text),
        "--out",
        str(run),
        "--epochs",
        "1",
        "--model.hidden",
        "32",
    ]
    assert main(argv + ["--model.layers", "1", "--data.batch_size", "16"]) == 0
    return run


def _images(page: str) -> list[str]:
    return re.findall(r'<img src="(data:image/png;base64,[^"]+)"', page)


def test_classifier_report_has_every_section(clf_run, capsys):
    assert main(["inspect", str(clf_run)]) == 0
    page = (clf_run / "report.html").read_text()
    for heading in (
        "Training curves",
        "confusion and per-class",
        "Calibration",
        "Lowest-confidence",
        "confidently wrong",
        "Hidden units over time",
        "Gradient norm through time",
    ):
        assert heading in page, heading
    assert len(_images(page)) >= 8
    assert "http://" not in page and "https://" not in page  # self-contained: opens offline
    assert "walking" in page and "ECE" in page


def test_language_model_report_finds_units(lm_run):
    assert main(["inspect", str(lm_run)]) == 0
    page = (lm_run / "report.html").read_text()
    assert "Samples at several temperatures" in page and "Units that track the text" in page
    assert 'class="chars"' in page and "Gradient norm through time" in page
    rows = re.findall(r"<td>([^<]+)</td><td>([hcifgo]\[\d+\])</td><td>([+-][0-9.]+)</td>", page)
    assert rows and all(-1 <= float(r) <= 1 for _, _, r in rows)


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda r: (r / "metrics.csv").unlink(), "no metrics.csv"),
        (lambda r: (r / "results.json").write_text("{not json"), "results.json is corrupt"),
        (lambda r: (r / "metrics.csv").write_text("epoch,val_loss\nthree,1.0\n"), "metrics.csv is corrupt"),
        (lambda r: (r / "model.safetensors").unlink(), "missing model.safetensors"),
        (lambda r: (r / "model.json").write_text("[]"), "unreadable"),
    ],
)
def test_damaged_run_directories_name_the_file(lm_run, tmp_path, capsys, damage, match):
    run = tmp_path / "copy"
    shutil.copytree(lm_run, run)
    (run / "report.html").unlink(missing_ok=True)
    damage(run)
    assert main(["inspect", str(run)]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (run / "report.html").exists()


def _chromium() -> str | None:
    """Debian's chromium, installed with apt-get when missing and possible; None when it cannot be had."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900
        )
    return shutil.which("chromium")


def test_report_renders_in_headless_chromium(clf_run, tmp_path):
    """Real Chromium loads the page: no console errors, every image decoded; a screenshot is kept."""
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed and could not be installed with apt-get")
    assert main(["inspect", str(clf_run)]) == 0
    page = clf_run / "report.html"
    n_images = len(_images(page.read_text()))
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'p'}",
    ]
    dom = subprocess.run(
        [
            browser,
            *flags,
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert f'data-images="{n_images}/{n_images}"' in dom.stdout
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
    assert not console, console
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1280,3000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=180,
    )
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_gradient_demo_from_the_command_line(tmp_path, monkeypatch, capsys):
    """The CLI runs the demo (shrunk here to seconds) and prints one line per cell and length."""
    from rnnlab.inspect import gradflow

    real = gradflow.run_gradient_demo
    monkeypatch.setattr(
        gradflow,
        "run_gradient_demo",
        lambda out: real(out, lengths=(12,), cells=("rnn", "lstm"), hidden=8, steps=5),
    )
    assert main(["inspect", "--gradient-demo", "--out", str(tmp_path / "gd")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "gd" / "gradient_demo.png").is_file() and (
        tmp_path / "gd" / "gradient_demo.json"
    ).is_file()
    assert out.count("cell=") == 2
    assert main(["inspect"]) == 2
    assert "needs a run directory" in capsys.readouterr().err
