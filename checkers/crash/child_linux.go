package crash

import "syscall"

// childAttr puts a kill-mode child in a process group of its own (see
// HarnessChild) and has the kernel SIGKILL it when its parent dies: a
// parent killed while its child hangs (harness mutants stops a worker at
// its budget with SIGKILL, which reaches the worker's group, not the
// child's) would otherwise leave the child spinning for good.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
