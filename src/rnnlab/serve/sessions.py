"""Streaming sessions: a classifier following a live sensor stream (POST /sessions, then samples by POST or
over a websocket, DELETE when done). The store caps the number of sessions (429 beyond), expires idle ones and
gives each its own lock, so concurrent requests to one session are applied one after another."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable

import numpy as np
from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from rnnlab.serve.errors import ApiError, validation_message
from rnnlab.serve.streams import Stream
from rnnlab.serve.work import INLINE_STEPS


class Session:
    """One stream of samples and its classifier state; `lock` serialises pushes."""

    def __init__(self, sid: str, stream: Stream, describe: Callable[[np.ndarray], dict]) -> None:
        self.id, self.stream, self.describe = sid, stream, describe
        self.lock = threading.Lock()
        self.last_used = time.monotonic()

    def push(self, samples: np.ndarray) -> dict:
        """Feed samples; the predictions of every window they completed (step = samples seen at the time)."""
        with self.lock:
            return self._push(samples)

    async def push_async(self, samples: np.ndarray) -> dict:
        """push() on the event loop when it is a few steps and the session is free (never waiting for the lock
        there), else in a worker thread (rnnlab.serve.work)."""
        if self.stream.steps(len(samples)) <= INLINE_STEPS and self.lock.acquire(blocking=False):
            try:
                return self._push(samples)
            finally:
                self.lock.release()
        return await run_in_threadpool(self.push, samples)

    def _push(self, samples: np.ndarray) -> dict:
        made = self.stream.push(samples)
        self.last_used = time.monotonic()
        seen = self.stream.seen
        return {
            "session": self.id,
            "seen": seen,
            "predictions": [{"step": int(n), **self.describe(p)} for n, p in made],
        }


class SessionStore:
    """At most `max_sessions` live sessions; one idle longer than `ttl` seconds is dropped."""

    def __init__(self, max_sessions: int, ttl: float) -> None:
        self.max_sessions, self.ttl = int(max_sessions), float(ttl)
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s.id for s in self.sessions.values() if now - s.last_used > self.ttl]:
            del self.sessions[sid]

    def create(self, make: Callable[[str], Session]) -> Session:
        with self.lock:
            self._expire()
            if len(self.sessions) >= self.max_sessions:
                raise ApiError(
                    429,
                    f"this server already holds {self.max_sessions} sessions (its limit); DELETE finished "
                    f"sessions or wait {self.ttl:.0f} s for idle ones to expire",
                )
            session = make(secrets.token_hex(8))
            self.sessions[session.id] = session
            return session

    def get(self, sid: str) -> Session:
        with self.lock:
            self._expire()
            session = self.sessions.get(sid)
            if session is None:
                raise ApiError(
                    404,
                    f"no session {sid!r} (never created, deleted, or idle over {self.ttl:.0f} s); "
                    "create one with POST /sessions",
                )
            session.last_used = time.monotonic()
            return session

    def delete(self, sid: str) -> None:
        self.get(sid)
        with self.lock:
            self.sessions.pop(sid, None)

    def __len__(self) -> int:
        return len(self.sessions)


class SessionRequest(BaseModel):
    """Optional settings of a new session."""

    hop: int | None = Field(None, description="samples between predictions (default: window // 2)")


class SamplesRequest(BaseModel):
    """One or more raw samples (one row of features each), oldest first."""

    samples: list[list[float]] = Field(..., description="rows of the run's features, unscaled")


def session_router(
    store: SessionStore,
    open_stream: Callable[[int], Stream],
    window: int,
    default_hop: int,
    parse: Callable[[list[list[float]]], np.ndarray],
    describe: Callable[[np.ndarray], dict],
    mode: str,
    max_message: int,
) -> APIRouter:
    """The session endpoints over `store`; `open_stream(hop)` makes a stream, `parse` checks samples (422),
    `describe` turns class probabilities into the label and the probability of each class."""
    router = APIRouter(tags=["sessions"])

    @router.post("/sessions", summary="open a streaming session")
    def create(body: SessionRequest | None = None) -> dict:
        hop = default_hop if body is None or body.hop is None else body.hop
        if not 1 <= hop <= window:
            raise ApiError(422, f"'hop' is {hop}; send a hop from 1 to the window, {window} samples")
        session = store.create(lambda sid: Session(sid, open_stream(hop), describe))
        return {"session": session.id, "mode": mode, "window": window, "hop": hop}

    @router.post("/sessions/{sid}/samples", summary="send samples; get the predictions they completed")
    async def samples(sid: str, body: SamplesRequest) -> dict:
        session = store.get(sid)
        samples = parse(body.samples)
        return await session.push_async(samples)

    @router.delete("/sessions/{sid}", summary="close a session")
    def delete(sid: str) -> dict:
        store.delete(sid)
        return {"session": sid, "deleted": True}

    @router.websocket("/sessions/{sid}/ws")
    async def stream(websocket: WebSocket, sid: str) -> None:
        """Messages like POST /sessions/{sid}/samples; one reply per message (its predictions, or an error)."""
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = (
                message.get("text")
                if message.get("text") is not None
                else (message.get("bytes") or b"").decode("utf-8", "replace")
            )
            if len(text) > max_message:
                await websocket.send_json(
                    {"error": f"the message is over {max_message} bytes; send fewer samples"}
                )
                await websocket.close(code=1009)
                return
            try:
                session = store.get(sid)
                body = SamplesRequest.model_validate(json.loads(text))
                samples = parse(body.samples)
                reply = await session.push_async(samples)
            except ApiError as e:
                await websocket.send_json({"error": e.message})
                if e.status == 404:
                    await websocket.close(code=4404)
                    return
                continue
            except json.JSONDecodeError as e:
                await websocket.send_json(
                    {"error": f'the message is not valid JSON ({e.msg}); send {{"samples": [[...], ...]}}'}
                )
                continue
            except ValidationError as e:
                await websocket.send_json({"error": validation_message(list(e.errors()))[1]})
                continue
            await websocket.send_json(reply)

    return router
