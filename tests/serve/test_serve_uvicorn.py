"""`rnnlab serve RUN` for real: uvicorn in a subprocess on 127.0.0.1 and a free port answers /health, a
session over a real websocket, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rnnlab_serve_answers_on_loopback_and_stops(runs):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [
        sys.executable,
        "-m",
        "rnnlab.cli",
        "serve",
        str(runs["recurrent"]),
        "--port",
        str(port),
        "--max-sessions",
        "2",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"rnnlab serve did not come up: {proc.communicate(timeout=5)[0]}")
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["task"] == "classify"
        assert httpx.get(f"{url}/info").json()["sessions"]["max_sessions"] == 2
        sid = httpx.post(f"{url}/sessions", json={"hop": 4}).json()["session"]
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{port}/sessions/{sid}/ws") as ws:
            for _ in range(24):
                ws.send(json.dumps({"samples": [[0.1] * 9]}))
                reply = json.loads(ws.recv(timeout=10))
        assert reply["seen"] == 24 and reply["predictions"][0]["step"] == 24
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None


def test_serve_without_fastapi_says_what_to_install(runs, monkeypatch, capsys):
    import builtins

    from rnnlab.cli import main

    real = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ImportError("No module named 'uvicorn'", name="uvicorn")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    assert main(["serve", str(runs["recurrent"])]) == 2
    assert "pip install -e '.[serve]'" in capsys.readouterr().err
