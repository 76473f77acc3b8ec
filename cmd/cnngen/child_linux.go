package main

import (
	"os"
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the child that cmd starts when this
// process dies (prctl PR_SET_PDEATHSIG), so that a killed cnngen leaves no
// trainer running. The child also watches its stdin (see trainerMain), which
// covers the systems without this; CNNGEN_TEST_NO_PDEATHSIG=1, for the
// tests of that fallback, leaves it alone.
func setParentDeath(cmd *exec.Cmd) {
	if os.Getenv("CNNGEN_TEST_NO_PDEATHSIG") == "1" {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
