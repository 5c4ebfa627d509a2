"""Every bad request is a 4xx with one JSON line {"error": "..."} naming the problem and the fix: never a 500,
never FastAPI's nested validation list, and the server keeps answering."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rnnlab.serve import make_app

ROW = [0.1] * 9


def _error(r, status: int, *needles: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and "\n" not in body["error"], body
    for n in needles:
        assert n in body["error"], (n, body["error"])
    return body["error"]


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "needles"),
    [
        (
            {"sequence": [[0.1] * 8]},
            422,
            ("row 0 has 8 values but this model takes 9", "send every row with 9"),
        ),
        ({"sequence": [ROW, ROW[:5], ROW]}, 422, ("row 1 has 5 values",)),
        ({"sequences": [[ROW], [ROW[:8]]]}, 422, ("'sequences[1]' row 0 has 8 values",)),
        ({"sequence": []}, 422, ("'sequence' is empty",)),
        ({"sequences": []}, 422, ("'sequences' is empty",)),
        ({}, 422, ("exactly one of 'sequence'",)),
        ({"sequence": [ROW], "sequences": [[ROW]]}, 422, ("exactly one of",)),
        ({"sequence": "walking"}, 422, ("field 'sequence'", "GET /info")),
        ({"sequence": [["a"] * 9]}, 422, ("field 'sequence.0.0'",)),
        ([1, 2], 422, ("the body",)),
    ],
)
def test_wrong_shapes_and_types_are_422(clients, body, status, needles):
    _error(clients["recurrent"].post("/predict", json=body), status, *needles)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_inf_are_422_naming_the_value(clients, token):
    row = ", ".join([token] + ["0.1"] * 8)
    r = clients["recurrent"].post("/predict", content=f'{{"sequence": [[{row}]]}}', headers=JSON)
    _error(r, 422, "'sequence' row 0 column 'body_acc_x'", "send finite numbers")
    sid = clients["recurrent"].post("/sessions").json()["session"]
    r = clients["recurrent"].post(
        f"/sessions/{sid}/samples", content=f'{{"samples": [[{row}]]}}', headers=JSON
    )
    _error(r, 422, "'samples' row 0", "finite")
    clients["recurrent"].delete(f"/sessions/{sid}")


def test_malformed_json_wrong_content_type_and_methods(clients):
    c = clients["recurrent"]
    _error(c.post("/predict", content='{"sequence": [[1, 2', headers=JSON), 400, "not valid JSON")
    _error(
        c.post("/predict", content="1,2,3", headers={"content-type": "text/csv"}),
        415,
        "text/csv",
        "application/json",
    )
    _error(c.post("/predict", content=b'{"sequence": [[1]]}'), 415, "Content-Type none")
    _error(c.get("/predict"), 405, "GET is not allowed on /predict")
    _error(c.post("/predict", content="{}", headers={**JSON, "content-length": "x"}), 400, "Content-Length")


def test_endpoints_of_other_kinds_are_404_naming_what_this_run_serves(clients):
    msg = _error(clients["recurrent"].post("/generate", json={"prime": "a"}), 404, "/generate is not served")
    assert "POST /predict" in msg and "POST /sessions" in msg
    msg = _error(clients["charlm"].post("/predict", json={"sequence": [ROW]}), 404, "/predict is not served")
    assert "POST /generate" in msg
    _error(clients["forecast"].post("/sessions"), 404, "POST /predict")
    _error(clients["recurrent"].get("/nowhere"), 404, "it serves")


def test_unknown_session_is_404(clients):
    c = clients["recurrent"]
    _error(
        c.post("/sessions/abc/samples", json={"samples": [ROW]}), 404, "no session 'abc'", "POST /sessions"
    )
    _error(c.delete("/sessions/abc"), 404, "no session 'abc'")
    _error(c.post("/sessions", json={"hop": 0}), 422, "'hop' is 0", "from 1 to the window, 24")
    _error(c.post("/sessions", json={"hop": 25}), 422, "'hop' is 25")


def test_bodies_over_max_body_are_413_declared_or_streamed(runs):
    c = TestClient(make_app(runs["recurrent"], max_body=2000, threads=1))
    big = {"sequence": [ROW] * 100}
    _error(c.post("/predict", json=big), 413, "over this server's limit of 2000", "split a batch")

    def chunks():  # no Content-Length: the bytes are counted as they arrive
        yield b'{"sequence": ['
        for _ in range(100):
            yield b"[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],"
        yield b"[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]]}"

    _error(c.post("/predict", content=chunks(), headers=JSON), 413, "more than 2000 bytes")
    assert c.post("/predict", json={"sequence": [ROW] * 10}).status_code == 200  # under the limit: served
    with c.websocket_connect(f"/sessions/{c.post('/sessions').json()['session']}/ws") as ws:
        ws.send_json({"samples": [ROW] * 100})
        assert "over 2000 bytes" in ws.receive_json()["error"]


@pytest.mark.parametrize(
    ("kind", "path", "body", "status", "needle"),
    [
        ("charlm", "/generate", {"length": 0}, 422, "'length' is 0"),
        ("charlm", "/generate", {"temperature": 0}, 422, "temperature must be > 0"),
        ("charlm", "/generate", {"top_p": 1.5}, 422, "top_p must be in (0, 1]"),
        ("charlm", "/generate", {"length": "long"}, 422, "field 'length'"),
        ("charlm", "/generate", {"seed": 2**64}, 422, "'seed' is 18446744073709551616"),
        ("charlm", "/generate", {"seed": -1}, 422, "'seed' is -1"),
        ("forecast", "/predict", {}, 422, "field 'history' is missing"),
        ("forecast", "/predict", {"history": [[1.0, 2.0]] * 3}, 422, "the model needs the last 6"),
        ("forecast", "/predict", {"history": [[1.0, 2.0]] * 6}, 422, "send 'time'"),
        ("forecast", "/predict", {"history": [[1.0]] * 6}, 422, "row 0 has 1 values but this model takes 2"),
        (
            "forecast",
            "/predict",
            {"history": [[1.0, 2.0]] * 6, "time": ["x"] * 6},
            422,
            "not a list of timestamps",
        ),
        (
            "forecast",
            "/predict",
            {"history": [[1.0, 2.0]] * 6, "time": [f"2024-01-01 0{i}:00" for i in range(6)]},
            422,
            "send 'future' with 4 rows",
        ),
        (
            "forecast",
            "/predict",
            {
                "history": [[1.0, 2.0]] * 6,
                "time": [f"2024-01-01 0{i}:00" for i in range(6)],
                "future": [[1.0]] * 4,
                "horizon": 9,
            },
            422,
            "'horizon' is 9; send a value from 1 to 4",
        ),
        ("translate", "/predict", {"text": ""}, 422, "'text' is empty"),
        ("translate", "/predict", {"text": "a", "beam": 0}, 422, "'beam' is 0"),
        ("caption", "/predict", {"image": [[2.0] * 10] * 28}, 422, "outside [0, 1]"),
        ("caption", "/predict", {"image": [[0.5] * 10, [0.5] * 9]}, 422, "row 1 has 9 values"),
        ("caption", "/predict", {"image": []}, 422, "send 1 to 4096 per row"),
    ],
)
def test_bad_requests_of_every_kind(clients, kind, path, body, status, needle):
    _error(clients[kind].post(path, json=body), status, needle)


JUNK = [
    b"null",
    b"[]",
    b'""',
    b"{}",
    b"\xff\xfe",
    b'{"sequence": null}',
    b'{"sequences": [[]]}',
    b'{"texts": []}',
    b'{"text": 5}',
    b'{"samples": [[1e400, 0, 0, 0, 0, 0, 0, 0, 0]]}',
    b'{"samples": []}',
    b'{"prime": null}',
    b'{"prime": "", "length": 1}',
    b'{"history": [[]]}',
    b'{"history": [[1, 2]], "future": [[1]]}',
    b'{"image": [[]]}',
    b'{"image": [[0.5]]}',
    b'{"hop": "x"}',
    b'{"sequence": [[1, 2, 3, 4, 5, 6, 7, 8, 9]], "extra": {"deep": [1, [2, [3]]]}}',
]


@pytest.mark.parametrize(
    "kind", ["recurrent", "window", "text", "charlm", "forecast", "translate", "caption"]
)
def test_junk_bodies_never_break_any_endpoint(clients, kind):
    c = clients[kind]  # TestClient re-raises any server exception, so a crash fails here
    sid = c.post("/sessions").json().get("session", "none")
    for path in ("/predict", "/generate", "/sessions", f"/sessions/{sid}/samples"):
        for body in JUNK:
            r = c.post(path, content=body, headers=JSON)
            assert r.status_code < 500, (path, body, r.text)
            if r.status_code >= 400:
                _error(r, r.status_code)
    if sid != "none":
        c.delete(f"/sessions/{sid}")
