"""Every registered model: shapes, finite outputs, gradients; the seed models' exact sizes."""

from __future__ import annotations

import pytest
import torch

from handwritten_digits.errors import ModelError
from handwritten_digits.models import count_parameters, create_model, list_models
from handwritten_digits.models.summary import summary


@pytest.mark.parametrize("name", list_models())
def test_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.rand(4, 1, 28, 28)
    logits = model(x)
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", list_models())
def test_channels_last_matches(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = torch.rand(3, 1, 28, 28)
    ref = model(x)
    out = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("name", "params"), [("seed-cnn", 3_274_634), ("seed-mlp", 669_706)])
def test_seed_parameter_counts(name: str, params: int) -> None:
    assert count_parameters(create_model(name)) == params


def test_seed_cnn_summary_matches_keras() -> None:
    rows, total = summary(create_model("seed-cnn"))
    shapes = [shape for _, shape, _ in rows]
    assert (32, 28, 28) in shapes and (64, 7, 7) in shapes and (1024,) in shapes
    assert [p for _, _, p in rows if p] == [832, 51_264, 3_212_288, 10_250]
    assert total == 3_274_634


def test_keras_init_zero_bias() -> None:
    model = create_model("seed-cnn")
    assert all((m.bias == 0).all() for m in model.modules() if hasattr(m, "bias") and m.bias is not None)


def test_unknown_model() -> None:
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        create_model("nope")


@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_best_cnn_kernel_sets_every_convolution(kernel: int) -> None:
    model = create_model("best-cnn", width=8, kernel=kernel)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and all(c.kernel_size == (kernel, kernel) for c in convs)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_even_kernel_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="kernel must be odd"):
        create_model("best-cnn", kernel=4)


def test_inference_puts_every_module_in_eval_mode():
    from handwritten_digits.evaluate import infer
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(784, 10))
    model.eval()
    model[1].train()  # a submodule left in training mode: dropout would make answers random
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    assert torch.equal(infer(model, images), infer(model, images))


@pytest.mark.parametrize(("kernel", "widths", "flat"), [
    (3, [32, 48, 64, 80, 96, 112, 128, 144, 160, 176], 176 * 8 * 8),
    (5, [32, 64, 96, 128, 160], 160 * 8 * 8),
    (7, [48, 96, 144, 192], 192 * 4 * 4),
])
def test_simple_cnn_is_the_records_member(kernel: int, widths: list[int], flat: int) -> None:
    """An et al. 2020's M3 / M5 / M7: unpadded bias-free convolutions, each with BatchNorm and ReLU,
    no pooling, one bias-free linear layer and a BatchNorm over the logits."""
    model = create_model("simple-cnn", kernel=kernel)
    layers = list(model.features)
    convs = layers[0::3]
    assert [c.out_channels for c in convs] == widths
    assert all(isinstance(c, torch.nn.Conv2d) and c.kernel_size == (kernel, kernel)
               and c.padding == (0, 0) and c.bias is None for c in convs)
    assert all(isinstance(m, torch.nn.BatchNorm2d) for m in layers[1::3])
    assert all(isinstance(m, torch.nn.ReLU) for m in layers[2::3]) and len(layers) == 3 * len(widths)
    _, linear, norm = model.classifier
    assert (linear.in_features, linear.out_features, linear.bias) == (flat, 10, None)
    assert isinstance(norm, torch.nn.BatchNorm1d) and norm.num_features == 10


@pytest.mark.parametrize("kernel", [1, 4, 9, True, "3"])
def test_simple_cnn_refuses_other_kernels(kernel: object) -> None:
    with pytest.raises(ModelError, match="kernel must be one of"):
        create_model("simple-cnn", kernel=kernel)


@pytest.mark.parametrize("head", ["flat", "pool"])
def test_served_forward_is_the_modules_bit_for_bit(head: str) -> None:
    from handwritten_digits.models.ours import SmallCNN
    torch.manual_seed(0)
    model = SmallCNN(((8, 8), (16,), (24,)), head=head, dropout=0.3, kernel=5)
    for m in model.modules():  # running statistics away from their initial 0 and 1
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    calls = []
    model.features[0].register_forward_hook(lambda *_: calls.append(1))
    one = torch.rand(1, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    for x in (torch.rand(3, 1, 28, 28), one):
        with torch.no_grad():
            ref = model.forward_with_features(x)
        with torch.inference_mode():
            out = model.forward_with_features(x)
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
    assert len(calls) == 2  # the modules ran under no_grad only: inference mode took the functional path
    # one layer left in training (the rest in eval): the modules run, with that layer's batch statistics
    model.features[3][1].train()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        ref = model.forward_with_features(x)[0]
    with torch.inference_mode():
        out = model.forward_with_features(x)[0]
    assert len(calls) == 4 and torch.allclose(out, ref, atol=1e-5)
    model.eval()
    with torch.inference_mode():
        assert not torch.allclose(model.forward_with_features(x)[0], ref, atol=1e-3)
