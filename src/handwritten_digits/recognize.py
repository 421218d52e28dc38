"""Recognizer: a loaded model plus preprocessing, answering with typed results.

Both doors (CLI and HTTP) call this; neither computes anything a Recognizer would need.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from handwritten_digits.errors import DigitsError
from handwritten_digits.evaluate import infer
from handwritten_digits.modelio import LoadedModel, load_model
from handwritten_digits.preprocess import ImageInput, to_mnist


@dataclass
class Prediction:
    file: str | None
    digit: int | None
    confidence: float
    probabilities: list[float]
    reason: str | None = None  # None | blank | not_a_digit | multiple_digits | unreadable | error
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DigitBox:
    digit: int
    confidence: float
    box: list[int]  # [x, y, w, h] in the input image's pixels


@dataclass
class Reading:
    file: str | None
    text: str | None
    digits: list[DigitBox]
    reason: str | None = None  # None | blank | not_a_digit | unreadable | error
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Recognizer:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Recognizer:
        return cls(load_model(path))

    def probabilities(self, images: np.ndarray) -> torch.Tensor:
        """(N, 28, 28) uint8 -> (N, C) calibrated probabilities."""
        lm = self.loaded
        logits = infer(lm.model, torch.from_numpy(np.ascontiguousarray(images)), lm.mean, lm.std)
        return (logits / lm.temperature).softmax(1)

    def predict_many(self, sources: list[ImageInput]) -> list[Prediction]:
        results: list[Prediction | None] = [None] * len(sources)
        arrays, where = [], []
        for i, src in enumerate(sources):
            try:
                arrays.append(to_mnist(src))
                where.append(i)
            except DigitsError as e:
                results[i] = Prediction(_name(src), None, 0.0, [0.0] * 10, "error", str(e))
        if arrays:
            probs = self.probabilities(np.stack(arrays))
            for i, p in zip(where, probs, strict=True):
                conf, digit = p.max(0)
                results[i] = Prediction(_name(sources[i]), int(digit), float(conf),
                                        [round(float(v), 6) for v in p])
        return [r for r in results if r is not None]

    def predict(self, source: ImageInput) -> Prediction:
        return self.predict_many([source])[0]

    def read_many(self, sources: list[ImageInput]) -> list[Reading]:
        """A number of 1-20 digits on one line per image, read left to right."""
        raise NotImplementedError("number reading arrives with the real-world reading issue")

    def read(self, source: ImageInput) -> Reading:
        return self.read_many([source])[0]


def _name(src: ImageInput) -> str | None:
    return str(src) if isinstance(src, str | Path) else None
