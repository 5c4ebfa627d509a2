"""Serving a classifier: POST /predict (one sequence or a batch of any lengths, scaled with the run's scaler
exactly as `rnnlab predict` does) and streaming sessions over live samples (rnnlab.serve.streams)."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnlab.data.sequences import SequenceSet
from rnnlab.data.tokens import TokenVocab
from rnnlab.models.streaming import streamable
from rnnlab.serve.errors import ApiError
from rnnlab.serve.inputs import matrix
from rnnlab.serve.kind import Served, ServeOptions
from rnnlab.serve.sessions import SessionStore, session_router
from rnnlab.serve.streams import RecurrentStream, Stream, WindowStream
from rnnlab.serve.work import INLINE_STEPS, run_model
from rnnlab.tasks.classify.evaluate import predict_probs
from rnnlab.tasks.contract import Task
from rnnlab.train.rundir import RunFiles


class ClassifyRequest(BaseModel):
    """Exactly one of `sequence` (one sequence) or `sequences` (a batch; lengths may differ): rows of the run's
    features in data units (unscaled); for a text classifier, `text` or `texts` instead."""

    sequence: list[list[float]] | None = Field(None, description="one sequence: time steps x features")
    sequences: list[list[list[float]]] | None = Field(None, description="a batch of sequences")
    text: str | None = Field(None, description="one document (text classifiers)")
    texts: list[str] | None = Field(None, description="a batch of documents (text classifiers)")


class ClassifyServed(Served):
    """A classification run: labels and probabilities for whole sequences and for live streams."""

    def __init__(self, files: RunFiles, task: Task, options: ServeOptions) -> None:
        super().__init__(files, task, options)
        data = files.data
        self.classes: list[str] = list(data["classes"])
        self.features: list[str] = list(data["features"])
        self.window = int(data.get("max_len") or 0)
        self.hop = max(1, self.window // 2)
        scaler = data.get("scaler") or {}
        self.mean = np.asarray(scaler["mean"], np.float32) if scaler else None
        self.std = np.asarray(scaler["std"], np.float32) if scaler else None
        self.vocab = TokenVocab.from_dict(data["vocab"]) if "vocab" in data else None  # a text classifier
        self.max_tokens = data.get("max_tokens")
        self.why_not_recurrent = streamable(files.model)
        self.mode = "recurrent" if self.why_not_recurrent is None else "window"
        self.store = SessionStore(options.max_sessions, options.session_ttl)

    def describe(self, probs: np.ndarray) -> dict:
        """Class probabilities -> the label and the probability of each class."""
        return {
            "label": self.classes[int(np.argmax(probs))],
            "probabilities": {c: float(p) for c, p in zip(self.classes, probs, strict=True)},
        }

    def parse(self, rows: list[list[float]], field: str = "samples") -> np.ndarray:
        return matrix(rows, len(self.features), field, self.features)

    def predict(self, body: ClassifyRequest) -> dict:
        allowed = ("text", "texts") if self.vocab else ("sequence", "sequences")
        given = [k for k in ("sequence", "sequences", "text", "texts") if getattr(body, k) is not None]
        if len(given) != 1 or given[0] not in allowed:
            what = "a text classifier" if self.vocab else f"a classifier of {len(self.features)} features"
            raise ApiError(422, f"this run is {what}: send exactly one of '{allowed[0]}' or '{allowed[1]}'")
        single = given[0] in ("sequence", "text")
        x, lengths = self._texts(body) if self.vocab else self._sequences(body)
        s = SequenceSet(x, lengths, None, self.classes, self.features)
        try:
            probs = predict_probs(self.files, s)
        except RuntimeError as e:  # e.g. a fixed-length MLP given another length
            raise ApiError(
                422,
                f"the model cannot take these sequences ({str(e).splitlines()[0]}); "
                f"send sequences like its training windows ({self.window} steps)",
            ) from None
        out = [self.describe(p) for p in probs]
        return {"prediction": out[0]} if single else {"predictions": out}

    async def predict_async(self, body: ClassifyRequest) -> dict:
        seqs = body.sequences or [body.sequence or []]
        steps = sum(len(q) for q in seqs) if self.vocab is None else INLINE_STEPS + 1  # documents: a thread
        return await run_model(steps, self.predict, body)

    def _texts(self, body: ClassifyRequest) -> tuple[np.ndarray, np.ndarray]:
        texts = [body.text] if body.text is not None else body.texts
        if not texts:
            raise ApiError(422, "'texts' is empty; send at least one document")
        ids, lengths = self.vocab.encode(texts, self.max_tokens)  # unknown tokens -> <unk>, as in training
        return ids[:, :, None].astype(np.float32), lengths

    def _sequences(self, body: ClassifyRequest) -> tuple[np.ndarray, np.ndarray]:
        seqs = [body.sequence] if body.sequence is not None else body.sequences
        if not seqs:
            raise ApiError(422, "'sequences' is empty; send at least one sequence")
        field = "sequence" if body.sequence is not None else "sequences[{}]"
        arrays = [self.parse(s, field.format(i)) for i, s in enumerate(seqs)]
        lengths = np.array([len(a) for a in arrays])
        x = np.zeros((len(arrays), int(lengths.max()), len(self.features)), np.float32)
        for i, a in enumerate(arrays):
            x[i, : len(a)] = a
        return x, lengths

    def open_stream(self, hop: int) -> Stream:
        kind = RecurrentStream if self.mode == "recurrent" else WindowStream
        return kind(self.files.model, self.window, hop, self.mean, self.std)

    def routers(self) -> list[APIRouter]:
        router = APIRouter(tags=["classify"])
        router.post("/predict", summary="labels and class probabilities of whole sequences")(
            self.predict_async
        )
        if self.vocab is not None:  # documents, not sensor streams
            return [router]
        sessions = session_router(
            self.store,
            self.open_stream,
            self.window,
            self.hop,
            self.parse,
            self.describe,
            self.mode,
            self.options.max_body,
        )
        if not self.options.page:
            return [router, sessions]
        from rnnlab.serve.page import page_router, run_recording

        return [router, sessions, page_router(run_recording(self.files, self.options.demo))]

    def info(self) -> dict:
        if self.vocab is not None:
            return {
                "classes": self.classes,
                "input": "text",
                "level": self.vocab.level,
                "max_tokens": self.max_tokens,
            }
        return {
            "classes": self.classes,
            "features": self.features,
            "sessions": {
                "mode": self.mode,
                "window": self.window,
                "hop": self.hop,
                "why_window": self.why_not_recurrent,
                "max_sessions": self.options.max_sessions,
                "ttl_seconds": self.options.session_ttl,
            },
        }


def served(files: RunFiles, task: Task, options: ServeOptions) -> ClassifyServed:
    return ClassifyServed(files, task, options)
