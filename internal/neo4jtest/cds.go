package neo4jtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// archiveTimeout bounds the JVM's dump of the class-data archive at exit
// (about 110 MB).
const archiveTimeout = 3 * time.Minute

// ensureArchive returns the launcher's class-data-sharing archive for its
// Java, creating it on first use: a server runs once with
// -XX:ArchiveClassesAtExit, serves one query, and ends on the end of its
// stdin. The archive depends on the exact JVM, so its name carries a key
// of the Java binary; the JVM ignores an archive that does not match it.
func ensureArchive(cacheDir string, l launcher) (string, error) {
	key, err := javaKey(l.java)
	if err != nil {
		return "", err
	}
	path := filepath.Join(l.dir, "cds-"+key+".jsa")
	failed := filepath.Join(l.dir, "cds-"+key+".failed")
	if path, err := archiveState(path, failed); path != "" || err != nil {
		return path, err
	}
	unlock, err := lockCache(cacheDir)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have made it, or failed to, while we waited.
	if path, err := archiveState(path, failed); path != "" || err != nil {
		return path, err
	}
	if err := createArchive(cacheDir, l, path); err != nil {
		// Every test binary would fail the same way, slowly: remember it.
		_ = os.WriteFile(failed, []byte(err.Error()+"\n"), 0o644)
		return "", err
	}
	return path, nil
}

// archiveState is path if the archive exists, or an error if an earlier
// attempt to create it failed; both are empty if it is yet to be made.
func archiveState(path, failed string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if b, err := os.ReadFile(failed); err == nil {
		return "", fmt.Errorf("%s (remove %s to try again)", strings.TrimSpace(string(b)), failed)
	}
	return "", nil
}

// createArchive runs the launcher once to dump its classes into path.
func createArchive(cacheDir string, l launcher, path string) error {
	work, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	p, err := newProcess(l, work)
	if err != nil {
		return err
	}
	tmp := filepath.Join(work, "launcher.jsa")
	p.jvm = []string{"-XX:ArchiveClassesAtExit=" + tmp}
	if err := p.startAndWait(); err != nil {
		return fmt.Errorf("create class-data archive: %v\n%s", err, p.logTail())
	}
	queryErr := exercise(p)
	if err := p.closeStdin(archiveTimeout); err != nil {
		return fmt.Errorf("create class-data archive: %v\n%s", err, p.logTail())
	}
	if queryErr != nil {
		return fmt.Errorf("create class-data archive: query: %v\n%s", queryErr, p.logTail())
	}
	if st := p.state(); !st.Success() {
		return fmt.Errorf("create class-data archive: launcher exited with %v\n%s", st, p.logTail())
	}
	if fi, err := os.Stat(tmp); err != nil || fi.Size() == 0 {
		return fmt.Errorf("create class-data archive: no archive written (%v)\n%s", err, p.logTail())
	}
	// Archives of other JVMs are of no more use.
	old, _ := filepath.Glob(filepath.Join(l.dir, "cds-*"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return nil
}

// exercise runs a write and a read, so that the classes of a Bolt session
// and of Cypher's planner and runtime are archived too.
func exercise(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := p.driver(neo4j.BasicAuth(User, p.password, ""))
	if err != nil {
		return err
	}
	defer d.Close(ctx)
	for _, q := range []string{
		"CREATE (a:Warmup {id: $id})-[:NEXT]->(b:Warmup {id: $id + 1})",
		"MATCH (a:Warmup)-[:NEXT]->(b) WHERE a.id = $id RETURN b.id",
	} {
		if _, err := neo4j.ExecuteQuery(ctx, d, q, map[string]any{"id": 1}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(Database)); err != nil {
			return err
		}
	}
	return nil
}

// javaKey identifies the JVM behind a java command by the real path, size
// and modification time of the command and of its libjvm, which an upgrade
// changes.
func javaKey(java string) (string, error) {
	real, err := filepath.EvalSymlinks(java)
	if err != nil {
		return "", fmt.Errorf("java %s: %w", java, err)
	}
	h := sha256.New()
	jdk := filepath.Dir(filepath.Dir(real))
	for _, f := range []string{real, filepath.Join(jdk, "lib", "server", "libjvm.so"), filepath.Join(jdk, "lib", "server", "libjvm.dylib")} {
		fi, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) && f != real {
			continue
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%s\n", f, fi.Size(), fi.ModTime().UTC().Format(time.RFC3339Nano))
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
