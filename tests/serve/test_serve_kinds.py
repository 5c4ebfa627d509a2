"""Character LMs, forecasters and seq2seq runs served: the same answers as their CLI verbs give."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from rnnlab.tasks.charlm.generate import generate_text
from rnnlab.tasks.forecast.predict import forecast_run
from rnnlab.tasks.seq2seq.predict import caption, translate


def test_generate_streams_the_same_text_as_rnnlab_generate(runs, clients):
    c = clients["charlm"]
    body = {"prime": "the ", "length": 60, "temperature": 0.9, "top_k": 10, "top_p": 0.95, "seed": 7}
    with c.stream("POST", "/generate", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        chunks = list(r.iter_text())
    text = "".join(chunks)
    assert len(chunks) > 10  # streamed as sampled, not in one piece
    assert text == generate_text(runs["charlm"], "the ", 60, 0.9, 10, 0.95, seed=7)
    assert c.post("/generate", json=body).text == text  # same seed, same text
    other = c.post("/generate", json={**body, "seed": 8}).text
    assert other != text and len(other) == len(text)
    greedy = c.post("/generate", json={"prime": "a", "length": 5, "greedy": True}).text
    assert greedy == generate_text(runs["charlm"], "a", 5, greedy=True)


def test_forecast_from_a_posted_history_equals_rnnlab_forecast(runs, clients):
    run = runs["forecast"]
    frame = pd.read_csv(run / "series.csv")
    want = forecast_run(run)  # a measured future covariate: forecasts the last 4 rows from the 6 before
    hist, ahead = frame.iloc[-10:-4], frame.iloc[-4:]
    body = {
        "history": hist[["y", "temp"]].values.tolist(),
        "time": hist["time"].tolist(),
        "future": ahead[["temp"]].values.tolist(),
    }
    r = clients["forecast"].post("/predict", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    np.testing.assert_allclose(out["forecast"], want.forecast, rtol=1e-5)
    np.testing.assert_allclose(out["lower"], want.lower, rtol=1e-5)
    np.testing.assert_allclose(out["upper"], want.upper, rtol=1e-5)
    assert out["time"] == [str(t) for t in want.time] and out["interval"] == 0.8
    longer = {
        **body,
        "history": frame[["y", "temp"]].values[:-4].tolist(),
        "time": frame["time"][:-4].tolist(),
    }
    assert (
        clients["forecast"].post("/predict", json=longer).json()["forecast"] == out["forecast"]
    )  # last 6 used
    two = clients["forecast"].post("/predict", json={**body, "horizon": 2}).json()
    assert two["forecast"] == out["forecast"][:2] and len(two["time"]) == 2
    info = clients["forecast"].get("/info").json()
    assert info["history_columns"] == ["y", "temp"] and info["future_columns"] == ["temp"]


def test_translate_and_caption_equal_the_cli_verbs(runs, clients):
    r = clients["translate"].post("/predict", json={"text": "thou art", "beam": 3})
    assert r.status_code == 200, r.text
    want = translate(runs["translate"], "thou art", beam=3)
    assert r.json()["output"] == want["output"] and abs(r.json()["score"] - want["score"]) < 1e-5
    image = np.random.default_rng(0).uniform(0, 1, (28, 56))
    r = clients["caption"].post("/predict", json={"image": image.tolist(), "beam": 1})
    assert r.status_code == 200, r.text
    want = caption(runs["caption"], image, beam=1)
    assert r.json()["words"] == want["words"] and r.json()["output"] == want["output"]


def test_health_info_and_docs(clients):
    c = clients["recurrent"]
    assert c.get("/health").json() == {
        "status": "ok",
        "task": "classify",
        "model": "SequenceClassifier",
        "run": c.get("/health").json()["run"],
    }
    info = c.get("/info").json()
    assert info["signature"]["inputs"][0]["dims"] == ["batch", "time", 9]
    assert info["sessions"]["mode"] == "recurrent" and info["sessions"]["window"] == 24
    assert "POST /predict" in info["endpoints"] and "WS /sessions/{sid}/ws" in info["endpoints"]
    window = clients["window"].get("/info").json()["sessions"]
    assert window["mode"] == "window" and "bidirectional" in window["why_window"]
    assert "vocabulary" in clients["charlm"].get("/info").json()
    assert c.get("/docs").status_code == 200
    paths = json.loads(c.get("/openapi.json").text)["paths"]
    assert {"/health", "/info", "/predict", "/sessions", "/sessions/{sid}/samples", "/sessions/{sid}"} <= set(
        paths
    )
    assert "/generate" in clients["charlm"].get("/openapi.json").json()["paths"]


def test_extra_routers_and_a_static_page_at_the_root(runs, tmp_path):
    from fastapi import APIRouter
    from fastapi.staticfiles import StaticFiles
    from fastapi.testclient import TestClient

    from rnnlab.serve import make_app

    (tmp_path / "index.html").write_text("<h1>live HAR</h1>")
    demo = APIRouter()
    demo.get("/demo/recording")(lambda: {"samples": [[0.0] * 9]})
    app = make_app(
        runs["window"], page=False, routers=[demo], mounts={"/": StaticFiles(directory=tmp_path, html=True)}
    )
    c = TestClient(app)
    assert "live HAR" in c.get("/").text
    assert c.get("/demo/recording").json() == {"samples": [[0.0] * 9]}
    assert c.get("/health").json()["task"] == "classify"
    assert "GET /demo/recording" in c.get("/info").json()["endpoints"]
    assert c.post("/sessions").status_code == 200
