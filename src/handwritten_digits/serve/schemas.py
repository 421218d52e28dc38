"""Pydantic models for every request and response body, so /docs shows exactly what travels.

`PredictionOut` and `ReadingOut` mirror `Prediction.to_dict()` and `Reading.to_dict()` field for
field (the objects `digits predict --json` and `digits read --json` print), plus optional extras.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    error: str = Field(description="One line: what was wrong and what to do.")


class ImageJSON(BaseModel):
    """A JSON alternative to multipart: one image, or several, as base64 or data URLs."""

    image: str | list[str] = Field(description="Base64 bytes or a data URL (data:image/png;base64,...)")
    name: str | None = Field(None, description="Echoed back in `file` (the CLI's path field).")


class PredictionOut(BaseModel):
    file: str | None
    digit: int | None
    confidence: float
    probabilities: list[float]
    reason: str | None = None
    error: str | None = None
    image: str | None = Field(None, description="The 28x28 model input as a PNG data URL "
                                                "(only with ?include_image=true).")


class PredictResponse(BaseModel):
    predictions: list[PredictionOut]


class DigitBoxOut(BaseModel):
    digit: int
    confidence: float
    box: list[int] = Field(description="[x, y, w, h] in the input image's pixels")


class ReadingOut(BaseModel):
    file: str | None
    text: str | None
    digits: list[DigitBoxOut]
    reason: str | None = None
    error: str | None = None


class ReadResponse(BaseModel):
    readings: list[ReadingOut]


class ModelInfo(BaseModel):
    name: str = Field(description="Registry name of the architecture, e.g. seed-cnn.")
    version: str = Field(description="Content hash of the weights: changes when the model does.")
    path: str | None = Field(description="The model file's name (the server's folders stay private).")
    parameters: int | None
    class_names: list[str]
    metrics: dict[str, Any] = Field(description="The sidecar's metrics (val/test accuracy, ...).")
    card: dict[str, Any] = Field(description="What the model is and how it was made.")
    runtime: str = Field(description="What runs the networks: onnxruntime, or torch (DIGITS_RUNTIME).")


class Health(BaseModel):
    status: str
    model: str
    version: str
