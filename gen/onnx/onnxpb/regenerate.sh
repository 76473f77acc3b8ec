#!/bin/sh
# Regenerates onnx.pb.go from onnx.proto (ONNX v1.16.2). Needs protoc 3.21.12
# (Debian's protobuf-compiler) and protoc-gen-go at the
# google.golang.org/protobuf version of go.mod on PATH:
#
#	apt-get install -y protobuf-compiler
#	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#
# Not a go:generate line: go generate ./... (which CI runs to check that
# generated/ is up to date) must not need protoc.
set -eu
cd "$(dirname "$0")"
protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/cnngen/cnngen/gen/onnx/onnxpb onnx.proto
