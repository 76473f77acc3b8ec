#!/bin/sh
# The benchmark suite's two outside anchors in one go, as go run ./benchmarks/compare -parts suite
# runs them: PyTorch (benchmarks/pytorch/suite.py, which also exports the six networks to ONNX in
# a temporary directory), then ONNX Runtime (benchmarks/ort/bench.js) on those exports.
#
#   benchmarks/anchors.sh [--quick] [--nets digits,lenet5,...] [--threads 1,2]
#
# Output: "#" lines and one JSON record per figure (see benchmarks/README.md, "Suite anchors").
# A missing torch or onnxruntime-node is a "# skipped: ..." line, not an error.
set -eu
cd "$(dirname "$0")/.."
for arg in "$@"; do
	case $arg in
	--quick | --nets | --threads) ;;
	-*) echo "anchors.sh: unknown option $arg (have --quick, --nets, --threads)" >&2; exit 2 ;;
	esac
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/cnngen-anchors.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
"${PYTHON:-/usr/bin/python3}" benchmarks/pytorch/suite.py --export-onnx "$dir" "$@"
if ! command -v node >/dev/null; then
	echo "# skipped: node not installed (Debian: apt-get install -y nodejs npm)"
elif ls "$dir"/*.onnx >/dev/null 2>&1; then
	node benchmarks/ort/bench.js --models "$dir" "$@"
else
	echo "# skipped: ONNX Runtime anchor: suite.py exported no models"
fi
