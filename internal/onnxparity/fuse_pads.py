#!/usr/bin/env python3
"""Writes testdata/<model>_padfused.onnx for each fixture whose PyTorch export
has Pad nodes: the same network with each zero Pad that feeds a Conv folded
into that Conv's (asymmetric) pads attribute, as tf2onnx writes TensorFlow's
SAME padding, and each all-zero Pad (PyTorch puts one before AveragePool)
dropped. Needs Debian's python3-onnx (1.12) and python3-numpy.

    /usr/bin/python3 internal/onnxparity/fuse_pads.py

PyTorch 1.13 exports nn.ZeroPad2d / F.pad at opset 13 as a Pad node whose
pads input is computed by a small subgraph of constants (Constant,
ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast) that its constant
folding leaves in place, and the graph's output then has a symbolic batch
dimension. This script evaluates that subgraph with NumPy, checks that each
Pad is a constant-mode zero pad of H and W only, moves the pads into the
Conv that consumes it ([top, left, bottom, right]), drops the dead nodes and
reruns ONNX shape inference (the output becomes [1, K] again). It refuses
any other shape of graph. ort/run.js runs the variant too and stores its
outputs as "output_ort_padfused".
"""

import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference


def evaluate(node, args):
    """The constant ops of PyTorch's pads subgraph, on NumPy arrays."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    op = node.op_type
    if op == "Constant":
        return numpy_helper.to_array(attrs["value"])
    if op == "ConstantOfShape":
        value = numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
        return np.full(tuple(args[0].astype(np.int64)), value.reshape(-1)[0], dtype=value.dtype)
    if op == "Concat":
        return np.concatenate(args, axis=attrs["axis"])
    if op == "Reshape":
        return args[0].reshape(tuple(int(d) for d in args[1]))
    if op == "Transpose":
        return np.transpose(args[0], attrs.get("perm"))
    if op == "Cast":
        return args[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[attrs["to"]])
    if op == "Slice":
        data, starts, ends = args[:3]
        axes = args[3] if len(args) > 3 else np.arange(len(starts))
        steps = args[4] if len(args) > 4 else np.ones(len(starts), np.int64)
        index = [slice(None)] * data.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            # INT64 extremes stand for "to the end": Python's slices clamp them.
            index[int(a)] = slice(int(s), int(e), int(st))
        return data[tuple(index)]
    return None


def fuse(src, dst):
    model = onnx.load(src)
    g = model.graph
    known = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    producer = {}
    for n in g.node:
        for o in n.output:
            producer[o] = n
        if all(i in known for i in n.input if i):
            value = evaluate(n, [known[i] for i in n.input if i])
            if value is not None:
                known[n.output[0]] = value
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    pads = [n for n in g.node if n.op_type == "Pad"]
    if not pads:
        return False
    for pad in pads:
        mode = {a.name: helper.get_attribute_value(a) for a in pad.attribute}.get("mode", b"constant")
        p = known[pad.input[1]].astype(np.int64).tolist()
        value = known[pad.input[2]] if len(pad.input) > 2 and pad.input[2] else np.zeros(1)
        if mode != b"constant" or np.any(value != 0) or len(p) != 8 or p[0] or p[1] or p[4] or p[5] or min(p) < 0:
            sys.exit(f"{src}: {pad.name}: not a zero pad of H and W: mode {mode}, value {value}, pads {p}")
        users = consumers.get(pad.output[0], [])
        if not any(p):
            # PyTorch's avg_pool2d export puts an all-zero Pad before
            # AveragePool (count_include_pad): drop it.
            for u in users:
                for k, i in enumerate(u.input):
                    if i == pad.output[0]:
                        u.input[k] = pad.input[0]
            print(f"  {pad.name} -> {[u.name for u in users]}: all-zero pads, dropped")
            continue
        if len(users) != 1 or users[0].op_type != "Conv":
            sys.exit(f"{src}: {pad.name}: feeds {[u.op_type for u in users]}, not one Conv")
        conv = users[0]
        attrs = {a.name: a for a in conv.attribute}
        if "auto_pad" in attrs and helper.get_attribute_value(attrs["auto_pad"]) not in (b"NOTSET", b""):
            sys.exit(f"{src}: {conv.name}: auto_pad set")
        old = helper.get_attribute_value(attrs["pads"]) if "pads" in attrs else [0, 0, 0, 0]
        new = [old[0] + p[2], old[1] + p[3], old[2] + p[6], old[3] + p[7]]  # top, left, bottom, right
        if "pads" in attrs:
            conv.attribute.remove(attrs["pads"])
        conv.attribute.append(helper.make_attribute("pads", new))
        conv.input[0] = pad.input[0]
        print(f"  {pad.name} -> {conv.name}: pads {new}")
    # Drop the nodes no output depends on any more.
    needed = {o.name for o in g.output}
    live = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            live.append(n)
            needed.update(i for i in n.input if i)
    live.reverse()
    del g.node[:]
    g.node.extend(live)
    unused = [t for t in g.initializer if t.name not in needed]
    for t in unused:
        g.initializer.remove(t)
    del g.value_info[:]
    for o in g.output:
        dim = o.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = 1
    model = shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return True


def main():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
    for f in sorted(os.listdir(here)):
        if not f.endswith(".onnx") or f.endswith("_padfused.onnx"):
            continue
        dst = os.path.join(here, f[:-5] + "_padfused.onnx")
        print(f)
        if fuse(os.path.join(here, f), dst):
            print(f"  wrote {dst}: {os.path.getsize(dst)} bytes")
        else:
            print("  no Pad: nothing to fuse")


if __name__ == "__main__":
    main()
