"""HTTP routes: parse the request, call the DigitService, answer with a schema. Nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse

from handwritten_digits.serve.inputs import read_uploads
from handwritten_digits.serve.metrics import CONTENT_TYPE
from handwritten_digits.serve.schemas import (
    ErrorBody,
    Health,
    ImageJSON,
    ModelInfo,
    PredictResponse,
    ReadResponse,
)
from handwritten_digits.serve.service import DigitService
from handwritten_digits.serve.settings import Settings

STATIC = Path(__file__).parent / "static"

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in (
        (413, "Body over the upload limit, image over the pixel limit, or too many images"),
        (415, "Not multipart/JSON, or no image in it could be read (each unreadable one among several "
              "is that item's error)"),
        (422, "Malformed JSON, base64 or multipart body"),
    )
}
IMAGE_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {
        "type": "array", "items": {"type": "string", "format": "binary"}}}}},
    "application/json": {"schema": ImageJSON.model_json_schema()},
}}}


def get_service(request: Request) -> DigitService:
    return request.app.state.service


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


api = APIRouter(prefix="/v1", tags=["recognition"])


@api.post("/predict", response_model=PredictResponse, response_model_exclude_unset=True,
          responses=ERRORS, openapi_extra=IMAGE_BODY)
async def predict(request: Request, include_image: bool = Query(
        False, description="Add the 28x28 model input as a PNG data URL to each prediction."),
        service: DigitService = Depends(get_service),
        settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    """The digit in each image: the objects `digits predict --json` prints."""
    uploads = await read_uploads(request, settings)
    return {"predictions": await service.predict(uploads, preview=include_image)}


@api.post("/read", response_model=ReadResponse, responses=ERRORS, openapi_extra=IMAGE_BODY)
async def read(request: Request, service: DigitService = Depends(get_service),
               settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    """The number in each image, read left to right: the objects `digits read --json` prints."""
    uploads = await read_uploads(request, settings)
    return {"readings": await service.read(uploads)}


@api.get("/model", response_model=ModelInfo)
async def model(service: DigitService = Depends(get_service)) -> dict[str, Any]:
    """Which model answers: name, version, metrics and card."""
    return service.info


ops = APIRouter(tags=["operations"])


@ops.get("/healthz", response_model=Health)
async def healthz(service: DigitService = Depends(get_service)) -> dict[str, Any]:
    return {"status": "ok", "model": service.info["name"], "version": service.info["version"]}


@ops.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text format: requests, latency, errors, predictions per digit, abstentions."""
    return PlainTextResponse(request.app.state.metrics.render(), media_type=CONTENT_TYPE)


page = APIRouter(tags=["page"], include_in_schema=False)


@page.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")
