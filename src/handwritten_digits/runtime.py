"""The Recognizer's forward passes -- classifier (logits and pooled features) and "not a digit" gate --
run by ONNX Runtime, or by PyTorch where that cannot be.

For one 28x28 image PyTorch takes its im2col + GEMM path for five of the classifier's six convolutions
(its own rule for small single inputs); ONNX Runtime runs the whole pass in about a third of the time,
which is a fifth of a 640x480 photo's answer (`benchmarks/preprocess_latency.py`). Each network is
exported in memory when a model is loaded (torch.onnx's TorchScript exporter: 0.2 s for both, nothing
written) and checked against PyTorch on a probe batch. PyTorch answers instead when onnxruntime is not
installed, when DIGITS_RUNTIME=torch, when a network cannot be exported (an ensemble), or when the two
disagree on the probe by more than TOLERANCE; `Networks.runtime` says which ran. The exported networks
are copies taken when `Networks` is built: a model changed in place afterwards needs a new Recognizer
(one whose classifier or gate is replaced by another module falls back to PyTorch by itself).
"""

from __future__ import annotations

import copy
import io
import logging
import os
import warnings

import numpy as np
import torch
from torch import nn

from handwritten_digits.errors import DigitsError
from handwritten_digits.evaluate import infer, prepare
from handwritten_digits.modelio import LoadedModel
from handwritten_digits.models.ours import MNIST_MEAN, MNIST_STD
from handwritten_digits.ood import has_features, logits_and_features

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnx", "torch")  # DIGITS_RUNTIME: auto = ONNX Runtime when it works, else PyTorch
TOLERANCE = 1e-3  # largest difference between the runtimes on the probe batch, relative to the largest
# |output| (logits, features, the gate's logits)
PROBE_SEED = 0
CHUNK = 256  # images per session run: ONNX Runtime keeps the memory of its largest run for good


class _WithFeatures(nn.Module):
    """The classifier as one exportable module: (N, 1, 28, 28) -> logits (N, C), features (N, D)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_with_features(x)


def wanted() -> str:
    """DIGITS_RUNTIME, checked: auto (default), onnx (fail unless ONNX Runtime runs) or torch."""
    value = os.environ.get("DIGITS_RUNTIME", "").strip().lower() or "auto"
    if value not in RUNTIMES:
        raise DigitsError(f"DIGITS_RUNTIME={value!r}: expected one of {', '.join(RUNTIMES)}")
    return value


def _why(e: BaseException) -> str:
    """An exception's first line, or its type when it says nothing (a bare assert, MemoryError())."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _gap(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max() / max(float(np.abs(theirs).max()), 1e-6))


def _session(module: nn.Module, outputs: list[str]):  # -> onnxruntime.InferenceSession
    import onnxruntime as ort

    module = copy.deepcopy(module).eval()  # tracing runs the module; the caller's stays untouched
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # "legacy TorchScript-based ONNX export": we ask for it by name
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 1, 28, 28),), buffer, input_names=["x"],
                          output_names=outputs, dynamic_axes={"x": {0: "n"}}, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # what PyTorch was given (serve: per worker)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
    options.log_severity_level = 3
    return ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])


class Networks:
    """The classifier's and the gate's outputs for (N, 28, 28) uint8 images, as numpy arrays."""

    def __init__(self, loaded: LoadedModel, runtime: str | None = None) -> None:
        self.loaded = loaded
        self.model, self.gate = loaded.model, loaded.extra.get("gate")  # what was exported
        self._classifier = self._gate = None
        runtime = wanted() if runtime is None else runtime
        if runtime != "torch":
            try:
                self._onnx()
            except Exception as e:  # no onnxruntime, a module the exporter cannot take, a mismatch
                if runtime == "onnx":
                    raise DigitsError(f"ONNX Runtime cannot run this model ({_why(e)})") from e
                level = logging.INFO if isinstance(e, ImportError | NotImplementedError) else logging.WARNING
                log.log(level, "answering with PyTorch: %s", _why(e))
                self._classifier = self._gate = None
        self.runtime = "onnxruntime" if self._classifier is not None else "torch"

    def _onnx(self) -> None:
        if not has_features(self.loaded):
            raise NotImplementedError(f"{type(self.loaded.model).__name__} has no forward_with_features")
        self._classifier = _session(_WithFeatures(self.loaded.model), ["logits", "features"])
        self._gate = None if self.gate is None else _session(self.gate, ["logits"])
        lm = self.loaded
        probe = np.random.default_rng(PROBE_SEED).integers(0, 256, (4, 28, 28), dtype=np.uint8)
        probe[0] = 0
        theirs = [t.numpy() for t in logits_and_features(self.loaded, probe)]
        gaps = [_gap(a, b) for a, b in zip(self._run(self._classifier, probe, lm.mean, lm.std), theirs,
                                            strict=True)]
        if self._gate is not None:
            gaps.append(_gap(self._run(self._gate, probe, MNIST_MEAN, MNIST_STD)[0],
                             infer(self.gate, torch.from_numpy(probe), MNIST_MEAN, MNIST_STD).numpy()))
        gap = max(gaps)
        if not gap <= TOLERANCE:
            raise ValueError(f"ONNX Runtime and PyTorch differ by {gap:.2g} on the probe images")

    @staticmethod
    def _run(session, images: np.ndarray, mean: float, std: float) -> list[np.ndarray]:
        """Each output for (N, 28, 28) uint8 images, CHUNK at a time."""
        runs = [session.run(None, {"x": prepare(torch.from_numpy(np.ascontiguousarray(images[i:i + CHUNK])),
                                                mean, std).numpy()})
                for i in range(0, len(images), CHUNK)]
        return [np.concatenate(outs) for outs in zip(*runs, strict=True)]

    @property
    def _live_classifier(self):  # -> onnxruntime.InferenceSession | None
        """The exported classifier while it is still the loaded model's (None: PyTorch answers)."""
        return self._classifier if self.loaded.model is self.model else None

    def _torch_logits(self, images: np.ndarray) -> np.ndarray:
        lm = self.loaded
        return infer(lm.model, torch.from_numpy(np.ascontiguousarray(images)), lm.mean, lm.std).numpy()

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 -> (N, C) float32 logits."""
        if len(images) == 0:
            return np.zeros((0, len(self.loaded.class_names)), np.float32)
        if self._live_classifier is None:
            return self._torch_logits(images)
        return self._run(self._live_classifier, images, self.loaded.mean, self.loaded.std)[0]

    def logits_and_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 28, 28) uint8 -> logits (N, C) and pooled features (N, D), one pass of the classifier."""
        if self._live_classifier is None or len(images) == 0:
            logits, feats = logits_and_features(self.loaded, images)
            return logits.numpy(), feats.numpy()
        logits, feats = self._run(self._live_classifier, images, self.loaded.mean, self.loaded.std)
        return logits, feats

    def not_digit(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 -> (N,) the gate's probability that each is not a digit (0 without one)."""
        gate = self.loaded.extra.get("gate")  # a caller may have taken it out or swapped it since
        if gate is None or len(images) == 0:
            return np.zeros(len(images), np.float32)
        if self._gate is None or gate is not self.gate:
            from handwritten_digits.gate import not_digit_probability
            return not_digit_probability(gate, torch.from_numpy(np.ascontiguousarray(images))).numpy()
        logits = torch.from_numpy(self._run(self._gate, images, MNIST_MEAN, MNIST_STD)[0])
        return logits.softmax(1)[:, 1].numpy()  # as gate.not_digit_probability does
