package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportWithKeyHashes: export leaves key hashes out unless
// --with-key-hashes; import recreates a key with its hash and says when it
// skipped keys without one.
func TestExportWithKeyHashes(t *testing.T) {
	url := startTestServer(t)
	hash := strings.Repeat("0f", 32)
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	body := `{"type":"project","key":"CORE","name":"Core"}` + "\n" +
		`{"type":"key","name":"ci","prefix":"k3v9x2mq","scope":"write","projects":["CORE"],"hash":"` + hash + `"}` + "\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := cliOK(t, url, "import", file); !strings.Contains(out, "1 key") {
		t.Errorf("import: %s", out)
	}
	plain := cliOK(t, url, "export")
	if !strings.Contains(plain, `"prefix":"k3v9x2mq"`) || strings.Contains(plain, hash) {
		t.Errorf("export: got %s, want the key without its hash", plain)
	}
	if hashed := cliOK(t, url, "export", "--with-key-hashes"); !strings.Contains(hashed, `"hash":"`+hash+`"`) {
		t.Errorf("export --with-key-hashes: got %s, want the key's hash", hashed)
	}
	out := filepath.Join(t.TempDir(), "plan.jsonl")
	cliOK(t, url, "export", "--with-key-hashes", out)
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), hash) {
		t.Errorf("export --with-key-hashes FILE: %s, %v", b, err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("export --with-key-hashes FILE: mode %v (%v), want 0600", st.Mode().Perm(), err)
	}

	other := startTestServer(t)
	if err := os.WriteFile(file, []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	// The ci key and the first server's local key.
	if out := cliOK(t, other, "import", file); !strings.Contains(out, "skipped 2 key(s) without a hash") {
		t.Errorf("import without hashes: %s", out)
	}
}
