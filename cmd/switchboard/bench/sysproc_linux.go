package bench

import "syscall"

// childAttrs makes the spawned server die with the bench, so an interrupted
// run leaves no server behind.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
