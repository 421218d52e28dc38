"""The Recognizer's forward passes: ONNX Runtime gives PyTorch's outputs, and PyTorch takes over where
ONNX Runtime cannot run or is not wanted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handwritten_digits import Recognizer, runtime
from handwritten_digits.errors import DigitsError
from handwritten_digits.gate import GATE_ARGS, GATE_MODEL
from handwritten_digits.modelio import LoadedModel
from handwritten_digits.models import create_model
from tests.conftest import synthetic_digits

META = {"input": {"mean": 0.2, "std": 0.4}, "class_names": [str(d) for d in range(10)]}  # not MNIST's:
# the gate normalises with MNIST's, the classifier with its sidecar's


def _loaded(model: str = "best-cnn", gate: bool = True, **args: object) -> LoadedModel:
    torch.manual_seed(0)
    classifier = create_model(model, **args)
    with torch.no_grad():  # running statistics of their own, so that a BatchNorm left out shows
        for m in classifier.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    extra = {"gate": create_model(GATE_MODEL, **GATE_ARGS).eval()} if gate else {}
    return LoadedModel(classifier.eval(), dict(META), extra=extra)


def _images() -> np.ndarray:
    digits = synthetic_digits(6, seed=4)[0]
    noise = np.random.default_rng(1).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    return np.concatenate([digits, noise, np.zeros((1, 28, 28), np.uint8)])


def test_onnx_runtime_gives_pytorchs_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = _loaded(width=8)
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    fast = runtime.Networks(loaded, "onnx")
    slow = runtime.Networks(loaded, "torch")
    assert (fast.runtime, slow.runtime) == ("onnxruntime", "torch")
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in before.items())  # export left it
    assert not loaded.model.training
    images = _images()
    for one, other in zip(fast.logits_and_features(images), slow.logits_and_features(images), strict=True):
        assert one.shape == other.shape and np.abs(one - other).max() < 1e-4
    assert np.abs(fast.logits(images[:1]) - slow.logits(images[:1])).max() < 1e-4
    assert np.abs(fast.not_digit(images) - slow.not_digit(images)).max() < 1e-5
    assert fast.logits(images[:0]).shape == (0, 10) and fast.not_digit(images[:0]).shape == (0,)
    assert fast.logits_and_features(images[:0])[0].shape == (0, 10)


def test_pytorch_answers_where_onnx_runtime_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _loaded("seed-cnn", gate=False)  # no forward_with_features: no exported classifier
    assert runtime.Networks(plain).runtime == "torch"
    with pytest.raises(DigitsError, match="ONNX Runtime cannot run"):
        runtime.Networks(plain, "onnx")
    monkeypatch.setattr(runtime, "TOLERANCE", -1.0)  # any difference on the probe is too much
    assert runtime.Networks(_loaded(width=8), "auto").runtime == "torch"
    with pytest.raises(DigitsError, match="differ by"):
        runtime.Networks(_loaded(width=8), "onnx")


@pytest.mark.parametrize("outputs, index", [(2, 0), (2, 1), (1, 0)],
                         ids=["logits", "features", "gate logits"])
def test_the_probe_catches_a_wrong_output(outputs: int, index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    real = runtime._session

    class Off:  # one output of one session 1% off: more than TOLERANCE, less than a wrong model
        def __init__(self, session) -> None:  # noqa: ANN001
            self.session = session

        def run(self, names: None, feeds: dict) -> list[np.ndarray]:
            out = self.session.run(names, feeds)
            out[index] = out[index] * 1.01
            return out

    def session(module: torch.nn.Module, names: list[str]):  # noqa: ANN202
        made = real(module, names)
        return Off(made) if len(names) == outputs else made

    monkeypatch.setattr(runtime, "_session", session)
    networks = runtime.Networks(_loaded(width=8), "auto")
    assert networks.runtime == "torch" and networks._gate is None  # nothing of ONNX Runtime kept


def test_failures_without_a_message_still_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def bare(module: torch.nn.Module, outputs: list[str]) -> None:
        raise AssertionError

    monkeypatch.setattr(runtime, "_session", bare)
    assert runtime.Networks(_loaded(width=8), "auto").runtime == "torch"
    with pytest.raises(DigitsError, match=r"cannot run this model \(AssertionError\)"):
        runtime.Networks(_loaded(width=8), "onnx")


def test_large_batches_run_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "CHUNK", 3)
    loaded = _loaded(width=8)
    fast, slow = runtime.Networks(loaded, "onnx"), runtime.Networks(loaded, "torch")
    images = _images()  # 9 images: chunks of 3, 3 and 3
    assert np.abs(fast.logits(images) - slow.logits(images)).max() < 1e-4
    assert np.abs(fast.not_digit(images) - slow.not_digit(images)).max() < 1e-5


def test_a_classifier_replaced_after_loading_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = _loaded(width=8)
    networks = runtime.Networks(loaded, "onnx")
    images = _images()
    before = networks.logits(images)
    torch.manual_seed(5)
    loaded.model = create_model("best-cnn", width=8).eval()
    after = networks.logits(images)
    assert np.abs(after - before).max() > 1e-3
    assert np.abs(after - runtime.Networks(loaded, "torch").logits(images)).max() < 1e-5
    assert np.array_equal(networks.logits_and_features(images)[0], after)


def test_digits_runtime_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITS_RUNTIME", "torch")
    assert runtime.Networks(_loaded(width=8)).runtime == "torch"
    monkeypatch.setenv("DIGITS_RUNTIME", " ONNX ")
    assert runtime.Networks(_loaded(width=8)).runtime == "onnxruntime"
    monkeypatch.setenv("DIGITS_RUNTIME", "tensorrt")
    with pytest.raises(DigitsError, match="DIGITS_RUNTIME='tensorrt': expected one of auto, onnx, torch"):
        runtime.wanted()


def test_a_gate_taken_out_after_loading_is_not_asked() -> None:
    loaded = _loaded(width=8)
    networks = runtime.Networks(loaded, "onnx")
    images = _images()
    assert networks.not_digit(images).max() > 0
    swapped = create_model(GATE_MODEL, **GATE_ARGS).eval()
    loaded.extra["gate"] = swapped
    from handwritten_digits.gate import not_digit_probability
    expected = not_digit_probability(swapped, torch.from_numpy(images)).numpy()
    assert np.array_equal(networks.not_digit(images), expected)
    del loaded.extra["gate"]
    assert not networks.not_digit(images).any()


def test_the_default_model_answers_through_onnx_runtime() -> None:
    """Fails if the exporter (torch.onnx's TorchScript one, deprecated) stops working for it."""
    rec = Recognizer.load()
    assert rec.networks.runtime == "onnxruntime"
    images = _images()
    with_torch = runtime.Networks(rec.loaded, "torch")
    assert np.abs(rec.networks.logits(images) - with_torch.logits(images)).max() < 1e-4
