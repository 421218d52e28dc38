"""The server's view of the Recognizer: batched predictions, readings, the model's description.

Routes call these coroutines; the model work runs in a worker thread (micro-batched for
predictions), so the event loop only ever parses HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from handwritten_digits.errors import DigitsError
from handwritten_digits.modelio import LoadedModel
from handwritten_digits.models import get_entry
from handwritten_digits.preprocess import BYTES_NAME
from handwritten_digits.recognize import Prediction, Reading, Recognizer
from handwritten_digits.serve.batching import MicroBatcher
from handwritten_digits.serve.inputs import Upload
from handwritten_digits.serve.metrics import Metrics
from handwritten_digits.serve.settings import Settings


@dataclass(frozen=True)
class Job:
    upload: Upload
    preview: bool  # also return the 28x28 model input as a PNG data URL


class DigitService:
    def __init__(self, recognizer: Recognizer, settings: Settings, metrics: Metrics) -> None:
        self.recognizer = recognizer
        self.metrics = metrics
        self.info = describe_model(recognizer.loaded) | {"runtime": recognizer.networks.runtime}
        self.batcher: MicroBatcher[Job, dict[str, Any]] = MicroBatcher(
            self._predict_batch, settings.max_batch, settings.batch_wait_ms / 1000,
            max_in_flight=settings.batch_threads, on_batch=metrics.batches.observe)
        # `read` runs whole requests, not batches: as many at once as batches, or memory has no bound
        # (8 concurrent reads of three 40 M-pixel PNGs each peaked at 2.9 GB, against 1.5 GB for predict)
        self._reads = asyncio.Semaphore(settings.batch_threads)

    def _predict_batch(self, jobs: list[Job]) -> list[dict[str, Any]]:
        predictions = self.recognizer.predict_many([job.upload.data for job in jobs])
        out = []
        for job, p in zip(jobs, predictions, strict=True):
            answer = _named(p.to_dict(), job.upload)
            if job.preview and p.model_input is not None:
                answer["image"] = png_data_url(p.model_input)
            out.append(answer)
        return out

    async def predict(self, uploads: list[Upload], preview: bool = False) -> list[dict[str, Any]]:
        jobs = [Job(u, preview) for u in uploads if u.problem is None]
        if len(jobs) == 1:
            done = [await self.batcher.submit(jobs[0])]
        else:
            done = list(await asyncio.gather(*(self.batcher.submit(j) for j in jobs)))
        answered = iter(done)
        answers = [next(answered) if u.problem is None else _named(Prediction(
            None, None, 0.0, [0.0] * 10, "error", u.problem.detail).to_dict(), u) for u in uploads]
        return self._checked(uploads, answers, lambda a: a["digit"])

    async def read(self, uploads: list[Upload]) -> list[dict[str, Any]]:
        fine = [u for u in uploads if u.problem is None]
        async with self._reads:
            answered = iter(await run_in_threadpool(self.recognizer.read_many, [u.data for u in fine]))
        answers = [_named((next(answered) if u.problem is None else
                           Reading(None, None, [], "error", u.problem.detail)).to_dict(), u) for u in uploads]
        return self._checked(uploads, answers, lambda a: None)

    def _checked(self, uploads: list[Upload], answers: list[dict[str, Any]],
                 digit: Callable[[dict], int | None]) -> list[dict[str, Any]]:
        """The answers, counted. When every image failed, the first one's error: its own status (413
        over the pixel limit) for an upload refused from its header, else 415."""
        for a in answers:
            self.metrics.observe_answer(digit(a), a["reason"])
        if all(a["error"] for a in answers):
            raise uploads[0].problem or HTTPException(415, answers[0]["error"])
        return answers


def _named(answer: dict[str, Any], upload: Upload) -> dict[str, Any]:
    """The answer under the upload's file name, which its error message names too (the library, given
    bytes, calls them "<bytes>")."""
    if answer["error"]:
        answer["error"] = answer["error"].replace(BYTES_NAME, upload.called, 1)
    return answer | {"file": upload.name}


def png_data_url(image: Any) -> str:
    """(H, W) uint8 array -> data:image/png;base64,..."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def describe_model(loaded: LoadedModel) -> dict[str, Any]:
    """Name, version (weights hash), metrics and a card, from the sidecar: for GET /v1/model."""
    meta = loaded.meta
    digest = hashlib.sha256(loaded.path.read_bytes()).hexdigest()[:12] if loaded.path else "unknown"
    card_keys = ("dataset", "recipe", "seed", "epoch", "input", "temperature", "data_hashes",
                 "versions", "train_config")
    card = {k: meta[k] for k in card_keys if k in meta} | dict(meta.get("card", {}))
    with contextlib.suppress(DigitsError):  # an unregistered name (an ensemble) has none
        card.setdefault("description", get_entry(meta["model"]).description)
    return {"name": meta["model"], "version": f"{meta['model']}-{digest}",
            "path": loaded.path.name if loaded.path else None,  # not the server's folders
            "parameters": meta.get("parameters"), "class_names": loaded.class_names,
            "metrics": meta.get("metrics", {}), "card": card}
