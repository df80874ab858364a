package main

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel stop the peer if this process dies
// without stopping it (its workers stop with it).
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
