package childproc

import "syscall"

// sysProcAttr puts the child in its own process group, so stopping it
// signals everything it runs, and has the kernel kill it when the test
// process dies, so no server outlives a crashed or killed test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
