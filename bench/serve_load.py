"""Load test of `rnnlab serve` on loopback: requests/s and p50/p99 latency at 1, 8 and 64 concurrent clients.

Usage: python bench/serve_load.py [--requests 1000] [--cap 20] [--levels 1,8,64] [--hidden 64] [--har-recipe]
                                  [--json FILE]
Writes a HAR-shaped classifier run (128 steps x 9 features, 6 classes, a random-init LSTM of width `hidden`:
speed does not depend on the weights) to a temp directory, starts `rnnlab serve` on it in a subprocess on
127.0.0.1 and a free port, and at each level drives it with asyncio clients (httpx.AsyncClient, websockets):
  predict   POST /predict with one 128 x 9 window
  samples   POST /sessions/{id}/samples with 1 sample (one streamed step; every client has its own session)
  websocket the same one-sample message over /sessions/{id}/ws, timed until its reply
Each client has its own connection, opened (with its session) before the clock starts; each level sends a
fixed number of requests (--requests) or stops at --cap seconds, whichever comes first; every answer that is
not a 200 (or a websocket reply without predictions) counts as an error. Only
127.0.0.1 is ever contacted. The server and the clients share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from websockets.asyncio.client import connect

from rnnlab.config import DataConfig, ModelConfig, Recipe
from rnnlab.data.har import CLASSES, FEATURES
from rnnlab.models import build_model
from rnnlab.train.rundir import save_model, write_json, write_yaml

HOST = "127.0.0.1"  # loopback only, by design
WINDOW = 128


def make_run(path: Path, hidden: int, har_recipe: bool = False) -> Path:
    """A HAR-shaped LSTM classifier run: unidirectional (sessions stream in recurrent mode), or with
    `har_recipe` the built-in recipe's CNN front-end + bidirectional LSTM (window mode)."""
    torch.manual_seed(0)
    extra = (
        dict(bidirectional=True, readout="mean", conv_channels=64, conv_layers=2, conv_kernel=5)
        if har_recipe
        else {}
    )
    model = build_model(
        "SequenceClassifier", n_features=9, n_classes=6, cell="lstm", hidden=hidden, layers=1, **extra
    )
    path.mkdir(parents=True, exist_ok=True)
    recipe = Recipe(
        name="har-load", task="classify", data=DataConfig(name="har"), model=ModelConfig(hidden=hidden)
    )
    write_yaml(path / "config.yaml", recipe.to_dict())
    write_json(
        path / "data.json",
        {
            "name": "har",
            "classes": list(CLASSES),
            "features": list(FEATURES),
            "scaler": {"mean": [0.0] * 9, "std": [1.0] * 9},
            "max_len": WINDOW,
        },
    )
    save_model(path, model)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(run: Path, port: int, max_sessions: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "rnnlab.cli",
        "serve",
        str(run),
        "--host",
        HOST,
        "--port",
        str(port),
        "--max-sessions",
        str(max_sessions),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"rnnlab serve did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.2)


class Budget:
    """A shared count of requests left and a deadline: every client stops when either runs out."""

    def __init__(self, n: int, cap: float) -> None:
        self.left, self.deadline = n, time.perf_counter() + cap

    def take(self) -> bool:
        if self.left <= 0 or time.perf_counter() > self.deadline:
            return False
        self.left -= 1
        return True


async def run_level(scenario: str, base: str, clients: int, n: int, cap: float) -> dict:
    """One scenario at one level: every client connects (and opens its session) first; the clock runs from
    the moment all are ready until the last timed request is answered."""
    rng = np.random.default_rng(0)
    window = {"sequence": rng.normal(size=(WINDOW, 9)).round(4).tolist()}
    sample = {"samples": rng.normal(size=(1, 9)).round(4).tolist()}
    latencies: list[float] = []
    errors, ready, go = 0, 0, asyncio.Event()
    budget = Budget(n, cap + 1e9)  # the cap starts with the clock, below

    async def one_client() -> None:
        nonlocal errors, ready
        async with httpx.AsyncClient(
            base_url=base, timeout=30
        ) as http:  # its own connection, like a real client
            sid = None
            if scenario == "predict":
                await http.get("/health")  # connect before the clock starts
            else:
                r = await http.post("/sessions", json={})
                sid = r.json()["session"] if r.status_code == 200 else None
                errors += sid is None
            ws = (
                await connect(f"ws://{HOST}:{base.rsplit(':', 1)[1]}/sessions/{sid}/ws")
                if scenario == "websocket"
                else None
            )
            ready += 1
            await go.wait()
            try:
                path, body = (
                    ("/predict", window) if scenario == "predict" else (f"/sessions/{sid}/samples", sample)
                )
                while sid is not None or scenario == "predict":
                    if not budget.take():
                        break
                    t0 = time.perf_counter()
                    try:
                        if ws is not None:
                            await ws.send(json.dumps(sample))
                            ok = "predictions" in json.loads(await ws.recv())
                        else:
                            ok = (await http.post(path, json=body)).status_code == 200
                    except (httpx.HTTPError, OSError):
                        ok = False
                    latencies.append(time.perf_counter() - t0)
                    ends.append(time.perf_counter())
                    errors += not ok
            finally:
                if ws is not None:
                    await ws.close()
                if sid is not None:
                    await http.delete(f"/sessions/{sid}")

    ends: list[float] = []
    tasks = [asyncio.create_task(one_client()) for _ in range(clients)]
    while ready < clients and not any(t.done() for t in tasks):
        await asyncio.sleep(0.01)
    start = time.perf_counter()
    budget.deadline = start + cap
    go.set()
    await asyncio.gather(*tasks)
    seconds = (max(ends) if ends else time.perf_counter()) - start
    lat = np.array(latencies) * 1000
    return {
        "scenario": scenario,
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(seconds, 2),
        "req_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--requests", type=int, default=1000, help="requests per scenario and level (default 1000)"
    )
    p.add_argument(
        "--cap", type=float, default=20.0, help="seconds per scenario and level at most (default 20)"
    )
    p.add_argument("--levels", default="1,8,64", help="concurrent clients (default 1,8,64)")
    p.add_argument("--hidden", type=int, default=64, help="LSTM width (default 64)")
    p.add_argument(
        "--har-recipe", action="store_true", help="the HAR recipe's CNN + bidirectional LSTM (window mode)"
    )
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args()
    levels = [int(v) for v in args.levels.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp) / "har-load", args.hidden, args.har_recipe)
        port = free_port()
        server = start_server(run, port, max_sessions=max(levels) + 8)
        try:
            for scenario in ("predict", "samples", "websocket"):
                for clients in levels:
                    row = asyncio.run(
                        run_level(scenario, f"http://{HOST}:{port}", clients, args.requests, args.cap)
                    )
                    rows.append(row)
                    print(
                        f"  {scenario:>9s} x{clients:<3d} {row['req_per_s']:8.1f} req/s  p50 {row['p50_ms']} ms  "
                        f"p99 {row['p99_ms']} ms  errors {row['errors']}",
                        file=sys.stderr,
                    )
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    model = "CNN + bidirectional LSTM (window sessions)" if args.har_recipe else "LSTM (recurrent sessions)"
    print(
        f"\n`rnnlab serve` on {HOST}, {model} {args.hidden} on 128 x 9 windows, {os.cpu_count()} cores shared "
        "with the clients\n"
    )
    print("| endpoint | clients | requests | errors | requests/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    names = {
        "predict": "POST /predict (one 128x9 window)",
        "samples": "POST /sessions/{id}/samples (1 sample)",
        "websocket": "websocket /sessions/{id}/ws (1 sample)",
    }
    for r in rows:
        print(
            f"| {names[r['scenario']]} | {r['clients']} | {r['requests']} | {r['errors']} | {r['req_per_s']} | "
            f"{r['p50_ms']} | {r['p99_ms']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
