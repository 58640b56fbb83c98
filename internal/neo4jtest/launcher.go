package neo4jtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The launcher's Maven project, embedded so that the cache key is the exact
// source the test binary was built with, whichever package's test asks.
//
//go:embed launcher/pom.xml launcher/src/main/java/neo4jtest/Launcher.java
var launcherSrc embed.FS

// launcherClass is the launcher's main class.
const launcherClass = "neo4jtest.Launcher"

// buildTimeout bounds one Maven build, including a cold download of Neo4j
// and its dependencies (about 130 MB).
const buildTimeout = 20 * time.Minute

// keyPattern matches the name of a built launcher's directory.
var keyPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// launcher is a built launcher: its jar and its dependencies, and the
// Java that runs it.
type launcher struct {
	dir  string // .tools/neo4j-launcher/<key>
	java string

	// cds is a class-data-sharing archive of the classes a server start
	// loads, which takes a third off every later JVM start; "" when it
	// could not be made (cdsErr says why), and servers start without it.
	cds    string
	cdsErr error
}

// command is the launcher's command line for a server on port with the
// given password and home, with extra JVM arguments.
func (l launcher) command(extraJVM []string, port int, password, home string) *exec.Cmd {
	classpath := filepath.Join(l.dir, "launcher.jar") + string(os.PathListSeparator) + filepath.Join(l.dir, "lib", "*")
	args := append(append([]string{}, jvmArgs...), extraJVM...)
	args = append(args, "-cp", classpath, launcherClass, strconv.Itoa(port), password, home)
	cmd := exec.Command(l.java, args...)
	cmd.Dir = home
	return cmd
}

var buildLauncher = sync.OnceValues(func() (launcher, error) {
	root, err := repoRoot()
	if err != nil {
		return launcher{}, err
	}
	java, err := javaBinary()
	if err != nil {
		return launcher{}, err
	}
	cacheDir := filepath.Join(root, ".tools", "neo4j-launcher")
	l, err := ensureLauncher(cacheDir)
	if err != nil {
		return launcher{}, err
	}
	l.java = java
	l.cds, l.cdsErr = ensureArchive(cacheDir, l)
	return l, nil
})

// javaBinary is $JAVA_HOME/bin/java, else java on PATH.
func javaBinary() (string, error) {
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		java := filepath.Join(jh, "bin", "java")
		if _, err := os.Stat(java); err == nil {
			return java, nil
		}
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("neo4jtest needs Java 17 or later (java on PATH or JAVA_HOME): %w", err)
	}
	return java, nil
}

// repoRoot is the directory of the main module's go.mod.
func repoRoot() (string, error) {
	cmd := exec.Command("go", "env", "GOMOD")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v\n%s", err, stderr.String())
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// sourceKey is a hash of the launcher's sources: a change to the pom (the
// Neo4j version) or to the class builds a new launcher.
func sourceKey() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(launcherSrc, "launcher", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := launcherSrc.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ensureLauncher returns the launcher built from the embedded sources
// under cacheDir/<key>, building it when it is missing. Builds are
// serialized across processes by a lock file and happen in a scratch
// directory renamed into place when complete, so a reader never sees half
// a launcher.
func ensureLauncher(cacheDir string) (launcher, error) {
	key, err := sourceKey()
	if err != nil {
		return launcher{}, err
	}
	l := launcher{dir: filepath.Join(cacheDir, key)}
	if l.complete() {
		return l, nil
	}
	unlock, err := lockCache(cacheDir)
	if err != nil {
		return launcher{}, err
	}
	defer unlock()
	// Another process may have built it while we waited for the lock.
	if l.complete() {
		return l, nil
	}
	if err := build(cacheDir, l.dir); err != nil {
		return launcher{}, err
	}
	removeStale(cacheDir, key)
	return l, nil
}

// lockCache takes the cache's lock, which serializes builds across
// processes, and returns its release.
func lockCache(cacheDir string) (func(), error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, "build.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	return func() {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	}, nil
}

// complete reports whether the launcher's directory is in place; it only
// ever appears whole.
func (l launcher) complete() bool {
	_, err := os.Stat(filepath.Join(l.dir, "launcher.jar"))
	return err == nil
}

// build runs Maven on a copy of the embedded project and moves the jar and
// its dependencies to dst.
func build(cacheDir, dst string) error {
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return fmt.Errorf("neo4jtest needs Maven (mvn) and Java 17 or later on PATH: %w", err)
	}
	work, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	if err := os.CopyFS(src, mustSub(launcherSrc, "launcher")); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, mvn, "-q", "-B", "package")
	cmd.Dir = src
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the Neo4j launcher (mvn -q -B package in %s, %s): %v\n%s",
			src, time.Since(start).Round(time.Millisecond), err, lastLines(out.String(), 60))
	}
	out2 := filepath.Join(work, "out")
	if err := os.Mkdir(out2, 0o755); err != nil {
		return err
	}
	target := filepath.Join(src, "target")
	for _, name := range []string{"launcher.jar", "lib"} {
		if err := os.Rename(filepath.Join(target, name), filepath.Join(out2, name)); err != nil {
			return fmt.Errorf("build the Neo4j launcher: %w", err)
		}
	}
	return os.Rename(out2, dst)
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// removeStale deletes launchers built from other sources and scratch
// directories of interrupted builds. The build lock is held, so no build
// is using them; a server still running from an old launcher keeps its
// open jars.
func removeStale(cacheDir, key string) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() && name != key && (keyPattern.MatchString(name) || strings.HasPrefix(name, "build-")) {
			_ = os.RemoveAll(filepath.Join(cacheDir, name))
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
