//go:build !amd64 || purego

package peak

// Kernels returns no kernels: the FMA-peak loops exist only in amd64
// assembly, and the purego tag leaves assembly out.
func Kernels() []Kernel { return nil }
