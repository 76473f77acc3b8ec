#!/bin/sh
# Rewrites gen/onnx/testdata/export: the ONNX models that cnngen's exporter
# writes for examples lenet5, residual and dscnn (weights of seed 7), the
# inputs and cnngen's outputs (TestExportGoldens with
# CNNGEN_WRITE_EXPORT_GOLDENS=1), then ONNX Runtime's outputs (ort/export.js).
# Then rewrites gen/onnx/testdata/export_trained: for the PyTorch fixtures
# imported, trained 3 SGD steps and exported (TestExportTrainedGoldens), the
# inputs, cnngen's outputs, the export's SHA-256 and ONNX Runtime's outputs;
# the exported ONNX files stay in a temporary directory.
# Needs Go and Node.js; installs onnxruntime-node with npm ci when missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
CNNGEN_WRITE_EXPORT_GOLDENS=1 go test -count=1 -run 'TestExportGoldens$' ./gen/onnx/
CNNGEN_WRITE_EXPORT_GOLDENS=1 CNNGEN_EXPORT_TRAINED_DIR="$tmp" go test -count=1 -run 'TestExportTrainedGoldens$' ./gen/onnx/
cd "$here/ort"
[ -d node_modules/onnxruntime-node ] || npm ci --ignore-scripts
node export.js
CNNGEN_EXPORT_DIR="$tmp" node export.js
mkdir -p "$root/gen/onnx/testdata/export_trained"
cp "$tmp"/*.safetensors "$root/gen/onnx/testdata/export_trained/"
cd "$root"
go test -count=1 -run 'TestExportGoldens$|TestExportTrainedGoldens$' -v ./gen/onnx/ | grep -E 'max|ok|FAIL'
