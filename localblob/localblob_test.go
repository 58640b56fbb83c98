package localblob_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/blobtest"
	"github.com/agileplus/agileplus/localblob"
)

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) agileplus.BlobStore {
		s, err := localblob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, 0)
}

// What an interrupted Put left (a temporary file, bytes renamed into place
// without their description) is cleared when the store opens again, and
// never listed.
func TestOpenSweepsInterruptedPuts(t *testing.T) {
	dir := t.TempDir()
	if _, err := localblob.Open(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tmp/put-123", "data/wp/orphan"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := localblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tmp/put-123", "data/wp/orphan"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after Open (%v)", f, err)
		}
	}
	if list, err := s.List(t.Context(), "", "", 10); err != nil || len(list) != 0 {
		t.Errorf("listed %v, %v", list, err)
	}
}
