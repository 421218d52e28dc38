"""`create_app(settings)`: the FastAPI app. The model loads in the lifespan, never at import.

Every error leaves as JSON {"error": "..."}: HTTPExceptions keep their status, validation problems are
422, a body over the limit is 413, a library DigitsError about the input is 415/422, a client that hangs
up before its body arrived is 499 (logged, not a bug), and anything else is a bug (500, logged with
its traceback).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from handwritten_digits import __version__
from handwritten_digits.errors import DigitsError, ImageError
from handwritten_digits.preprocess import quiet_pillow
from handwritten_digits.recognize import Recognizer
from handwritten_digits.serve.inputs import BodyLimitMiddleware, BodyTooLarge
from handwritten_digits.serve.metrics import Metrics, MetricsMiddleware
from handwritten_digits.serve.routes import STATIC, api, ops, page
from handwritten_digits.serve.service import DigitService
from handwritten_digits.serve.settings import Settings

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc mallopt parameter
MALLOC_ARENAS = 2  # glibc's default, 8 per core, lets every pool thread keep its own heap


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap glibc's malloc arenas (unless MALLOC_ARENA_MAX is set): request threads come and go,
    and each new thread's arena keeps the memory it freed, so the resident size would keep rising
    for minutes under load before it levels off."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to cap
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    limit_malloc_arenas()
    quiet_pillow()
    torch.set_num_threads(settings.torch_threads)
    service = DigitService(Recognizer.load(settings.model), settings, app.state.metrics)
    log.info("serving %s on %s", service.info["version"], service.info["runtime"])
    app.state.service = service
    service.batcher.start()
    try:
        yield
    finally:
        await service.batcher.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="handwritten-digits", version=__version__, lifespan=lifespan,
                  description="Recognize handwritten digits: one digit, or a number.")
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.include_router(api)
    app.include_router(ops)
    app.include_router(page)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: sees every 413
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for `digits serve` (also in --workers N processes): settings from DIGITS_*."""
    return create_app(Settings.from_env())


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail), exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(map(str, first["loc"]))
        return _error(422, f"{where}: {first['msg']}" if where else first["msg"])

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        return _error(413, str(exc), {"connection": "close"})

    async def library_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(415 if isinstance(exc, ImageError) else 422, str(exc))

    async def gone(request: Request, exc: Exception) -> JSONResponse:  # nobody is left to read it
        log.info("client hung up during %s %s", request.method, request.url.path)
        return _error(499, "client closed the request")

    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(DigitsError, library_error)
    app.add_exception_handler(ClientDisconnect, gone)
    app.add_exception_handler(Exception, bug)
