#!/usr/bin/env python3
"""Writes the PyTorch golden files that parity_test.go checks cnngen against.

Run it from the repository root with a Python that has PyTorch and NumPy
(written against Debian's python3-torch 1.13 and python3-numpy):

    /usr/bin/python3 internal/torchparity/make_golden.py

It writes internal/torchparity/testdata/<model>.safetensors for five models:
the four MLPerf Tiny reference models of examples/ (resnet8, dscnn,
mobilenet_vww, autoencoder) and LeNet-5 (examples/lenet5.yaml). CI does not
run it: the golden files are committed, and the script is kept so that they
can be reviewed and regenerated. Runs are deterministic (seeded).

Each model is written here by hand from its reference (the Keras definitions
of github.com/mlcommons/tiny, benchmark/training), independently of the
cnngen description, with every module named as the cnngen layer it stands
for, so that parameter names match ("block1_conv1.weight", "bn1.running_var").
TensorFlow's SAME padding, which puts the odd row or column of padding at the
bottom/right, is emulated with F.pad wherever PyTorch's symmetric padding
would differ.

For each model the script draws the initial parameters (PyTorch's default
initialisation, then batch norm's weight and bias moved away from 1 and 0 so
that they matter), a small input batch and its labels or targets, and rounds
all of them to values that float16 represents exactly, so that they are
stored losslessly in half the space. It then computes, in float64:

  - the evaluation-mode outputs with the initial parameters and running
    statistics ("eval_init");
  - five training steps of plain SGD (torch.optim.SGD, no momentum, no weight
    decay) with batch norm in training mode. Dropout layers are left in
    evaluation mode (the identity) because cnngen draws other masks: the Go
    side runs those networks with rate 0. The first step's outputs are
    "logits" and its gradients "grad/<param>"; "loss" holds the five steps'
    losses;
  - after the steps, the parameters "final/<param>" (those of at most
    FINAL_MAX_VALUES values, to keep the files small), the batch norm buffers
    "final/<buffer>" and the evaluation-mode outputs ("eval_final").

The safetensors format is written by hand (no safetensors package needed): an
8-byte little-endian header length, a JSON header {name: {dtype, shape,
data_offsets}} with a "__metadata__" map of strings, then the raw
little-endian data. Tensors:

  input            F16 [N, H, W, C]: the input batch in cnngen's NHWC order
  labels           I64 [N] (classifiers) or targets F16 [N, outputs]
  init/<param>     F16, PyTorch layouts: conv [F, C/groups, KH, KW], linear
                   [out, in] with the first linear after a conv stack taking
                   its inputs in PyTorch's CHW flatten order (cnngen: HWC)
  init/<buffer>    running_mean, running_var F32 [C]; num_batches_tracked I64 []
  logits, eval_init, eval_final   F32 [N, outputs] (pre-softmax)
  loss             F32 [5]
  grad/<param>, final/<param>, final/<buffer>   F32 (num_batches_tracked I64)

The metadata gives the model, its description file, the loss and reduction,
the learning rate and step count, the trainable parameter count, the number
of running-statistic values and the MACs per sample (conv: output elements x
input channels / groups x kernel height x width; linear: in x out).
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

STEPS = 5
LEARNING_RATE = 0.01
# Final values are written only for parameters of at most this many values,
# which keeps every file under 2 MB; the losses of the steps and eval_final
# check the larger ones.
FINAL_MAX_VALUES = 4096


def same_padding(size, kernel, stride):
    """TensorFlow's SAME padding of one dimension: (before, after)."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv(nn.Conv2d):
    """A Conv2d with TensorFlow's padding modes ('same' or 'valid')."""

    def __init__(self, cin, cout, kernel, stride=1, padding="same", groups=1, bias=True):
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=bias)
        self.same = padding == "same"

    def forward(self, x):
        if self.same:
            top, bottom = same_padding(x.shape[2], self.kernel_size[0], self.stride[0])
            left, right = same_padding(x.shape[3], self.kernel_size[1], self.stride[1])
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def keras_bn(channels, dense=False):
    """Keras's BatchNormalization defaults in PyTorch's terms."""
    cls = nn.BatchNorm1d if dense else nn.BatchNorm2d
    return cls(channels, eps=1e-3, momentum=0.01)


class ResNet8(nn.Module):
    """mlcommons/tiny image_classification resnet_v1_eembc, 16 filters."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = Conv(3, 16, 3), keras_bn(16)
        cin = 16
        for b, cout in ((1, 16), (2, 32), (3, 64)):
            stride = 1 if b == 1 else 2
            setattr(self, f"block{b}_conv1", Conv(cin, cout, 3, stride))
            setattr(self, f"block{b}_bn1", keras_bn(cout))
            setattr(self, f"block{b}_conv2", Conv(cout, cout, 3))
            setattr(self, f"block{b}_bn2", keras_bn(cout))
            if b > 1:
                setattr(self, f"block{b}_shortcut", Conv(cin, cout, 1, stride))
            cin = cout
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for b in (1, 2, 3):
            m = lambda name: getattr(self, f"block{b}_{name}")
            y = F.relu(m("bn1")(m("conv1")(x)))
            y = m("bn2")(m("conv2")(y))
            shortcut = x if b == 1 else m("shortcut")(x)
            x = F.relu(shortcut + y)
        x = F.avg_pool2d(x, 8)
        return self.fc(torch.flatten(x, 1))


class DSCNN(nn.Module):
    """mlcommons/tiny keyword_spotting ds_cnn."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = Conv(1, 64, (10, 4), 2), keras_bn(64)
        self.dropout1 = nn.Dropout(0.2)
        for i in range(1, 5):
            setattr(self, f"dw{i}", Conv(64, 64, 3, groups=64))
            setattr(self, f"dw{i}_bn", keras_bn(64))
            setattr(self, f"pw{i}", Conv(64, 64, 1))
            setattr(self, f"pw{i}_bn", keras_bn(64))
        self.dropout2 = nn.Dropout(0.4)
        self.fc = nn.Linear(64, 12)

    def forward(self, x):
        x = self.dropout1(F.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = F.relu(getattr(self, f"dw{i}_bn")(getattr(self, f"dw{i}")(x)))
            x = F.relu(getattr(self, f"pw{i}_bn")(getattr(self, f"pw{i}")(x)))
        x = F.avg_pool2d(self.dropout2(x), (25, 5))
        return self.fc(torch.flatten(x, 1))


class MobileNetVWW(nn.Module):
    """mlcommons/tiny visual_wake_words mobilenet_v1, alpha 0.25."""

    # (stride of the depthwise conv, filters of the pointwise conv) per block.
    BLOCKS = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128)] + [(1, 128)] * 5 + [(2, 256), (1, 256)]

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = Conv(3, 8, 3, 2), keras_bn(8)
        c = 8
        for i, (stride, f) in enumerate(self.BLOCKS, 1):
            setattr(self, f"dw{i}", Conv(c, c, 3, stride, groups=c))
            setattr(self, f"dw{i}_bn", keras_bn(c))
            setattr(self, f"pw{i}", Conv(c, f, 1))
            setattr(self, f"pw{i}_bn", keras_bn(f))
            c = f
        self.fc = nn.Linear(256, 2)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for i in range(1, len(self.BLOCKS) + 1):
            x = F.relu(getattr(self, f"dw{i}_bn")(getattr(self, f"dw{i}")(x)))
            x = F.relu(getattr(self, f"pw{i}_bn")(getattr(self, f"pw{i}")(x)))
        x = F.avg_pool2d(x, 3)
        return self.fc(torch.flatten(x, 1))


class Autoencoder(nn.Module):
    """mlcommons/tiny anomaly_detection's dense autoencoder, 640 inputs."""

    HIDDEN = [128, 128, 128, 128, 8, 128, 128, 128, 128]

    def __init__(self):
        super().__init__()
        n = 640
        for i, units in enumerate(self.HIDDEN, 1):
            setattr(self, f"fc{i}", nn.Linear(n, units))
            setattr(self, f"bn{i}", keras_bn(units, dense=True))
            n = units
        self.fc10 = nn.Linear(n, 640)

    def forward(self, x):
        x = torch.flatten(x, 1)
        for i in range(1, len(self.HIDDEN) + 1):
            x = F.relu(getattr(self, f"bn{i}")(getattr(self, f"fc{i}")(x)))
        return self.fc10(x)


class LeNet5(nn.Module):
    """LeNet-5 as examples/lenet5.yaml describes it, with its default names."""

    def __init__(self):
        super().__init__()
        self.conv1 = Conv(1, 6, 5, padding="same")
        self.conv2 = Conv(6, 16, 5, padding="valid")
        self.dense1 = nn.Linear(16 * 5 * 5, 120)
        self.dense2 = nn.Linear(120, 84)
        self.dense3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)  # CHW order
        x = F.relu(self.dense1(x))
        x = F.relu(self.dense2(x))
        return self.dense3(x)


# name, description, model, input shape (H, W, C), outputs, batch, loss,
# reduction.
MODELS = [
    ("resnet8", "examples/resnet8.yaml", ResNet8, (32, 32, 3), 10, 4, "cross_entropy", "mean"),
    ("dscnn", "examples/dscnn.yaml", DSCNN, (49, 10, 1), 12, 4, "cross_entropy", "mean"),
    ("mobilenet_vww", "examples/mobilenet_vww.yaml", MobileNetVWW, (96, 96, 3), 2, 2, "cross_entropy", "mean"),
    ("autoencoder", "examples/autoencoder.yaml", Autoencoder, (1, 1, 640), 640, 4, "mse", "mean"),
    ("lenet5", "examples/lenet5.yaml", LeNet5, (28, 28, 1), 10, 4, "cross_entropy", "mean"),
]


def count_macs(model, x):
    """Multiply-accumulates of one sample's forward pass (conv and linear)."""
    macs = []

    def conv_hook(m, inputs, out):
        kh, kw = m.kernel_size
        macs.append(out[0].numel() * (m.in_channels // m.groups) * kh * kw)

    def linear_hook(m, inputs, out):
        macs.append(m.in_features * m.out_features)

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    model.eval()
    with torch.no_grad():
        model(x[:1])
    for h in hooks:
        h.remove()
    return sum(macs)


def as_f32(t):
    return t.detach().to(torch.float32).cpu().numpy()


def as_f16(t):
    """The values of t, which must be float16-exact, as float16."""
    arr = t.detach().cpu().numpy().astype(np.float16)
    if not np.array_equal(arr.astype(np.float64), t.detach().cpu().numpy().astype(np.float64)):
        raise ValueError("values are not float16-exact")
    return arr


def write_safetensors(path, tensors, metadata):
    """Writes (name, numpy array) pairs and a metadata map as safetensors."""
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


def golden(name, desc, cls, shape, outputs, batch, loss_kind, reduction, seed):
    torch.manual_seed(seed)
    model = cls()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
        for p in model.parameters():
            p.copy_(p.half().float())
    h, w, c = shape
    x_nhwc = torch.randn(batch, h, w, c).half().float()
    if loss_kind == "mse":
        # An autoencoder: the targets are the inputs.
        targets = x_nhwc.reshape(batch, -1).clone()
        criterion = nn.MSELoss(reduction=reduction)
    else:
        targets = torch.randint(0, outputs, (batch,))
        criterion = nn.CrossEntropyLoss(reduction=reduction)

    tensors = [("input", as_f16(x_nhwc))]
    tensors.append(("targets", as_f16(targets)) if loss_kind == "mse" else ("labels", targets.numpy().astype(np.int64)))

    def state(prefix):
        out = []
        for pname, p in model.named_parameters():
            if prefix == "init":
                out.append((f"{prefix}/{pname}", as_f16(p)))
            elif p.numel() <= FINAL_MAX_VALUES:
                out.append((f"{prefix}/{pname}", as_f32(p)))
        for bname, b in model.named_buffers():
            arr = b.detach().cpu().numpy().astype(np.int64) if b.dtype == torch.int64 else as_f32(b)
            out.append((f"{prefix}/{bname}", arr))
        return out

    tensors += state("init")
    params = sum(p.numel() for p in model.parameters())
    buffer_values = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    x = x_nhwc.permute(0, 3, 1, 2).contiguous()
    macs = count_macs(model, x)

    model.double()
    x = x.double()
    if loss_kind == "mse":
        targets = targets.double()

    model.eval()
    with torch.no_grad():
        tensors.append(("eval_init", as_f32(model(x))))

    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    losses = []
    for step in range(STEPS):
        model.train()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()
        opt.zero_grad()
        out = model(x)
        loss = criterion(out, targets)
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            tensors.append(("logits", as_f32(out)))
            tensors += [(f"grad/{pname}", as_f32(p.grad)) for pname, p in model.named_parameters()]
        opt.step()
    tensors.append(("loss", np.array(losses, dtype=np.float32)))
    tensors += state("final")
    model.eval()
    with torch.no_grad():
        tensors.append(("eval_final", as_f32(model(x))))

    metadata = {
        "model": name,
        "description": desc,
        "input_layout": "NHWC: each sample in cnngen's HWC order",
        "param_layout": "PyTorch: conv [F, C/groups, KH, KW]; linear [out, in], CHW flatten order",
        "loss": loss_kind,
        "reduction": reduction,
        "optimizer": "sgd",
        "learning_rate": repr(LEARNING_RATE),
        "steps": str(STEPS),
        "final_max_values": str(FINAL_MAX_VALUES),
        "batch": str(batch),
        "dropout": "identity during the steps (cnngen's masks differ): run the network with rate 0",
        "precision": "computed in float64 from float32 inputs and parameters, stored as float32",
        "params": str(params),
        "buffer_values": str(buffer_values),
        "macs": str(macs),
        "seed": str(seed),
        "torch": torch.__version__,
    }
    return tensors, metadata, losses


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.join(here, "testdata")
    os.makedirs(out_dir, exist_ok=True)
    only = set(sys.argv[1:])
    for seed, (name, desc, cls, shape, outputs, batch, loss_kind, reduction) in enumerate(MODELS, 1):
        if only and name not in only:
            continue
        tensors, metadata, losses = golden(name, desc, cls, shape, outputs, batch, loss_kind, reduction, seed)
        for _, arr in tensors:
            if arr.dtype == np.float32 and not np.all(np.isfinite(arr)):
                sys.exit(f"{name}: non-finite values")
        path = os.path.join(out_dir, name + ".safetensors")
        write_safetensors(path, tensors, metadata)
        print(f"{path}: {os.path.getsize(path)} bytes, {metadata['params']} params, "
              f"{metadata['macs']} MACs, losses {' '.join(f'{l:.5f}' for l in losses)}")


if __name__ == "__main__":
    main()
