"""Serving an encoder-decoder run: POST /predict translates a line of text (a text Seq2Seq) or captions an
image given as rows of grey pixels (a Captioner), greedy or with a beam, as `rnnlab translate` / `caption`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnlab.errors import RnnlabError
from rnnlab.serve.errors import ApiError
from rnnlab.serve.inputs import bounded, matrix
from rnnlab.serve.kind import Served, ServeOptions
from rnnlab.tasks.contract import Task
from rnnlab.tasks.seq2seq.predict import caption, translate
from rnnlab.train.rundir import RunFiles

MAX_BEAM, MAX_TEXT, MAX_WIDTH = 16, 2000, 4096


class TranslateRequest(BaseModel):
    """One line of source text."""

    text: str = Field(..., description=f"the line to rewrite (at most {MAX_TEXT} characters)")
    beam: int = Field(5, description=f"beam width, 1 (greedy) to {MAX_BEAM}")


class CaptionRequest(BaseModel):
    """An image as rows of grey values in [0, 1] (any size; resized to 28 rows, inverted if dark-on-light)."""

    image: list[list[float]] = Field(..., description="pixel rows, top first, values in [0, 1]")
    beam: int = Field(5, description=f"beam width, 1 (greedy) to {MAX_BEAM}")


def _answer(out: dict) -> dict:
    return {"output": out["output"], "score": float(out["score"]), "ended": bool(out["ended"])}


class TranslateServed(Served):
    """A text Seq2Seq run."""

    def predict(self, body: TranslateRequest) -> dict:
        bounded(body.beam, 1, MAX_BEAM, "beam")
        if not body.text.strip("\n"):
            raise ApiError(422, "'text' is empty; send a line of text")
        if len(body.text) > MAX_TEXT:
            raise ApiError(422, f"'text' has {len(body.text)} characters; send at most {MAX_TEXT} (one line)")
        return {"source": body.text.strip("\n"), **_answer(translate(self.files, body.text, body.beam))}

    def routers(self) -> list[APIRouter]:
        router = APIRouter(tags=["seq2seq"])
        router.post("/predict", summary="rewrite a line of text")(self.predict)
        return [router]

    def info(self) -> dict:
        itos = self.files.data["vocab"]["itos"]
        return {"input": "text", "vocabulary": "".join(c for c in itos if len(c) == 1)}


class CaptionServed(Served):
    """A Captioner run."""

    def predict(self, body: CaptionRequest) -> dict:
        bounded(body.beam, 1, MAX_BEAM, "beam")
        width = len(body.image[0]) if body.image else 0
        if not 1 <= width <= MAX_WIDTH:
            raise ApiError(422, f"'image' rows have {width} pixels; send 1 to {MAX_WIDTH} per row")
        pixels = matrix(body.image, width, "image")
        if pixels.min() < 0 or pixels.max() > 1:
            raise ApiError(
                422, "'image' has values outside [0, 1]; send grey levels from 0 (black) to 1 (white)"
            )
        try:
            out = caption(self.files, pixels, body.beam)
        except RnnlabError as e:
            raise ApiError(422, str(e)) from None
        return {"words": out["words"], **_answer(out)}

    def routers(self) -> list[APIRouter]:
        router = APIRouter(tags=["seq2seq"])
        router.post("/predict", summary="caption an image given as pixel rows")(self.predict)
        return [router]

    def info(self) -> dict:
        return {"input": "image", "image_height": 28, "vocabulary": self.files.data.get("vocab")}


def served(files: RunFiles, task: Task, options: ServeOptions) -> Served:
    kinds = {"Seq2Seq": TranslateServed, "Captioner": CaptionServed}
    return kinds.get(type(files.model).__name__, TranslateServed)(files, task, options)
