#!/usr/bin/env python3
"""Exports the ONNX test fixtures of internal/onnxparity/testdata.

Run it from the repository root with Debian's PyTorch (python3-torch 1.13,
python3-numpy), then compute ONNX Runtime's outputs with ort/run.js:

    /usr/bin/python3 internal/onnxparity/export.py [model ...]
    node internal/onnxparity/ort/run.js [model ...]

For each model it writes

  testdata/<model>.onnx         the model exported by torch.onnx.export
                                (opset 13, batch 1, input "input", output
                                "output", constant folding on, eval mode)
  testdata/<model>.safetensors  "input" F32 [N, C, H, W] (the autoencoder:
                                [N, 640]), N seeded samples, and PyTorch's
                                outputs for them: "output_torch" F32 [N, K]
                                (float32, as exported) and "output_torch64"
                                F32 [N, K] (the same model in float64,
                                rounded to float32); ort/run.js adds
                                "output_ort" F32 [N, K].

The models are the four MLPerf Tiny reference models of examples/ (resnet8,
dscnn, mobilenet_vww, autoencoder) and LeNet-5 (examples/lenet5.yaml), the
architectures of internal/torchparity/make_golden.py written here the way
PyTorch users write them: nn.Sequential stacks and small modules with
torchvision-like names (features.0, layer2.conv1, classifier), since the
ONNX importer takes its names from the graph. Each ends in the softmax of
its cnngen description (the autoencoder has none).

TensorFlow's SAME padding is symmetric for every stride-1 convolution here
and is then nn.Conv2d's padding (the Conv node's pads attribute). Where it
is not (stride-2 convolutions on even sizes, DS-CNN's 10x4 first
convolution) the odd row and column go at the bottom and right, as in
TensorFlow, with an nn.ZeroPad2d before an unpadded convolution: an ONNX Pad
node before the Conv.

Parameters: PyTorch's default initialisation drawn from a fixed seed, then
batch norm's weight, bias, running mean and running variance moved away
from 1, 0, 0 and 1 (so that a missed or misplaced batch norm shows in the
outputs), and the last linear layer's weights scaled up so that the softmax
outputs are not nearly uniform. The exporter folds each eval-mode batch norm
that follows a convolution into that convolution's weights and bias; the
autoencoder's batch norms, after linear layers, stay BatchNormalization
nodes.

The safetensors format (written by hand, as make_golden.py does): an 8-byte
little-endian header length, a JSON header {name: {dtype, shape,
data_offsets}} with a "__metadata__" map of strings, then the raw
little-endian data. runtime/checkpoint/safetensors reads it.
"""

import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

SAMPLES = 3
OPSET = 13


def same_padding(size, kernel, stride):
    """TensorFlow's SAME padding of one dimension: (before, after), and the
    output size."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def conv_same(cin, cout, kernel, stride, size, groups=1):
    """TensorFlow's SAME convolution on a size (H, W) input: the modules (a
    padded nn.Conv2d, or an nn.ZeroPad2d and an unpadded nn.Conv2d when the
    padding is asymmetric) and the output size."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    top, bottom, oh = same_padding(size[0], kh, stride)
    left, right, ow = same_padding(size[1], kw, stride)
    if top == bottom and left == right:
        return [nn.Conv2d(cin, cout, (kh, kw), stride, padding=(top, left), groups=groups)], (oh, ow)
    return [nn.ZeroPad2d((left, right, top, bottom)),
            nn.Conv2d(cin, cout, (kh, kw), stride, groups=groups)], (oh, ow)


def keras_bn(channels, dense=False):
    """Keras's BatchNormalization defaults in PyTorch's terms."""
    cls = nn.BatchNorm1d if dense else nn.BatchNorm2d
    return cls(channels, eps=1e-3, momentum=0.01)


class BasicBlock(nn.Module):
    """resnet_v1_eembc's residual block: conv-bn-relu-conv-bn, plus the input
    or its 1x1 strided projection (no batch norm), then relu."""

    def __init__(self, cin, cout, stride, size):
        super().__init__()
        mods, out = conv_same(cin, cout, 3, stride, size)
        self.pad = mods[0] if len(mods) == 2 else nn.Identity()
        self.conv1 = mods[-1]
        self.bn1 = keras_bn(cout)
        self.relu = nn.ReLU()
        self.conv2 = conv_same(cout, cout, 3, 1, out)[0][0]
        self.bn2 = keras_bn(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            # A 1x1 SAME convolution needs no padding.
            self.downsample = nn.Conv2d(cin, cout, 1, stride)
        self.out_size = out

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(self.pad(x))))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(shortcut + y)


class ResNet8(nn.Module):
    """mlcommons/tiny image_classification resnet_v1_eembc, 16 filters;
    input [1, 3, 32, 32]."""

    input_shape = (3, 32, 32)

    def __init__(self):
        super().__init__()
        size = (32, 32)
        stem, size = conv_same(3, 16, 3, 1, size)
        self.stem = nn.Sequential(*stem, keras_bn(16), nn.ReLU())
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            blocks.append(BasicBlock(cin, cout, stride, size))
            size, cin = blocks[-1].out_size, cout
        self.layer1, self.layer2, self.layer3 = blocks
        self.pool = nn.AvgPool2d(8)  # AveragePooling2D(pool_size=8) on 8x8
        self.fc = nn.Linear(64, 10)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        x = torch.flatten(self.pool(x), 1)
        return self.softmax(self.fc(x))


def separable(c, cout, stride, size):
    """A depthwise 3x3 (SAME) and a pointwise 1x1 convolution, each followed
    by batch norm and ReLU."""
    dw, size = conv_same(c, c, 3, stride, size, groups=c)
    return [*dw, keras_bn(c), nn.ReLU(), nn.Conv2d(c, cout, 1), keras_bn(cout), nn.ReLU()], size


class DSCNN(nn.Module):
    """mlcommons/tiny keyword_spotting ds_cnn; input [1, 1, 49, 10] (49
    frames of 10 MFCCs)."""

    input_shape = (1, 49, 10)

    def __init__(self):
        super().__init__()
        conv1, size = conv_same(1, 64, (10, 4), 2, (49, 10))
        layers = [*conv1, keras_bn(64), nn.ReLU(), nn.Dropout(0.2)]
        for _ in range(4):
            mods, size = separable(64, 64, 1, size)
            layers += mods
        layers.append(nn.Dropout(0.4))
        self.features = nn.Sequential(*layers)
        assert size == (25, 5)
        self.pool = nn.AdaptiveAvgPool2d(1)  # AveragePooling2D((25, 5)): global
        self.classifier = nn.Linear(64, 12)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = torch.flatten(self.pool(self.features(x)), 1)
        return self.softmax(self.classifier(x))


class MobileNetVWW(nn.Module):
    """mlcommons/tiny visual_wake_words mobilenet_v1, alpha 0.25; input
    [1, 3, 96, 96]."""

    input_shape = (3, 96, 96)
    # (stride of the depthwise conv, filters of the pointwise conv) per block.
    BLOCKS = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128)] + [(1, 128)] * 5 + [(2, 256), (1, 256)]

    def __init__(self):
        super().__init__()
        conv1, size = conv_same(3, 8, 3, 2, (96, 96))
        layers, c = [*conv1, keras_bn(8), nn.ReLU()], 8
        for stride, f in self.BLOCKS:
            mods, size = separable(c, f, stride, size)
            layers += mods
            c = f
        self.features = nn.Sequential(*layers)
        assert size == (3, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)  # AveragePooling2D(3) on 3x3: global
        self.classifier = nn.Linear(256, 2)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = torch.flatten(self.pool(self.features(x)), 1)
        return self.softmax(self.classifier(x))


class Autoencoder(nn.Module):
    """mlcommons/tiny anomaly_detection's dense autoencoder; input [1, 640]
    (cnngen's 1x1x640), output [1, 640], no softmax."""

    input_shape = (640,)
    HIDDEN = [128, 128, 128, 128, 8, 128, 128, 128, 128]

    def __init__(self):
        super().__init__()
        layers, n = [], 640
        for units in self.HIDDEN:
            layers += [nn.Linear(n, units), keras_bn(units, dense=True), nn.ReLU()]
            n = units
        layers.append(nn.Linear(n, 640))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class LeNet5(nn.Module):
    """examples/lenet5.yaml; input [1, 1, 28, 28]."""

    input_shape = (1, 28, 28)

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),  # SAME: symmetric
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5),  # VALID
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # CHW order
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
            nn.Softmax(dim=1),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


# name, description, model class, scale of the last linear layer's weights.
MODELS = [
    ("resnet8", "examples/resnet8.yaml", ResNet8, 40.0),
    ("dscnn", "examples/dscnn.yaml", DSCNN, 40.0),
    ("mobilenet_vww", "examples/mobilenet_vww.yaml", MobileNetVWW, 40.0),
    ("autoencoder", "examples/autoencoder.yaml", Autoencoder, 1.0),
    ("lenet5", "examples/lenet5.yaml", LeNet5, 40.0),
]


def write_safetensors(path, tensors, metadata):
    """Writes (name, numpy array) pairs and a metadata map as safetensors
    (make_golden.py's writer)."""
    dtypes = {
        np.dtype("float16"): ("F16", "<f2"),
        np.dtype("float32"): ("F32", "<f4"),
        np.dtype("int64"): ("I64", "<i8"),
    }
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, arr in tensors:
        dtype, layout = dtypes[arr.dtype]
        data = np.ascontiguousarray(arr, dtype=layout).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # align the data section
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for data in blobs:
            f.write(data)


def build(cls, scale, seed):
    torch.manual_seed(seed)
    model = cls()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        last.weight.mul_(scale)
    return model.eval()


def export(name, desc, cls, scale, seed, out_dir):
    model = build(cls, scale, seed)
    gen = torch.Generator().manual_seed(1000 + seed)
    inputs = torch.randn((SAMPLES, *cls.input_shape), generator=gen)
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, inputs[:1], path, opset_version=OPSET, input_names=["input"],
                      output_names=["output"], do_constant_folding=True)
    with torch.no_grad():
        out32 = torch.cat([model(inputs[i:i + 1]) for i in range(SAMPLES)])
        m64 = build(cls, scale, seed).double()
        out64 = torch.cat([m64(inputs[i:i + 1].double()) for i in range(SAMPLES)])
    params = sum(p.numel() for p in model.parameters())
    metadata = {
        "model": name,
        "description": desc,
        "onnx": f"{name}.onnx",
        "opset": str(OPSET),
        "input_layout": "NCHW (PyTorch's); the autoencoder [N, 640]",
        "samples": f"{SAMPLES}, each run alone at the model's batch size 1",
        "output_torch": "PyTorch float32, eval mode, the module that was exported",
        "output_torch64": "the same module in float64, rounded to float32",
        "params": str(params),
        "seed": str(seed),
        "torch": torch.__version__,
    }
    tensors = [("input", inputs.numpy().astype(np.float32)),
               ("output_torch", out32.numpy().astype(np.float32)),
               ("output_torch64", out64.numpy().astype(np.float32))]
    st = os.path.join(out_dir, name + ".safetensors")
    write_safetensors(st, tensors, metadata)
    d = (out32.double() - out64).abs().max().item()
    print(f"{path}: {os.path.getsize(path)} bytes, {params} params; {st}: {os.path.getsize(st)} bytes; "
          f"output range [{out64.min().item():.4g}, {out64.max().item():.4g}], "
          f"max |torch32 - torch64| {d:.3g}")


def main():
    torch.set_num_threads(1)
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.join(here, "testdata")
    os.makedirs(out_dir, exist_ok=True)
    only = set(sys.argv[1:])
    for seed, (name, *config) in enumerate(MODELS, 1):
        if only and name not in only:
            continue
        export(name, *config, seed, out_dir)


if __name__ == "__main__":
    main()
