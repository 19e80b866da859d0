//go:build !linux

package crash

import "syscall"

// childAttr puts a kill-mode child in a process group of its own (see
// HarnessChild). Only Linux can tie the child's life to its parent's.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
