// Package safetensors reads and writes the safetensors tensor file format,
// treating every file it reads as hostile.
//
// A safetensors file is
//
//	N      8 bytes, a little-endian uint64: the header's length
//	header N bytes of UTF-8 JSON: {"<name>": {"dtype": "F32", "shape": [2, 3],
//	       "data_offsets": [begin, end]}, …, "__metadata__": {"<key>": "<value>", …}}
//	       (optionally padded with spaces, which writers use to align the data)
//	data   the tensors' bytes, row-major and little-endian; each tensor's
//	       [begin, end) is relative to the start of the data section
//
// The tensors' byte ranges must tile the data section exactly: no overlap, no
// gap, nothing after the last one, and each range as long as its shape and
// dtype say. [ReadHeader] checks all of that, with the header bounded
// ([MaxHeaderSize] and the file's size) before anything is allocated for it;
// it then leaves the data to the caller, which reads it in data order
// ([Header.Tensors]) with [ReadF32] or [ReadI64]. [Write] writes float32 and
// int64 tensors.
//
// The package is small because the format is: the Go library that exists
// (github.com/nlpodyssey/safetensors) parses only a whole file held in
// memory, so a hostile header could not be checked against the tensors a
// caller expects before their data is allocated, and its errors do not say
// which tensor or what was found.
package safetensors
