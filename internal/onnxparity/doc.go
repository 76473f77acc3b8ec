// Package onnxparity holds the ONNX fixtures of the importer's parity tests
// (testdata: PyTorch-exported models with ONNX Runtime's outputs; see
// README.md) and the test that checks the code cnngen generates for them,
// on every instruction-set path, against ONNX Runtime.
package onnxparity
