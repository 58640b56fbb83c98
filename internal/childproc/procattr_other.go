//go:build !linux

package childproc

import "syscall"

// sysProcAttr puts the child in its own process group, so stopping it
// signals everything it runs. Only Linux can also tie the child's life to
// the test process; elsewhere Options.StdinPipe is the guard.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
