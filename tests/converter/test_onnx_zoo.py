"""PyTorch exports through the ONNX front end: small CNNs defined here (opsets 13 and 17,
static and dynamic batch) and the classic families of the ONNX model zoo, built by
torchvision with random weights: parity with onnxruntime in our interpreter and in LiteRT,
and layouts (no TRANSPOSE inside a plain CNN; a channel shuffle stays NHWC).
"""

from __future__ import annotations

import sys

import pytest

from tests.converter.onnx_check import check_onnx, inner_transposes

torch = pytest.importorskip("torch")
nn = torch.nn
# torch.onnx.export(dynamo=False) is the exporter that writes opsets below 18.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*legacy TorchScript-based ONNX export"),
    pytest.mark.filterwarnings("ignore:The feature will be removed"),
]


def export(model, shape: tuple[int, ...], path, opset: int = 17, dynamic: bool = False):
    model.eval()
    torch.manual_seed(0)
    x = torch.randn(*shape)
    torch.onnx.export(
        model,
        x,
        str(path),
        opset_version=opset,
        dynamo=False,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}} if dynamic else None,
    )
    return path, x.numpy()


def randomize_batch_norms(model) -> None:
    """Running statistics other than 0 and 1, so that folding them is really tested."""
    generator = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=generator) * 0.1)


# -- small CNNs defined here ------------------------------------------------------------------


class PlainCNN(nn.Module):
    """What a plain classifier looks like: conv/bn/relu blocks, pooling, flatten, dense."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU6(),
            nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(16 * 2 * 2, 10))

    def forward(self, x):
        x = self.features(x)
        return torch.softmax(self.classifier(x.view(x.size(0), -1)), dim=1)


class MixedCNN(nn.Module):
    """Many ops at once: depthwise-separable convs, squeeze-excite, hardswish, a residual,
    a channel shuffle, resizes, a transposed conv, concat and split, GELU (Erf)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pointwise = nn.Conv2d(8, 16, 1)
        self.bn = nn.BatchNorm2d(16)
        self.squeeze = nn.Linear(16, 4)
        self.excite = nn.Linear(4, 16)
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
        self.head = nn.Linear(8 + 16, 5)

    def forward(self, x):
        x = nn.functional.hardswish(self.stem(x))
        x = self.bn(self.pointwise(nn.functional.leaky_relu(self.depthwise(x), 0.1)))
        gate = torch.sigmoid(self.excite(torch.relu(self.squeeze(x.mean(dim=(2, 3))))))
        x = x * gate[:, :, None, None]
        n, c, h, w = x.shape
        shuffled = x.view(n, 4, c // 4, h, w).transpose(1, 2).reshape(n, c, h, w)
        x = x + nn.functional.gelu(self.grouped(shuffled))
        left, right = x.split([6, 10], dim=1)
        x = torch.cat([right, left], dim=1)
        up = nn.functional.elu(self.up(x))
        down = nn.functional.interpolate(up, scale_factor=0.5, mode="bilinear")
        near = nn.functional.interpolate(x, scale_factor=1.0, mode="nearest")
        pooled = torch.cat([down.amax(dim=(2, 3)), near.mean(dim=(2, 3))], dim=1)
        return torch.log_softmax(self.head(pooled), dim=-1)


@pytest.mark.parametrize("opset", [13, 17])
def test_plain_cnn_export(tmp_path, opset):
    model = PlainCNN()
    randomize_batch_norms(model)
    path, x = export(model, (2, 3, 16, 16), tmp_path / "plain.onnx", opset)
    result = check_onnx(path, {"x": x})
    assert inner_transposes(result) == 0
    assert result.ops_after.get("TRANSPOSE") == 1  # the NCHW input's
    assert not {"MUL", "ADD", "RELU", "RELU6"} & set(result.ops_after)  # folded and fused


@pytest.mark.parametrize("opset", [13, 17])
def test_plain_cnn_export_with_dynamic_batch(tmp_path, opset):
    path, x = export(PlainCNN(), (3, 3, 16, 16), tmp_path / "plain.onnx", opset, dynamic=True)
    result = check_onnx(path, {"x": x})
    check_onnx(path, {"x": x[:1]}, unoptimized=False)
    assert inner_transposes(result) == 0


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_mixed_cnn_export(tmp_path, opset, dynamic):
    model = MixedCNN()
    randomize_batch_norms(model)
    path, x = export(model, (2, 3, 16, 16), tmp_path / "mixed.onnx", opset, dynamic)
    check_onnx(path, {"x": x})


# -- the model zoo's families, by torchvision ---------------------------------------------------


def import_torchvision():
    """torchvision, or a skip.  A torchvision wheel built for another torch (the CUDA one
    beside a CPU torch) lacks its C ops, which its import registers fakes for and the models
    never use: define them first and import again."""
    try:
        import torchvision
    except ImportError:
        pytest.skip("torchvision missing")
    except RuntimeError:
        for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        library = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import_torchvision.library = library  # kept alive: dropping it undefines the ops
        import torchvision
    return torchvision


ZOO = [
    pytest.param("resnet18", {}, 64, id="resnet18"),
    pytest.param("squeezenet1_1", {}, 64, id="squeezenet1_1"),
    pytest.param("shufflenet_v2_x0_5", {}, 64, id="shufflenet_v2_x0_5"),
    pytest.param("densenet121", {}, 32, id="densenet121"),
    pytest.param("inception_v3", {"aux_logits": False, "init_weights": False}, 75, id="inception"),
    # Their classifiers' adaptive pooling exports only at the native 224 x 224.
    pytest.param("alexnet", {}, 224, id="alexnet", marks=pytest.mark.slow),
    pytest.param("vgg11", {}, 224, id="vgg11", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, kwargs, size", ZOO)
def test_zoo_family(tmp_path, name, kwargs, size):
    torchvision = import_torchvision()
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **kwargs)
    randomize_batch_norms(model)
    path, x = export(model, (1, 3, size, size), tmp_path / f"{name}.onnx")
    result = check_onnx(path, {"x": x}, unoptimized=False)
    shuffles = 16 if name.startswith("shufflenet") else 0  # one 5-D TRANSPOSE each
    assert inner_transposes(result) == shuffles
