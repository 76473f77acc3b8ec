//go:build !linux

package main

import "os/exec"

// setParentDeath does nothing outside Linux, which alone can have a child
// killed when its parent dies: there the child trainer ends with cnngen by
// watching its stdin (see trainerMain).
func setParentDeath(cmd *exec.Cmd) {}
