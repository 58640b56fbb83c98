package agileplus

import (
	"bufio"
	"fmt"
	"os"
)

// descSpool keeps the descriptions of an import's records in a temporary
// file while the import runs: they are most of a file's bytes, and the
// import needs each one only twice (to check it and to write it), so
// memory holds per record only where its description is.
type descSpool struct {
	f   *os.File
	w   *bufio.Writer
	off int64
	err error // the first write error; seal returns it
}

func newDescSpool() (*descSpool, error) {
	f, err := os.CreateTemp("", "agileplus-import-*")
	if err != nil {
		return nil, fmt.Errorf("import: create a temporary file: %w", err)
	}
	return &descSpool{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// put appends s and returns where it is.
func (d *descSpool) put(s string) spooled {
	at := spooled{d.off, len(s)}
	if d.err == nil {
		_, d.err = d.w.WriteString(s)
	}
	d.off += int64(len(s))
	return at
}

// seal ends writing; get reads only after it.
func (d *descSpool) seal() error {
	if d.err == nil {
		d.err = d.w.Flush()
	}
	if d.err != nil {
		return fmt.Errorf("import: write the temporary file: %w", d.err)
	}
	return nil
}

// get returns the string at s.
func (d *descSpool) get(s spooled) (string, error) {
	if s.n == 0 {
		return "", nil
	}
	b := make([]byte, s.n)
	if _, err := d.f.ReadAt(b, s.off); err != nil {
		return "", fmt.Errorf("import: read the temporary file: %w", err)
	}
	return string(b), nil
}

// Close removes the file.
func (d *descSpool) Close() error {
	err := d.f.Close()
	if rerr := os.Remove(d.f.Name()); err == nil {
		err = rerr
	}
	return err
}
