"""Serving a character language model: POST /generate streams the sampled text as it is made, one model step
per character after one pass over the prime (the prefix is never re-run). The same seed gives the same text."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rnnlab.errors import ConfigError
from rnnlab.models.sampling import check_sampling, sample_next
from rnnlab.serve.errors import ApiError
from rnnlab.serve.inputs import bounded
from rnnlab.serve.kind import Served, ServeOptions
from rnnlab.tasks.charlm.generate import open_lm
from rnnlab.tasks.contract import Task
from rnnlab.train.rundir import RunFiles

MAX_LENGTH = 100_000


class GenerateRequest(BaseModel):
    """What to generate: text following `prime`, sampled at `temperature` (top-k / top-p optional)."""

    prime: str = Field("\n", description="text to start from (characters outside the vocabulary -> fallback)")
    length: int = Field(200, description=f"characters to generate, 1..{MAX_LENGTH}")
    temperature: float = Field(0.8, description="> 0; lower is safer, higher is wilder")
    top_k: int | None = Field(None, description="sample among the k most likely characters")
    top_p: float | None = Field(None, description="sample from the smallest set with this probability mass")
    greedy: bool = Field(False, description="always take the most likely character")
    seed: int = Field(0, description="same seed, same text")


class CharLMServed(Served):
    """A character LM run: streamed generation."""

    def __init__(self, files: RunFiles, task: Task, options: ServeOptions) -> None:
        super().__init__(files, task, options)
        self.files, self.vocab = open_lm(files)
        self.model = self.files.model

    def chars(self, body: GenerateRequest) -> Iterator[str]:
        """The prime, then each sampled character as soon as its step is made (checked before the first)."""
        bounded(body.length, 1, MAX_LENGTH, "length")
        bounded(body.seed, 0, 2**63 - 1, "seed")
        if not body.greedy:
            try:
                check_sampling(body.temperature, body.top_k, body.top_p)
            except ConfigError as e:
                raise ApiError(422, str(e)) from None
        prime = body.prime or ("\n" if "\n" in self.vocab.chars else self.vocab.fallback)
        ids = torch.as_tensor(self.vocab.encode(prime))[None]
        g = torch.Generator().manual_seed(int(body.seed))
        model, decode = self.model, self.vocab.decode

        def steps() -> Iterator[str]:
            yield prime
            with torch.no_grad():  # grad mode is per thread: set on each resumption's thread
                out = model(ids)
            logits, state = out.logits[:, -1], out.state
            for i in range(body.length):
                nxt = sample_next(logits, body.temperature, body.top_k, body.top_p, body.greedy, g)
                yield decode(nxt.tolist())
                if i + 1 < body.length:
                    with torch.no_grad():
                        logits, state = model.step(nxt, state)

        return steps()

    def generate(self, body: GenerateRequest) -> StreamingResponse:
        chars = self.chars(body)  # checked here, so a bad setting is a 422 before anything streams
        return StreamingResponse(chars, media_type="text/plain; charset=utf-8")

    def routers(self) -> list[APIRouter]:
        router = APIRouter(tags=["charlm"])
        router.post(
            "/generate",
            summary="stream text sampled one character at a time",
            response_class=StreamingResponse,
            responses={
                200: {"content": {"text/plain": {}}, "description": "the prime, then the sampled text"}
            },
        )(self.generate)
        return [router]

    def info(self) -> dict:
        return {
            "vocabulary": "".join(self.vocab.chars),
            "fallback": self.vocab.fallback,
            "max_length": MAX_LENGTH,
        }


def served(files: RunFiles, task: Task, options: ServeOptions) -> CharLMServed:
    return CharLMServed(files, task, options)
