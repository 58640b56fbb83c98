//go:build !linux

package natstest

import "syscall"

// sysProcAttr puts the server in its own process group, so cleanup can
// signal everything it runs. Only Linux can also tie the server's life to
// the test process.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
