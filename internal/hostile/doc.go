// Package hostile holds cnngen's cross-package fault tests: several models
// (generic and generated) training at the same time in one process, under
// the race detector in CI (.ci/run). It has no API of its own.
package hostile
