package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/storetest"
	"github.com/agileplus/agileplus/sqlitestore"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) agileplus.Store {
		s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "agileplus.db")})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	})
}
