"""Recognizer: a loaded model plus preprocessing, answering with typed results, or abstaining.

Both doors (CLI and HTTP) call this; neither computes anything a Recognizer would need. An answer is
abstained (digit/text None with a reason) when the ink says so before the model is asked -- nothing
there ("blank"), a dot, a line, a picture or noise ("not_a_digit"), several digits side by side
("multiple_digits") -- when the model's "not a digit" gate says so (`handwritten_digits.gate`, when the
model file carries one), when its features lie far from every digit class (`handwritten_digits.ood`,
likewise), or when the calibrated confidence is below `min_confidence` ("unreadable").
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from handwritten_digits.abstain import (
    FILLED,
    MAX_INK_FRACTION,
    digit_reason,
    keeps,
    sank,
    shape_reason,
    side_by_side,
)
from handwritten_digits.errors import DigitsError
from handwritten_digits.ink import Ink, Shape, find_ink
from handwritten_digits.modelio import LoadedModel, load_model
from handwritten_digits.ood import distance, has_features
from handwritten_digits.preprocess import (
    ImageInput,
    Preprocessed,
    input_list,
    load_gray,
    prepare,
    prepare_gray,
    prepare_zoomed,
    render,
)
from handwritten_digits.runtime import Networks
from handwritten_digits.segment import MAX_DIGITS, glyphs, settle_pieces, split_glyphs

log = logging.getLogger(__name__)

# Confidence is the temperature-calibrated top probability; the ink rules are in `abstain`.
MIN_CONFIDENCE = 0.5  # below this the answer is "unreadable"
READ_WORK_SIDE = 448  # px: the digits of a number are small; find them on a finer copy than one digit
FLAT_GATE = 0.5  # the flat look ignores shading, so its answer needs a surer gate (P(not a digit) below)
RETRY_STEP = 3  # working copies shrunk this much (a 640x480 photo) fade a thin pen: see predict_many
# `read`: a number with this many parts that are not digits is not a number ("hello" read as 60110),
# nor is one of at most SHORT parts with a glyph that stands alone and is not a digit ("A1" read as 41).
# One odd part is let through in a longer number, or when it was cut from a touching neighbour: the gate
# refuses such a part now and then (37 of 2,000 tune numbers read right hold one)
MAX_NOT_DIGITS = 2
SHORT = 2
# No ink stands out of a page this noisy (robust sigma at working scale, gray levels; blank photos and
# scans of the tune split: 2.1 at most): it is noise, "not_a_digit", rather than "blank" (no ink)
NOISY = 8.0
RETRY_REASONS = ("blank", "not_a_digit", "multiple_digits")
REASONS = (None, "blank", "not_a_digit", "multiple_digits", "unreadable", "error")


@dataclass
class Prediction:
    file: str | None
    digit: int | None
    confidence: float
    probabilities: list[float]
    reason: str | None = None  # None | blank | not_a_digit | multiple_digits | unreadable | error
    error: str | None = None
    model_input: np.ndarray | None = field(default=None, repr=False, compare=False)  # (28, 28) uint8

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("model_input")
        return d


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


def _check_fraction(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise DigitsError(f"{name} must be a number between 0 and 1 (got {value!r})")


class Recognizer:
    def __init__(self, loaded: LoadedModel, min_confidence: float = MIN_CONFIDENCE,
                 max_not_digit: float | None = None, max_distance: float | None = None) -> None:
        self.loaded = loaded
        _check_fraction("min_confidence", min_confidence)
        if max_not_digit is not None:
            _check_fraction("max_not_digit", max_not_digit)
        self.min_confidence = min_confidence
        self.max_not_digit = max_not_digit  # None: the gate's own threshold from the model file
        if max_distance is not None and not max_distance > 0:
            raise DigitsError(f"max_distance must be above 0 (got {max_distance})")
        self.max_distance = max_distance  # None: the OOD score's own threshold from the model file
        self.networks = Networks(loaded)  # ONNX Runtime where it can (DIGITS_RUNTIME), else PyTorch

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, min_confidence: float = MIN_CONFIDENCE,
             max_not_digit: float | None = None, max_distance: float | None = None) -> Recognizer:
        return cls(load_model(path), min_confidence, max_not_digit, max_distance)

    def probabilities(self, images: np.ndarray) -> torch.Tensor:
        """(N, 28, 28) uint8 -> (N, C) calibrated probabilities."""
        return self._calibrated(self.networks.logits(images))

    def _calibrated(self, logits: np.ndarray) -> torch.Tensor:
        return (torch.from_numpy(logits) / self.loaded.temperature).softmax(1)

    @property
    def gate_threshold(self) -> float:
        """The gate's probability of "not a digit" above which the answer is abstained."""
        if self.max_not_digit is not None:
            return self.max_not_digit
        return float(self.loaded.meta.get("gate", {}).get("threshold", 1.0))

    @property
    def flat_gate_threshold(self) -> float | None:
        """The gate threshold for the flat-paper look; None (no such look) when the model has no gate or
        it is turned off (`max_not_digit` 1): nothing would then stop shading read as a digit."""
        if self.loaded.extra.get("gate") is None or self.gate_threshold >= 1.0:
            return None
        return min(self.gate_threshold, FLAT_GATE)

    @property
    def ood_threshold(self) -> float:
        """The OOD score (squared distance to the nearest digit class) above which the answer is
        abstained; infinite when the model file carries no such score."""
        if "ood" not in self.loaded.extra or not has_features(self.loaded):
            return float("inf")
        return float(self.loaded.meta["ood"]["threshold"] if self.max_distance is None else self.max_distance)

    def judge(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, 28, 28) uint8 -> calibrated probabilities (N, C), the gate's P(not a digit) (N,) and the
        OOD score (N,; 0 without one), the classifier run once."""
        stats = self.loaded.extra.get("ood")
        if stats is None or not has_features(self.loaded) or len(images) == 0:
            return self.probabilities(images).numpy(), self.not_digit(images), np.zeros(len(images))
        logits, feats = self.networks.logits_and_features(images)
        return self._calibrated(logits).numpy(), self.not_digit(images), distance(feats, stats)

    def not_digit(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 -> (N,) the gate's probability that each is not a digit (0 without one)."""
        return self.networks.not_digit(images)

    def predict_many(self, sources: list[ImageInput]) -> list[Prediction]:
        """One Prediction per source, in order; a bad file gives reason "error", never an exception.

        An image whose answer is blank, not a digit or several digits gets up to three more looks, and
        a later answer counts only when it is a digit, gate and all:
        - shrunk RETRY_STEP times or more for finding its ink: on a copy that keeps each block's
          inkiest pixel (a thin pen fades in the mean);
        - ink found on a shrunk copy, small there, and shaped like one digit (a dot or a line is not
          looked at again): at a finer scale around it (`prepare_zoomed`), where the lines of a
          small printed box no longer merge with the strokes;
        - some ink, not a filled shape (solid below FILLED): with the paper taken as one level and the
          gate held to FLAT_GATE (a blank page is not looked at: its shading would pass for ink), when
          `flat_gate_threshold` allows. First looks that answered a digit although the paper estimate
          sank under its ink (`sank`) get this look too, and its answer replaces theirs when it is a
          digit that `keeps` the first look's ink.
        Ink that stands as several glyphs side by side gets the reason `read` gives it: "multiple_digits"
        when it reads a number (even one too wide to pass for one digit) or is unsure of a digit,
        "not_a_digit" when it refuses the ink (a word); otherwise the reason stays.
        The image is decoded once: each look finds the ink again in the decoded pixels."""
        sources = input_list(sources, "predict")
        preps = [self._prepare(src) for src in sources]
        results = self._answer(sources, preps)
        sunk = [(i, p) for i, (r, p) in enumerate(zip(results, preps, strict=True))
                if r.reason is None and isinstance(p, Preprocessed) and sank(p.shape)]
        pooled = {i: prepare_gray(p.ink.gray, p.ink.factor, pool=True)
                  for i, p in self._abstained(results, preps)
                  if p.ink.step >= RETRY_STEP and not p.ink.pooled}
        self._second_look(sources, results, pooled)
        zoomed = {i: z for i, p in self._abstained(results, preps)
                  if p.ink.mask is not None and shape_reason(p.shape) is None
                  and (z := prepare_zoomed(p.ink)) is not None}
        self._second_look(sources, results, zoomed)
        gate = self.flat_gate_threshold
        if gate is not None:
            flat = {i: f for i, p in self._abstained(results, preps) + sunk
                    if results[i].reason != "blank" and p.shape.solid < FILLED
                    and keeps(p.ink, (f := prepare_gray(p.ink.gray, p.ink.factor, flat=p.ink.invert)).ink)}
            self._second_look(sources, results, flat, gate)
        for r, p in zip(results, preps, strict=True):
            if r.reason in ("not_a_digit", "multiple_digits") and isinstance(p, Preprocessed) \
                    and side_by_side(p.ink) > 1:
                seen = self._read_gray(None, p.ink.gray, p.ink.factor).reason
                if seen in (None, "unreadable", "not_a_digit"):
                    r.reason = "not_a_digit" if seen == "not_a_digit" else "multiple_digits"
        for r, p in zip(results, preps, strict=True):
            if r.reason == "blank" and isinstance(p, Preprocessed) and p.ink.noise >= NOISY:
                r.reason = "not_a_digit"
        return results

    @staticmethod
    def _abstained(results: list[Prediction], preps: list[Preprocessed | DigitsError]
                   ) -> list[tuple[int, Preprocessed]]:
        return [(i, p) for i, (r, p) in enumerate(zip(results, preps, strict=True))
                if r.reason in RETRY_REASONS and isinstance(p, Preprocessed)]

    def _second_look(self, sources: list[ImageInput], results: list[Prediction],
                     looks: dict[int, Preprocessed], gate_threshold: float | None = None) -> None:
        """Replace results[i] by the answer on looks[i] where that answer is a digit."""
        if not looks:
            return
        answers = self._answer([sources[i] for i in looks], list(looks.values()), gate_threshold)
        for i, r in zip(looks, answers, strict=True):
            if r.reason is None:
                results[i] = r

    @staticmethod
    def _prepare(source: ImageInput) -> Preprocessed | DigitsError:
        try:
            return prepare(source)
        except DigitsError as e:
            return e

    def _answer(self, sources: list[ImageInput], preps: list[Preprocessed | DigitsError],
                gate_threshold: float | None = None) -> list[Prediction]:
        gate_threshold = self.gate_threshold if gate_threshold is None else gate_threshold
        results: list[Prediction] = []
        batch, where = [], []
        for src, prep in zip(sources, preps, strict=True):
            name = _name(src)
            if isinstance(prep, DigitsError):
                results.append(Prediction(name, None, 0.0, [0.0] * 10, "error", str(prep)))
                continue
            reason = prep.reason or digit_reason(prep.ink, prep.shape)
            results.append(Prediction(name, None, 0.0, [0.0] * 10, reason, model_input=prep.image))
            if reason != "blank":
                batch.append(prep.image)
                where.append(len(results) - 1)
        images = np.stack(batch) if batch else np.zeros((0, 28, 28), np.uint8)
        probs, other, far = self.judge(images)
        for i, p, q, d in zip(where, probs, other, far, strict=True):
            r = results[i]
            digit, conf = int(p.argmax()), float(p.max())
            r.confidence, r.probabilities = conf, [round(float(v), 6) for v in p]
            if r.reason is None and (q > gate_threshold or d > self.ood_threshold):
                r.reason = "not_a_digit"
            if r.reason is None and not r.confidence >= self.min_confidence:  # NaN too
                r.reason = "unreadable"
            if r.reason is None:
                r.digit = digit
        return results

    def predict(self, source: ImageInput) -> Prediction:
        return self.predict_many([source])[0]

    def read_many(self, sources: list[ImageInput]) -> list[Reading]:
        """A number of 1-20 digits on one line per image, read left to right."""
        return [self.read(src) for src in input_list(sources, "read")]

    def read(self, source: ImageInput) -> Reading:
        """A reading that abstains (not blank; unreadable too) or whose paper estimate sank under a
        glyph gets a look with the paper taken as one level, as in `predict_many` (no glyph a filled
        shape, `flat_gate_threshold`, `keeps`), which counts when it reads a number."""
        name = _name(source)
        try:
            gray, factor = load_gray(source)
        except DigitsError as e:
            return Reading(name, None, [], "error", str(e))
        return self._read_gray(name, gray, factor)

    def _read_gray(self, name: str | None, gray: np.ndarray, factor: float) -> Reading:
        """`read` of an image already decoded by `load_gray`."""
        ink = find_ink(gray, factor, READ_WORK_SIDE)
        if ink.page is None or not ink.page.any():
            return Reading(name, None, [], "not_a_digit" if ink.noise >= NOISY else "blank")
        reading, shapes = self._read_ink(name, ink, self.gate_threshold)
        gate = self.flat_gate_threshold
        if (reading.reason not in (None, "blank") or any(map(sank, shapes))) and gate is not None \
                and shapes and all(s.solid < FILLED for s in shapes):
            flat = find_ink(gray, factor, READ_WORK_SIDE, flat=ink.invert)
            if keeps(ink, flat):
                again, _ = self._read_ink(name, flat, gate)
                if again.reason is None:
                    return again
        return reading

    def _read_ink(self, name: str | None, ink: Ink, gate_threshold: float) -> tuple[Reading, list[Shape]]:
        """The number in `ink`, and the shapes of its glyphs (none when there are too many to be one)."""
        found = glyphs(ink.page, ink.parts)
        if ink.shape(ink.page).ink_fraction > MAX_INK_FRACTION or len(found) > MAX_DIGITS:
            return Reading(name, None, [], "not_a_digit"), []
        shapes = [ink.shape(g.mask) for g in found]
        if all(shape_reason(s, alone=False) for s in shapes):
            return Reading(name, None, [], "not_a_digit"), shapes
        classify = functools.partial(self._classify, ink)
        parts = settle_pieces(split_glyphs(found, classify), ink.parts, classify)
        if not parts or len(parts) > MAX_DIGITS:
            return Reading(name, None, [], "not_a_digit" if parts else "blank"), shapes
        images = np.stack([render(ink, g.mask) for g in parts])
        probs, other, far = self.judge(images)
        digits = [DigitBox(int(p.argmax()), round(float(p.max()), 6), ink.box(g.mask))
                  for g, p in zip(parts, probs, strict=True)]
        measured = {id(g): s for g, s in zip(found, shapes, strict=True)}  # a glyph left whole is a part
        reasons = [shape_reason(measured[id(g)] if id(g) in measured else ink.shape(g.mask), alone=False)
                   or ("not_a_digit" if q > gate_threshold or d > self.ood_threshold else None)
                   for g, q, d in zip(parts, other, far, strict=True)]
        refused = [g for g, r in zip(parts, reasons, strict=True) if r is not None]
        if len(refused) >= MAX_NOT_DIGITS or len(parts) <= SHORT and any(id(g) in measured for g in refused):
            return Reading(name, None, digits, "not_a_digit"), shapes
        if not min(d.confidence for d in digits) >= self.min_confidence:  # NaN too
            return Reading(name, None, digits, "unreadable"), shapes
        return Reading(name, "".join(str(d.digit) for d in digits), digits), shapes

    def _classify(self, ink: Ink, masks: list[np.ndarray]) -> np.ndarray:
        images = np.stack([render(ink, m) for m in masks]) if masks else np.zeros((0, 28, 28), np.uint8)
        return self.probabilities(images).numpy()


def _name(src: ImageInput) -> str | None:
    if isinstance(src, str | Path):
        return str(src)
    name = getattr(src, "name", None) if hasattr(src, "read") else None  # an open file
    return name if isinstance(name, str) else None
