package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dataLock holds the data directory for one process: SQLite and the
// embedded JetStream store each assume a single owner.
type dataLock struct{ f *os.File }

// inUseError is why lockDataDir fails when another process holds the
// directory.
type inUseError struct{ msg string }

func (e *inUseError) Error() string { return e.msg }

func lockDataDir(dir string) (*dataLock, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			msg := fmt.Sprintf("data directory %s is in use by another agileplus process", dir)
			if pid := strings.TrimSpace(string(owner)); pid != "" {
				msg += " (pid " + pid + ")"
			}
			return nil, &inUseError{msg + "; stop it or pass another --data"}
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &dataLock{f: f}, nil
}

func (l *dataLock) Close() error {
	l.f.Truncate(0)
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	return l.f.Close()
}
