"""The live page: GET / and /demo/recording, and the page itself in real headless Chromium playing a real
HAPT recording through a websocket session, drawing the signal and the predicted activity, with no console
error."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rnnlab.data.har import CLASSES, FEATURES
from rnnlab.errors import DataError
from rnnlab.serve import make_app
from rnnlab.serve.demo import har_recording_from_raw, recording_from_npz
from rnnlab.serve.page import page_router

FIXTURES = Path(__file__).parents[1] / "fixtures"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def fixture_recording(seconds: float = 60.0):
    """The second subject's raw recording from the committed HAPT slice, through UCI's filters."""
    z = np.load(FIXTURES / "hapt_small.npz")
    return har_recording_from_raw(z["acc_1"], z["gyro_1"], z["label_1"], "HAPT fixture", seconds)


def test_the_recording_is_real_har_signal() -> None:
    rec = fixture_recording()
    assert rec.signals.shape == (3000, 9) and rec.fs == 50.0 and rec.features == FEATURES
    assert set(np.unique(rec.labels)) <= {-1, *range(len(CLASSES))} and (rec.labels >= 0).mean() > 0.5
    body = rec.to_json()
    assert len(body["samples"]) == 3000 and len(body["samples"][0]) == 9 and body["classes"] == CLASSES


def test_a_users_npz_recording_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "walk.npz"
    np.savez(good, x=np.zeros((50, 9), np.float32), labels=np.zeros(50, np.int64))
    assert recording_from_npz(good, FEATURES, CLASSES).signals.shape == (50, 9)
    wide = tmp_path / "wide.npz"
    np.savez(wide, x=np.zeros((50, 4), np.float32))
    with pytest.raises(DataError, match=r"shape \(50, 4\); the model reads \(n, 9\)"):
        recording_from_npz(wide, FEATURES, CLASSES)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read the demo recording"):
        recording_from_npz(bad, FEATURES, CLASSES)


def test_page_and_recording_routes(runs) -> None:
    client = TestClient(make_app(runs["recurrent"], page=False, routers=[page_router(fixture_recording)]))
    page = client.get("/")
    assert page.status_code == 200 and "live activity recognition" in page.text
    rec = client.get("/demo/recording").json()
    assert len(rec["samples"]) == 3000 and rec["fs"] == 50.0

    def missing():
        raise DataError("no archive here; fetch it first")

    client = TestClient(make_app(runs["recurrent"], page=False, routers=[page_router(missing)]))
    r = client.get("/demo/recording")
    assert r.status_code == 404 and r.json()["error"] == "no demo recording: no archive here; fetch it first"


EXPECTED = list(range(24, 3001, 12))  # the steps of 60 s at 50 Hz, window 24 (tests/serve/conftest.py), hop 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here (Debian package 'chromium')")
def test_live_page_in_headless_chromium(runs, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    import uvicorn

    port = _free_port()
    app = make_app(runs["recurrent"], page=False, routers=[page_router(fixture_recording)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start within 20 s"
    problems: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/?autoplay=1&speed=64")
            page.wait_for_function("window.rnnlabDemo.state === 'done'", timeout=90_000)
            # every sample is sent by now; the last replies may still be on their way
            page.wait_for_function(f"window.rnnlabDemo.predictions.length >= {len(EXPECTED)}", timeout=30_000)
            page.wait_for_function(f"document.getElementById('pred-count').textContent == '{len(EXPECTED)}'")
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot))
            demo = page.evaluate("window.rnnlabDemo")
            now = page.inner_text("#now")
            shown = int(page.inner_text("#pred-count"))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    assert problems == [] and demo["errors"] == []
    assert demo["sent"] == 3000  # the whole recording went through the session
    steps = [p["step"] for p in demo["predictions"]]
    assert steps == EXPECTED  # one prediction per hop after the first window
    assert shown == len(steps) and now in CLASSES
    assert shot.stat().st_size > 20_000  # a drawn page, not a blank one


def test_a_sensor_classifier_gets_the_page_and_other_runs_the_docs(runs, tmp_path: Path) -> None:
    demo = tmp_path / "mine.npz"
    np.savez(demo, x=np.ones((40, 9), np.float32), labels=np.full(40, 2))
    client = TestClient(make_app(runs["window"], demo=demo))
    assert "live activity recognition" in client.get("/").text
    rec = client.get("/demo/recording").json()
    assert rec["name"] == "mine" and len(rec["samples"]) == 40 and rec["labels"][0] == 2
    lm = TestClient(make_app(runs["charlm"]))
    r = lm.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/docs"
    assert TestClient(make_app(runs["text"])).get("/", follow_redirects=False).status_code == 307
