// Package onnxpb holds the Go types of ONNX's protocol buffers, generated
// from onnx.proto, copied unchanged from ONNX release v1.16.2
// (github.com/onnx/onnx, commit 3bf92c03a9f27eba3bda1e5b9e63ea20ec213557,
// file onnx/onnx.proto; Apache-2.0, see its SPDX header).
//
// onnx.pb.go is generated and committed; CI does not run protoc. To
// regenerate it, with protoc 3.21.12 (Debian's protobuf-compiler) and
// protoc-gen-go at the google.golang.org/protobuf version of go.mod
// (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12) on
// PATH, run regenerate.sh in this directory.
package onnxpb
