#!/bin/sh
# Rewrites gen/onnx/testdata/export: the ONNX models that cnngen's exporter
# writes for examples lenet5, residual and dscnn (weights of seed 7), the
# inputs and cnngen's outputs (TestExportGoldens with
# CNNGEN_WRITE_EXPORT_GOLDENS=1), then ONNX Runtime's outputs (ort/export.js).
# Needs Go and Node.js; installs onnxruntime-node with npm ci when missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
CNNGEN_WRITE_EXPORT_GOLDENS=1 go test -count=1 -run 'TestExportGoldens$' ./gen/onnx/
cd "$here/ort"
[ -d node_modules/onnxruntime-node ] || npm ci --ignore-scripts
node export.js
cd "$root"
go test -count=1 -run 'TestExportGoldens$' -v ./gen/onnx/ | grep -E 'max|ok|FAIL'
