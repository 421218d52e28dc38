"""The out-of-distribution score: fitted on digits, far for noise, carried in the model file, obeyed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from handwritten_digits import Recognizer
from handwritten_digits.errors import DigitsError, ModelError
from handwritten_digits.modelio import load_model
from handwritten_digits.ood import attach, distance, fit, logits_and_features
from tests.conftest import synthetic_digits


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """A one-epoch fast-cnn on the tiny synthetic digits (the MLP of `tiny_run` has no conv features)."""
    from handwritten_digits.train import TrainConfig
    from handwritten_digits.train import fit as train

    out = tmp_path_factory.mktemp("runs") / "cnn"
    config = TrainConfig(model="fast-cnn", model_args={"width": 8}, dataset=str(tiny_dataset), epochs=1,
                         batch_size=64, out=str(out))
    return train(config, remember=False)


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = synthetic_digits(n, seed=seed)
    return torch.from_numpy(x), torch.from_numpy(y).long()


def test_distance_is_to_the_nearest_class() -> None:
    stats = {"means": torch.tensor([[0.0, 0.0], [10.0, 0.0]]),
             "precision": torch.diag(torch.tensor([1.0, 0.25]))}
    got = distance(torch.tensor([[1.0, 0.0], [10.0, 4.0], [5.0, 0.0]]), stats)
    assert got.tolist() == pytest.approx([1.0, 4.0, 25.0])


def test_digits_lie_near_their_classes_and_noise_far(cnn_run: Path) -> None:
    loaded = load_model(cnn_run)
    stats = fit(loaded, *_data(600, seed=5))
    near = distance(logits_and_features(loaded, _data(200, seed=6)[0])[1], stats)
    noise = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    far = distance(logits_and_features(loaded, noise)[1], stats)
    assert np.median(far) > 3 * np.median(near)
    assert np.mean(far > np.quantile(near, 0.99)) > 0.9


def test_the_score_travels_in_the_model_file_and_is_obeyed(cnn_run: Path, tmp_path: Path) -> None:
    path = attach(cnn_run, tmp_path / "ood", threshold=1e9, data=_data(600, seed=5))
    assert json.loads(path.with_suffix(".json").read_text())["ood"]["threshold"] == 1e9
    plain, scored = Recognizer.load(cnn_run, min_confidence=0), Recognizer.load(path, min_confidence=0)
    assert "ood" in scored.loaded.extra and "ood" not in plain.loaded.extra
    assert plain.ood_threshold == float("inf") and scored.ood_threshold == 1e9
    digits = synthetic_digits(3, seed=9)[0]
    for digit in digits:  # the classifier is run once for both answers, and answers the same
        a, b = plain.predict(digit), scored.predict(digit)
        assert (a.digit, a.reason, a.probabilities) == (b.digit, b.reason, b.probabilities)
        assert a.reason is None
    strict = Recognizer.load(path, min_confidence=0, max_distance=1e-6)
    assert {strict.predict(d).reason for d in digits} == {"not_a_digit"}
    number = np.zeros((40, 120), np.uint8)
    number[6:34, 10:38], number[6:34, 60:88] = digits[0], digits[1]
    assert scored.read(number).text is not None and strict.read(number).reason == "not_a_digit"
    assert load_model(cnn_run).meta.get("ood") is None  # the source model is left alone


@pytest.mark.parametrize("entry", [None, {}, {"threshold": -1.0}, {"threshold": "1000"}])
def test_malformed_ood_entry_is_a_model_error(cnn_run: Path, tmp_path: Path, entry: object) -> None:
    path = attach(cnn_run, tmp_path / "ood", data=_data(300, seed=5))
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["ood"] = entry
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="ood"):
        load_model(path)


def test_an_ood_entry_without_its_tensors_is_a_model_error(cnn_run: Path, tmp_path: Path) -> None:
    path = attach(cnn_run, tmp_path / "ood", data=_data(300, seed=5))
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes((cnn_run / "model.safetensors").read_bytes())
    plain.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(ModelError, match="ood"):
        load_model(plain)


class _Features(torch.nn.Module):
    """A stand-in classifier whose features are the image's first pixels: fit is then checked exactly."""

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = x.flatten(1)[:, :3]
        return torch.zeros(len(x), 10), f


def test_fit_is_class_means_and_the_inverse_of_their_pooled_covariance() -> None:
    from handwritten_digits.modelio import LoadedModel
    from handwritten_digits.ood import RIDGE

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 30)
    images = np.zeros((300, 28, 28), np.uint8)
    images[:, 0, :3] = np.clip(rng.normal(100, 30, (300, 3)) + labels[:, None] * 8, 0, 255)
    loaded = LoadedModel(_Features(), {"input": {"mean": 0.0, "std": 1.0}, "class_names": list("0123456789")})
    stats = fit(loaded, torch.from_numpy(images), torch.from_numpy(labels))
    f = images[:, 0, :3].astype(np.float64) / 255
    means = np.stack([f[labels == c].mean(0) for c in range(10)])
    r = f - means[labels]
    cov = r.T @ r / len(r)
    cov += RIDGE * np.diag(cov).mean() * np.eye(3)
    precision = np.linalg.inv(cov)
    assert np.allclose(stats["means"].numpy(), means, rtol=1e-5)
    assert np.allclose(stats["precision"].numpy(), precision, rtol=1e-4)
    d = f[:, None, :] - means[None]
    want = np.einsum("ncd,de,nce->nc", d, precision, d).min(1)
    assert np.allclose(distance(torch.from_numpy(f).float(), stats), want, rtol=1e-3, atol=1e-3)
    with pytest.raises(DigitsError, match="every class"):
        fit(loaded, torch.from_numpy(images[labels != 9]), torch.from_numpy(labels[labels != 9]))


@pytest.mark.parametrize("change", ["narrow", "nan", "bool"])
def test_statistics_that_do_not_fit_the_model_are_a_model_error(cnn_run: Path, tmp_path: Path,
                                                                 change: str) -> None:
    from safetensors.torch import load_file, save_file

    path = attach(cnn_run, tmp_path / "ood", data=_data(300, seed=5))
    state = load_file(str(path))
    if change == "narrow":  # statistics of another model's features
        state["ood.means"], state["ood.precision"] = state["ood.means"][:, :8], state["ood.precision"][:8, :8]
    elif change == "nan":
        state["ood.means"][0, 0] = float("nan")
    else:
        meta = json.loads(path.with_suffix(".json").read_text())
        meta["ood"]["threshold"] = True
        path.with_suffix(".json").write_text(json.dumps(meta))
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"format": "pt"})
    with pytest.raises(ModelError, match="ood"):
        load_model(path)
