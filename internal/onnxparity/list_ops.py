#!/usr/bin/env python3
"""Lists what each ONNX fixture of testdata/ contains: the opset, the graph's
inputs and outputs, the op types with their counts, each node (name, op,
inputs, outputs, attributes; Pad's pads) and the initializers' names and
shapes. Needs Debian's python3-onnx (1.12); checks each model with
onnx.checker first.

    /usr/bin/python3 internal/onnxparity/list_ops.py [-v] [model ...]

Without -v it prints one summary line per model (the op types and counts).
testdata/graphs.txt is its -v output (regenerate it with
`list_ops.py -v > internal/onnxparity/testdata/graphs.txt`).
"""

import collections
import os
import sys

import onnx
from onnx import helper, numpy_helper


def dims(value_info):
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    only = {a for a in args if a != "-v"}
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
    for f in sorted(os.listdir(here)):
        if not f.endswith(".onnx") or (only and f[:-5] not in only):
            continue
        model = onnx.load(os.path.join(here, f))
        onnx.checker.check_model(model)
        g = model.graph
        inits = {t.name: t for t in g.initializer}
        counts = collections.Counter(n.op_type for n in g.node)
        ops = ", ".join(f"{op} {c}" for op, c in sorted(counts.items()))
        opset = ",".join(f"{o.domain or 'ai.onnx'}:{o.version}" for o in model.opset_import)
        if not verbose:
            print(f"{f[:-5]}: {ops}")
            continue
        print(f"== {f}: ir_version {model.ir_version}, opset {opset}, producer {model.producer_name} {model.producer_version}")
        for i in g.input:
            if i.name not in inits:
                print(f"  input  {i.name} {dims(i)}")
        for o in g.output:
            print(f"  output {o.name} {dims(o)}")
        print(f"  ops: {ops}")
        for n in g.node:
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            attrs = {k: (v.decode() if isinstance(v, bytes) else
                         numpy_helper.to_array(v).tolist() if isinstance(v, onnx.TensorProto) else v)
                     for k, v in attrs.items()}
            extra = ""
            if n.op_type == "Pad" and len(n.input) > 1 and n.input[1] in inits:
                extra = f" pads={numpy_helper.to_array(inits[n.input[1]]).tolist()}"
            print(f"  {n.name or '-'}: {n.op_type}({', '.join(n.input)}) -> {', '.join(n.output)} {attrs}{extra}")
        for t in g.initializer:
            print(f"  init {t.name} {list(t.dims)}")


if __name__ == "__main__":
    main()
