//go:build !linux

package neo4jtest

import "syscall"

// sysProcAttr puts the launcher in its own process group, so stopping it
// signals everything it runs. Off Linux, the end of its stdin is what ties
// its life to the test process.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
