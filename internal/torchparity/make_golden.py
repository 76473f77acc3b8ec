#!/usr/bin/env python3
"""Writes the PyTorch golden files that parity_test.go checks cnngen against.

Run it from the repository root with a Python that has PyTorch and NumPy
(written against Debian's python3-torch 1.13 and python3-numpy):

    /usr/bin/python3 internal/torchparity/make_golden.py

It writes internal/torchparity/testdata/<model>.safetensors for six models:
the four MLPerf Tiny reference models of examples/ (resnet8, dscnn,
mobilenet_vww, autoencoder), LeNet-5 (examples/lenet5.yaml) and zoo
(testdata/zoo.yaml), a small graph with the layers and options of cnngen's
descriptions that the others leave out. CI does not
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
  - a few training steps of plain SGD (torch.optim.SGD, no momentum, no
    weight decay; five, one for MobileNet, see MODELS) with batch norm in
    training mode. Dropout layers are left in evaluation mode (the
    identity) because cnngen draws other masks: the Go side runs those
    networks with rate 0. The first step's outputs are "logits" and its
    gradients "grad/<param>"; "loss" holds every step's loss;
  - after the steps, the parameters "final/<param>" (those of at most
    FINAL_MAX_VALUES values, to keep the files small), the batch norm buffers
    "final/<buffer>" and the evaluation-mode outputs ("eval_final").

It runs the same computation in float32 too and measures how far PyTorch's
float32 comes from the float64 values, as parity_test.go measures cnngen
(the metadata keeps these deviations). It refuses to write a golden file
when they exceed half of the Go test's tolerances (TOLERANCES): a golden run
so ill-conditioned that a float32 engine cannot follow it proves nothing.

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
  loss             F32 [steps]
  grad/<param>, final/<param>, final/<buffer>   F32 (num_batches_tracked I64)

The metadata gives the model, its description file, the loss and reduction,
the batch, learning rate and step count, the trainable parameter count, the
number of running-statistic values and the MACs per sample (conv: output
elements x input channels / groups x kernel height x width; linear: in x
out).
"""

import copy
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The tolerances of parity_test.go (keep them in step): a golden file is only
# written when PyTorch's own float32 run stays within half of them of the
# float64 golden values, so that a float32 engine can be held to them.
TOLERANCES = {"outputs": 1e-5, "loss": 1e-5, "grads": 5e-4, "updates": 1e-2}
FLOOR_SHARE = 0.01
FLOAT32_EPS = 2.0 ** -23
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


class Zoo(nn.Module):
    """testdata/zoo.yaml: the layers and options the reference models leave
    out."""

    def __init__(self):
        super().__init__()
        self.stem = Conv(3, 8, 3, 2, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)  # PyTorch's defaults: momentum 0.1, eps 1e-5
        self.dw = Conv(8, 16, 3, groups=8)
        self.pw = Conv(8, 8, 1)
        self.mix = Conv(24, 12, 4, groups=4)
        self.skip = Conv(24, 12, 1, bias=False)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(12, 6)
        self.fc_bn = nn.BatchNorm1d(6)
        self.out = nn.Linear(6, 5)

    def forward(self, x):
        x = F.relu6(self.stem_bn(self.stem(x)))
        x = torch.cat([F.leaky_relu(self.dw(x), 0.1), F.relu(self.pw(x))], 1)
        x = self.mix(x) + self.skip(x)
        # TensorFlow's SAME max pool: the odd padding at the bottom/right,
        # never the maximum.
        top, bottom = same_padding(x.shape[2], 2, 2)
        left, right = same_padding(x.shape[3], 2, 2)
        x = F.max_pool2d(F.pad(x, (left, right, top, bottom), value=-math.inf), 2)
        x = self.drop(x.mean((2, 3)))
        x = torch.tanh(self.fc_bn(self.fc(x)))
        return self.out(x)


# name, description, model, input shape (H, W, C), outputs, loss, and the
# golden run's reduction, batch size, SGD learning rate and step count. Deep
# batch-norm networks are chaotic at initialisation on tiny batches: their
# training-mode gradients explode toward the input, and after a step or two
# float32 and float64 runs part ways. The batches and steps below are the
# ones for which PyTorch's float32 run stays close to float64 (main checks
# it): MobileNet takes one step, the autoencoder a batch of 32.
MODELS = [
    ("resnet8", "examples/resnet8.yaml", ResNet8, (32, 32, 3), 10, "cross_entropy", "mean", 4, 0.01, 5),
    ("dscnn", "examples/dscnn.yaml", DSCNN, (49, 10, 1), 12, "cross_entropy", "mean", 4, 0.01, 5),
    ("mobilenet_vww", "examples/mobilenet_vww.yaml", MobileNetVWW, (96, 96, 3), 2, "cross_entropy", "mean", 2, 0.01, 1),
    ("autoencoder", "examples/autoencoder.yaml", Autoencoder, (1, 1, 640), 640, "mse", "mean", 32, 0.01, 5),
    ("lenet5", "examples/lenet5.yaml", LeNet5, (28, 28, 1), 10, "cross_entropy", "mean", 4, 0.01, 5),
    ("zoo", "internal/torchparity/testdata/zoo.yaml", Zoo, (9, 9, 3), 5, "cross_entropy", "mean", 4, 0.01, 5),
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
    return t.detach().to(torch.float32, copy=True).cpu().numpy()


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


def run(model, x, targets, criterion, lr, steps):
    """The golden computation in the model's precision: a dict of float64
    numpy arrays and dicts of them."""
    res = {}
    f64 = lambda t: t.detach().to(torch.float64, copy=True).cpu().numpy()
    model.eval()
    with torch.no_grad():
        res["eval_init"] = f64(model(x))
    res["init"] = {n: f64(p) for n, p in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
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
            res["logits"] = f64(out)
            res["grads"] = {n: f64(p.grad) for n, p in model.named_parameters()}
        opt.step()
    res["loss"] = np.array(losses)
    res["final"] = {n: f64(p) for n, p in model.named_parameters()}
    res["buffers"] = {n: b.detach().cpu().numpy().copy() for n, b in model.named_buffers()}
    model.eval()
    with torch.no_grad():
        res["eval_final"] = f64(model(x))
    return res


def deviation(got, want, floor=0.0, slack=0.0):
    """parity_test.go's closeTo measure: the largest difference beyond slack,
    relative to the larger of want's largest magnitude and floor."""
    scale = max(np.abs(want).max(), floor)
    return max(np.abs(got - want).max() - slack, 0.0) / scale if scale > 0 else 0.0


def float32_deviations(lo, hi, steps):
    """How far the float32 run lo is from the float64 run hi, measured as
    parity_test.go measures cnngen."""
    dev = {
        "outputs": max(deviation(lo[k], hi[k]) for k in ("eval_init", "eval_final")),
        "loss": float(np.max(np.abs(lo["loss"] - hi["loss"]) / np.abs(hi["loss"]))),
    }
    largest = max(np.abs(g).max() for g in hi["grads"].values())
    dev["grads"] = max(deviation(lo["grads"][n], g, FLOOR_SHARE * largest) for n, g in hi["grads"].items())
    moved = {n: v - hi["init"][n] for n, v in hi["final"].items() if v.size <= FINAL_MAX_VALUES}
    largest = max(np.abs(d).max() for d in moved.values())
    dev["updates"] = max(
        deviation(lo["final"][n] - lo["init"][n], d, FLOOR_SHARE * largest,
                  steps * FLOAT32_EPS * np.abs(lo["final"][n]).max())
        for n, d in moved.items())
    stats = {n: hi["buffers"][n] - b for n, b in lo["buffers_init"].items() if "running" in n}
    if stats:
        largest = max(np.abs(d).max() for d in stats.values())
        dev["updates"] = max(dev["updates"], max(
            deviation(lo["buffers"][n] - lo["buffers_init"][n], d, FLOOR_SHARE * largest,
                      steps * FLOAT32_EPS * np.abs(lo["buffers"][n]).max())
            for n, d in stats.items()))
    return dev


def golden(name, desc, cls, shape, outputs, loss_kind, reduction, batch, lr, steps, seed):
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
    for pname, p in model.named_parameters():
        tensors.append((f"init/{pname}", as_f16(p)))
    for bname, b in model.named_buffers():
        tensors.append((f"init/{bname}", b.numpy().astype(np.int64) if b.dtype == torch.int64 else as_f32(b)))
    buffers_init = {n: b.detach().numpy().astype(np.float64) for n, b in model.named_buffers()}
    params = sum(p.numel() for p in model.parameters())
    buffer_values = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    x = x_nhwc.permute(0, 3, 1, 2).contiguous()
    macs = count_macs(model, x)

    model64 = copy.deepcopy(model).double()
    t64 = targets.double() if loss_kind == "mse" else targets
    hi = run(model64, x.double(), t64, criterion, lr, steps)
    lo = run(model, x, targets, criterion, lr, steps)
    lo["buffers_init"] = buffers_init
    dev = float32_deviations(lo, hi, steps)
    for kind, d in dev.items():
        if d > TOLERANCES[kind] / 2:
            sys.exit(f"{name}: PyTorch's float32 run is {d:.3g} from float64 in {kind}, over half the "
                     f"tolerance {TOLERANCES[kind]}: the golden run is too ill-conditioned")

    tensors += [("eval_init", hi["eval_init"].astype(np.float32)), ("logits", hi["logits"].astype(np.float32))]
    tensors.append(("loss", hi["loss"].astype(np.float32)))
    tensors += [(f"grad/{n}", g.astype(np.float32)) for n, g in hi["grads"].items()]
    tensors += [(f"final/{n}", v.astype(np.float32)) for n, v in hi["final"].items() if v.size <= FINAL_MAX_VALUES]
    for n, b in hi["buffers"].items():
        tensors.append((f"final/{n}", b.astype(np.int64) if n.endswith("num_batches_tracked") else b.astype(np.float32)))
    tensors.append(("eval_final", hi["eval_final"].astype(np.float32)))

    metadata = {
        "model": name,
        "description": desc,
        "input_layout": "NHWC: each sample in cnngen's HWC order",
        "param_layout": "PyTorch: conv [F, C/groups, KH, KW]; linear [out, in], CHW flatten order",
        "loss": loss_kind,
        "reduction": reduction,
        "optimizer": "sgd",
        "learning_rate": repr(lr),
        "steps": str(steps),
        "batch": str(batch),
        "final_max_values": str(FINAL_MAX_VALUES),
        "dropout": "identity during the steps (cnngen's masks differ): run the network with rate 0",
        "precision": "computed in float64 from float16-exact inputs and parameters, stored as float32",
        "params": str(params),
        "buffer_values": str(buffer_values),
        "macs": str(macs),
        "seed": str(seed),
        "torch": torch.__version__,
    }
    for kind, d in dev.items():
        metadata[f"torch_float32_deviation_{kind}"] = f"{d:.3g}"
    return tensors, metadata, hi["loss"], dev


def main():
    torch.set_num_threads(1)  # reproducible float32 reductions
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.join(here, "testdata")
    os.makedirs(out_dir, exist_ok=True)
    only = set(sys.argv[1:])
    for seed, (name, *config) in enumerate(MODELS, 1):
        if only and name not in only:
            continue
        tensors, metadata, losses, dev = golden(name, *config, seed)
        path = os.path.join(out_dir, name + ".safetensors")
        write_safetensors(path, tensors, metadata)
        print(f"{path}: {os.path.getsize(path)} bytes, {metadata['params']} params, "
              f"{metadata['macs']} MACs, losses {' '.join(f'{l:.5f}' for l in losses)}; "
              f"float32 deviations {', '.join(f'{k} {v:.2g}' for k, v in dev.items())}")


if __name__ == "__main__":
    main()
