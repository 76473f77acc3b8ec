package runtime

// SupportPackageIsVersion1 is referenced by every package that cnngen
// generates, as
//
//	const _ = runtime.SupportPackageIsVersion1
//
// so that generated code and this runtime are known to match at compile
// time, as protobuf-go's generated code checks its support package. The
// number is the version of the API between generated code and the runtime
// (runtime.Model, the loss and initialisation helpers, the ISA dispatch); it
// grows when a change breaks code generated before it. A runtime that no
// longer supports a generated package's version, or one older than the
// generator, fails to build that package with "undefined:
// runtime.SupportPackageIsVersionN": regenerate the package with the cnngen
// whose module version matches the runtime the build uses (the same
// github.com/cnngen/cnngen version in go.mod).
const SupportPackageIsVersion1 = true
