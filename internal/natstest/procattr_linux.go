package natstest

import "syscall"

// sysProcAttr puts the server in its own process group, so cleanup can
// signal everything it runs, and has the kernel kill it when the test
// process dies, so no server outlives a crashed or killed test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
