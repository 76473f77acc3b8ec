// Package benchutil holds what cnngen's benchmark packages share: the
// process's CPU time, which measures work better than the wall clock on a
// shared machine, and a loop over the ISA paths this CPU has.
package benchutil
