package main

import (
	"fmt"
	"io"
	"os"
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
		Short: "Import a JSON-lines file of projects, features, work packages, dependencies and references",
		Long: `Import a JSON-lines file (the form "agileplus export" writes; - reads
standard input). The server checks the whole file first (fields, references
between records and to existing data, dependency cycles) and writes nothing
if anything is wrong, listing every problem with its line. Records whose
entity already exists with the same content change nothing, so importing a
file twice is safe.`,
		Example: `  agileplus export > plan.jsonl
  agileplus --server http://team:8080 import plan.jsonl`,
		Args: argNames("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = e.stdin
			var size int64 = -1
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				if st, err := f.Stat(); err == nil {
					size = st.Size()
				}
				r = f
			}
			pr := &progressReader{r: r}
			stop := make(chan bool, 1) // true: the import succeeded
			done := make(chan struct{})
			go func() {
				defer close(done)
				if quiet {
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
					for _, p := range ie.Problems {
						fmt.Fprintf(e.stderr, "line %d: %s\n", p.Line, p.Message)
					}
					return fmt.Errorf("import refused: %d problem(s), nothing was written", len(ie.Problems))
				}
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, res)
			}
			_, err = fmt.Fprintf(e.stdout, "imported: created %s; unchanged %s; %d events\n", counts(res.Created), counts(res.Unchanged), res.Events)
			return err
		},
	}
	cmd.Flags().BoolVar(&opts.AllowCycles, "allow-cycles", false, "import dependency cycles instead of refusing the file (checks off)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress on standard error")
	return cmd
}

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
	return &cobra.Command{
		Use:   "export [FILE]",
		Short: "Export everything as JSON lines, in the form import reads (standard output without FILE)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := e.stdout
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Create(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return e.tracker().BulkExport(cmd.Context(), w)
		},
	}
}
