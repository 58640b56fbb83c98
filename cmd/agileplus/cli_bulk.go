package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newImportCmd(e *env) *cobra.Command {
	var opts agileplus.ImportOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a JSON-lines file of projects, features, work packages, dependencies, references and API keys",
		Long: `Import a JSON-lines file (the form "agileplus export" writes; - reads
standard input). The server checks the whole file first (fields, references
between records and to existing data, dependency cycles) and writes nothing
if anything is wrong, listing every problem with its line. Records whose
entity already exists with the same content change nothing, so importing a
file twice is safe. An API key is recreated only from a record with its hash
(export --with-key-hashes); one without is skipped.`,
		Example: `  agileplus export > plan.jsonl
  agileplus --server http://team:8080 import plan.jsonl`,
		Args: argNames("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = e.stdin
			var size int64 = -1
			if args[0] != "-" {
				f, st, err := openImportFile(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				size, r = st.Size(), f
			}
			pr := &progressReader{r: r}
			stop := make(chan bool, 1) // true: the import succeeded
			done := make(chan struct{})
			go func() {
				defer close(done)
				// The progress line redraws itself with \r: only for a
				// person watching, not for a log or a pipe.
				if quiet || !isTerminal(e.stderr) {
					return
				}
				t := time.NewTicker(200 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case ok := <-stop:
						pr.report(e.stderr, size, true, ok)
						return
					case <-t.C:
						pr.report(e.stderr, size, false, false)
					}
				}
			}()
			res, err := e.tracker().BulkImport(cmd.Context(), pr, opts)
			stop <- err == nil
			<-done
			if err != nil {
				if ie, ok := err.(*agileplus.ImportError); ok {
					return importRefused(e.stderr, ie)
				}
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, res)
			}
			_, err = fmt.Fprintf(e.stdout, "imported: created %s; unchanged %s; %d events\n", counts(res.Created), counts(res.Unchanged), res.Events)
			if err == nil && res.Skipped[agileplus.RecKey] > 0 {
				_, err = fmt.Fprintf(e.stdout, "skipped %d key(s) without a hash: export with --with-key-hashes to move keys\n", res.Skipped[agileplus.RecKey])
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&opts.AllowCycles, "allow-cycles", false, "import dependency cycles instead of refusing the file (checks off)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress on standard error (there is none unless it is a terminal)")
	return cmd
}

// openImportFile opens the file to import, refusing what is not a
// readable regular file (a directory would fail half-way through the
// upload, reported as a broken connection).
func openImportFile(name string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, agileplus.Errorf(agileplus.EINVALID, "cannot read the import file %s: %v", name, pathErr(err))
	}
	st, err := f.Stat()
	switch {
	case err != nil:
		err = agileplus.Errorf(agileplus.EINVALID, "cannot read the import file %s: %v", name, pathErr(err))
	case st.IsDir():
		err = agileplus.Errorf(agileplus.EINVALID, "the import file %s is a directory", name)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// pathErr is the cause of a file error without the operation and path,
// which the caller's message already names.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// importRefused prints the problems of a refused import, one a line, and
// returns the error that says so. The server lists at most
// MaxImportProblems: a full list means there may be more.
func importRefused(w io.Writer, ie *agileplus.ImportError) error {
	n := len(ie.Problems)
	count := fmt.Sprintf("%d problem", n)
	if n != 1 {
		count += "s"
	}
	listed := count
	if n >= agileplus.MaxImportProblems {
		count = fmt.Sprintf("at least %d problems", n)
		listed = fmt.Sprintf("%s; the first %d", count, n)
	}
	fmt.Fprintf(w, "import refused, nothing was written: %s:\n", listed)
	for _, p := range ie.Problems {
		fmt.Fprintf(w, "line %d: %s\n", p.Line, p.Message)
	}
	return &importRefusedError{msg: "import refused: " + count + ", listed above", cause: ie}
}

// importRefusedError keeps the ImportError under the CLI's message, so a
// refused file exits with the status of invalid input (exitCode), whether
// a record is malformed or the file conflicts with itself or the store.
type importRefusedError struct {
	msg   string
	cause *agileplus.ImportError
}

func (e *importRefusedError) Error() string { return e.msg }
func (e *importRefusedError) Unwrap() error { return e.cause }

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "nothing"
	}
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// progressReader counts what the upload has read, for the progress line.
type progressReader struct {
	r io.Reader
	n atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n.Add(int64(n))
	return n, err
}

func (p *progressReader) report(w io.Writer, size int64, final, ok bool) {
	n := p.n.Load()
	line := fmt.Sprintf("\rimport: sent %.1f MB", float64(n)/1e6)
	if size > 0 {
		pct := float64(n) * 100 / float64(size)
		bar := strings.Repeat("#", int(pct/5)) + strings.Repeat(".", 20-int(pct/5))
		line = fmt.Sprintf("\rimport: [%s] %3.0f%% of %.1f MB", bar, pct, float64(size)/1e6)
	}
	if final && ok {
		line += ", checked and written\n"
	} else if final {
		line += ", refused\n"
	} else if size > 0 && n >= size {
		line += ", the server is checking and writing..."
	}
	fmt.Fprint(w, line)
}

func newExportCmd(e *env) *cobra.Command {
	var opts agileplus.ExportOptions
	cmd := &cobra.Command{
		Use:   "export [FILE]",
		Short: "Export everything as JSON lines, in the form import reads (standard output without FILE)",
		Long: `Export everything as JSON lines, in the form import reads, to FILE or
standard output. FILE (or a symlink's target) is replaced only once the
whole export has arrived: a failed export leaves it as it was. A pipe or
device is written directly. API keys are written without the hashes of
their secrets unless --with-key-hashes is given; an import recreates only
keys that have them.`,
		Args: optionalArg(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || args[0] == "-" {
				return e.tracker().BulkExport(cmd.Context(), e.stdout, opts)
			}
			return exportToFile(cmd.Context(), e.tracker(), args[0], opts)
		},
	}
	cmd.Flags().BoolVar(&opts.KeyHashes, "with-key-hashes", false, "write the hashes of the API keys' secrets, so that an import elsewhere recreates the keys")
	return cmd
}

// exportToFile writes the export to a temporary file next to name and
// renames it over name once it is whole, so that a failure (the server
// down, the disk full) never leaves name empty or cut short. A symlink is
// followed and its target replaced; a name that is not a regular file (a
// device such as /dev/stdout, a pipe) is written to directly, as a shell
// redirection would.
func exportToFile(ctx context.Context, t agileplus.Tracker, name string, opts agileplus.ExportOptions) (err error) {
	var keepMode fs.FileMode // of the file replaced; 0 for a new one
	if resolved, err := filepath.EvalSymlinks(name); err == nil {
		name = resolved
		st, err := os.Stat(name)
		if err != nil {
			return agileplus.Errorf(agileplus.EINVALID, "cannot write the export file %s: %v", name, pathErr(err))
		}
		switch {
		case st.IsDir():
			return agileplus.Errorf(agileplus.EINVALID, "the export file %s is a directory", name)
		case !st.Mode().IsRegular():
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				return agileplus.Errorf(agileplus.EINVALID, "cannot write the export file %s: %v", name, pathErr(err))
			}
			if err := t.BulkExport(ctx, f, opts); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
		keepMode = st.Mode().Perm()
	}
	if opts.KeyHashes {
		// The hashes let whoever holds the file recreate working keys:
		// readable by the owner only, like the local key.
		keepMode = 0o600
	}
	// Made with 0666 less the umask, as os.Create would make name.
	tmp, err := createTempLike(name)
	if err != nil {
		return agileplus.Errorf(agileplus.EINVALID, "cannot write the export file %s: %v", name, pathErr(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := t.BulkExport(ctx, tmp, opts); err != nil {
		return err
	}
	if keepMode != 0 {
		if err := tmp.Chmod(keepMode); err != nil { // replacing the file keeps its permissions
			return fmt.Errorf("export to %s: %w", name, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("export to %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export to %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("export to %s: %w", name, err)
	}
	return nil
}

// createTempLike creates a new file next to name, with the permissions
// os.Create gives (0666 less the umask; os.CreateTemp would give 0600).
func createTempLike(name string) (*os.File, error) {
	for range 100 {
		var b [6]byte
		rand.Read(b[:])
		tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+"."+hex.EncodeToString(b[:])+".tmp")
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, errors.New("no free temporary name")
}
