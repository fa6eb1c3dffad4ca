//go:build !linux

package bench

import "syscall"

// childAttrs: without Pdeathsig the child is stopped by the bench's own
// cleanup only.
func childAttrs() *syscall.SysProcAttr { return nil }
