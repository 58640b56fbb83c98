// Package toolbin builds the servers the tests run from Go modules pinned
// in tools/NAME/go.mod (a module of its own for each, so that their
// dependencies stay out of the main module) into .tools/NAME/VERSION/, once:
// a binary already there is used as it is, and concurrent test processes
// wait on a lock file for one build.
package toolbin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Build returns the binary of package pkg of module (pinned in
// tools/name/go.mod), building it when missing.
func Build(name, module, pkg string) (string, error) {
	root, err := goOut("", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	if root == "" || root == os.DevNull {
		return "", errors.New("toolbin: not inside a Go module")
	}
	root = filepath.Dir(root)
	toolDir := filepath.Join(root, "tools", name)
	version, err := goOut(toolDir, "list", "-m", "-f", "{{.Version}}", module)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".tools", name, version)
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built while we waited
	}
	tmp := bin + ".tmp"
	if _, err := goOut(toolDir, "build", "-o", tmp, pkg); err != nil {
		return "", err
	}
	return bin, os.Rename(tmp, bin)
}

func goOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}
