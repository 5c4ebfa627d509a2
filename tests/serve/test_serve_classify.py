"""Classifier serving: /predict equals `rnnlab predict`'s probabilities (same scaler), and streaming sessions,
recurrent (staggered states) and windowed (bidirectional CNN-LSTM), equal the model on the same windows."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import WINDOW
from rnnlab.data.har import CLASSES, FEATURES
from rnnlab.data.sequences import SequenceSet
from rnnlab.serve import make_app
from rnnlab.tasks.classify.evaluate import predict_probs
from rnnlab.train.rundir import open_run


def _probs(run, windows: list[np.ndarray]) -> np.ndarray:
    """What `rnnlab predict` computes for these raw windows (any lengths)."""
    lengths = np.array([len(w) for w in windows])
    x = np.zeros((len(windows), lengths.max(), 9), np.float32)
    for i, w in enumerate(windows):
        x[i, : len(w)] = w
    return predict_probs(open_run(run), SequenceSet(x, lengths, None, list(CLASSES), list(FEATURES)))


def _as_array(pred: dict) -> np.ndarray:
    return np.array([pred["probabilities"][c] for c in CLASSES])


@pytest.mark.parametrize("kind", ["recurrent", "window"])
def test_predict_one_and_a_batch_of_different_lengths(runs, clients, har_small, kind):
    c = clients[kind]
    seqs = [har_small.x[0, :WINDOW], har_small.x[5, :17], har_small.x[40, :WINDOW]]
    want = _probs(runs[kind], seqs)
    one = c.post("/predict", json={"sequence": seqs[0].tolist()})
    assert one.status_code == 200, one.text
    np.testing.assert_allclose(_as_array(one.json()["prediction"]), want[0], atol=1e-6)
    assert one.json()["prediction"]["label"] == CLASSES[int(want[0].argmax())]
    batch = c.post("/predict", json={"sequences": [s.tolist() for s in seqs]}).json()["predictions"]
    np.testing.assert_allclose(np.stack([_as_array(p) for p in batch]), want, atol=1e-6)


def _stream(c: TestClient, stream: np.ndarray, hop: int | None, chunks: list[int]) -> tuple[dict, list[dict]]:
    made = c.post("/sessions", json={} if hop is None else {"hop": hop})
    assert made.status_code == 200, made.text
    sid, preds, i, k = made.json()["session"], [], 0, 0
    while i < len(stream):
        n = chunks[k % len(chunks)]
        r = c.post(f"/sessions/{sid}/samples", json={"samples": stream[i : i + n].tolist()})
        assert r.status_code == 200, r.text
        assert r.json()["seen"] == min(i + n, len(stream))
        preds += r.json()["predictions"]
        i, k = i + n, k + 1
    assert c.delete(f"/sessions/{sid}").status_code == 200
    return made.json(), preds


@pytest.mark.parametrize(
    ("kind", "hop", "mode"),
    [
        ("recurrent", None, "recurrent"),
        ("recurrent", 7, "recurrent"),
        ("recurrent", 1, "recurrent"),
        ("window", None, "window"),
        ("window", 5, "window"),
    ],
)
def test_sessions_equal_the_model_on_the_same_windows(runs, clients, har_small, kind, hop, mode):
    stream = np.concatenate([har_small.x[i] for i in (0, 30, 60)])[
        : 3 * WINDOW + 5
    ]  # real samples, 3 activities
    made, preds = _stream(clients[kind], stream, hop, chunks=[1, 5, 13, 2])
    hop = hop or WINDOW // 2
    assert made["mode"] == mode and made["window"] == WINDOW and made["hop"] == hop
    steps = list(range(WINDOW, len(stream) + 1, hop))
    assert [p["step"] for p in preds] == steps
    want = _probs(runs[kind], [stream[n - WINDOW : n] for n in steps])
    np.testing.assert_allclose(np.stack([_as_array(p) for p in preds]), want, atol=1e-5)


def test_websocket_session_sends_predictions_as_they_are_made(runs, clients, har_small):
    c = clients["recurrent"]
    sid = c.post("/sessions").json()["session"]
    stream = har_small.x[3, :WINDOW].tolist() + har_small.x[70, : WINDOW // 2].tolist()
    preds = []
    with c.websocket_connect(f"/sessions/{sid}/ws") as ws:
        for row in stream:
            ws.send_json({"samples": [row]})
            preds += ws.receive_json()["predictions"]
        ws.send_json({"samples": [[1.0] * 8]})  # a bad message: an error reply, the session goes on
        assert "has 8 values but this model takes 9" in ws.receive_json()["error"]
        ws.send_text("{not json")
        assert "not valid JSON" in ws.receive_json()["error"]
        ws.send_json({"samples": [stream[0]]})
        assert ws.receive_json()["seen"] == len(stream) + 1
    assert [p["step"] for p in preds] == [WINDOW, WINDOW + WINDOW // 2]
    want = _probs(runs["recurrent"], [np.array(stream[:WINDOW]), np.array(stream[WINDOW // 2 :])])
    np.testing.assert_allclose(np.stack([_as_array(p) for p in preds]), want, atol=1e-5)
    assert c.delete(f"/sessions/{sid}").status_code == 200
    with c.websocket_connect("/sessions/nope/ws") as ws:
        ws.send_json({"samples": [stream[0]]})
        assert "no session 'nope'" in ws.receive_json()["error"]


def test_session_limit_expiry_and_delete(runs):
    c = TestClient(make_app(runs["recurrent"], max_sessions=2, session_ttl=2.0, threads=1))
    a, b = (c.post("/sessions").json()["session"] for _ in range(2))
    full = c.post("/sessions")
    assert full.status_code == 429 and "already holds 2 sessions" in full.json()["error"]
    assert c.delete(f"/sessions/{a}").status_code == 200
    assert c.delete(f"/sessions/{a}").status_code == 404
    assert c.post("/sessions").status_code == 200  # a's place is free again
    time.sleep(2.2)  # both idle past the ttl: expired, room for two more
    r = c.post(f"/sessions/{b}/samples", json={"samples": [[0.0] * 9]})
    assert r.status_code == 404 and "idle over" in r.json()["error"]
    assert all(c.post("/sessions").status_code == 200 for _ in range(2))


def test_a_text_classifier_takes_documents_tokenised_as_in_training(runs, clients):
    from rnnlab.data.tokens import TokenVocab

    files = open_run(runs["text"])
    docs = ["a good day", "bad awful unseen words", ""]
    ids, lengths = TokenVocab.from_dict(files.data["vocab"]).encode(docs)
    want = predict_probs(
        files, SequenceSet(ids[:, :, None].astype(np.float32), lengths, None, ["neg", "pos"], ["token"])
    )
    got = clients["text"].post("/predict", json={"texts": docs}).json()["predictions"]
    np.testing.assert_allclose(
        [[p["probabilities"][c] for c in ("neg", "pos")] for p in got], want, atol=1e-6
    )
    one = clients["text"].post("/predict", json={"text": docs[0]}).json()["prediction"]
    # one document alone and in a batch: equal up to float32 rounding (oneDNN blocks by batch size)
    assert one["probabilities"]["pos"] == pytest.approx(got[0]["probabilities"]["pos"], abs=1e-6)
    r = clients["text"].post("/predict", json={"sequence": [[1.0]]})
    assert (
        r.status_code == 422 and "text classifier: send exactly one of 'text' or 'texts'" in r.json()["error"]
    )
    assert clients["text"].post("/sessions").status_code == 404  # documents, not streams


def test_concurrent_pushes_to_one_session_are_applied_one_after_another(runs, har_small):
    from concurrent.futures import ThreadPoolExecutor

    from rnnlab.serve.sessions import Session
    from rnnlab.serve.streams import RecurrentStream

    files = open_run(runs["recurrent"])
    session = Session("s", RecurrentStream(files.model, WINDOW, 6), lambda p: {"label": int(p.argmax())})
    rows = har_small.x[0, :10]
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: session.push(rows), range(12)))
    assert session.stream.seen == 120
    steps = sorted(p["step"] for r in replies for p in r["predictions"])
    assert steps == list(range(WINDOW, 121, 6))  # every window once, none lost or doubled
