"""Every failed request answers one JSON line, `{"error": "<the problem and the fix>"}`: bad input is a 4xx,
never a 500 page or FastAPI's nested validation list."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rnnlab.errors import RnnlabError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the server refuses: HTTP `status` and a one-line message naming the problem and the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(message: str) -> bytes:
    """The JSON bytes of an error response (also used by the raw ASGI middleware)."""
    return json.dumps({"error": " ".join(str(message).split())}).encode()


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def validation_message(errors: list) -> tuple[int, str]:
    """Pydantic's / FastAPI's list of validation errors -> (status, one line about the first): 400 for a body
    that is not JSON, 422 for JSON of the wrong form."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        why = first.get("ctx", {}).get("error", "")
        return (
            400,
            f"the body is not valid JSON ({why}); send one JSON object with Content-Type: application/json",
        )
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "the body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first.get("type") == "missing":
        return 422, f"field '{where}' is missing{more}; GET /info or /docs shows the request form"
    return (
        422,
        f"field '{where}': {first.get('msg', 'invalid')}{more}; GET /info or /docs shows the request form",
    )


def install_error_handlers(app: FastAPI, endpoints: list[str]) -> None:
    """One-line JSON errors for ApiError, rnnlab's own errors, validation, HTTP errors (404 names what this run
    serves) and anything unexpected (500, logged)."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message)

    @app.exception_handler(RnnlabError)
    async def _rnnlab(request: Request, exc: RnnlabError) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(*validation_message(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        path = request.url.path
        if exc.status_code == 404 and exc.detail == "Not Found":
            msg = f"{path} is not served by this run; it serves {', '.join(endpoints)} (GET /info says more)"
        elif exc.status_code == 405:
            msg = f"{request.method} is not allowed on {path}; see GET /docs for the methods each endpoint takes"
        else:
            msg = str(exc.detail)
        return error_response(exc.status_code, msg)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            500,
            f"internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "please report it with the request that caused it",
        )
