package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/webhook"
	"github.com/spf13/cobra"
)

// checkServeConfig runs serve's flag and environment checks alone.
func checkServeConfig(t *testing.T, args []string, vars map[string]string) (appConfig, error) {
	t.Helper()
	var c serveConfig
	cmd := &cobra.Command{}
	getenv := func(k string) string { return vars[k] }
	c.addFlags(cmd, getenv)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return c.check(&env{getenv: getenv, stderr: io.Discard}, cmd.Flags().Changed)
}

// Private webhook targets are refused by default when the server listens
// beyond loopback, allowed on loopback, and either way when told.
func TestWebhookPrivateTargetsDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		deny bool
	}{
		{"loopback v4", []string{"--addr", "127.0.0.1:0"}, nil, false},
		{"loopback v6", []string{"--addr", "[::1]:0"}, nil, false},
		{"localhost", []string{"--addr", "localhost:8080"}, nil, false},
		{"all interfaces", []string{"--addr", "0.0.0.0:8080"}, nil, true},
		{"no host", []string{"--addr", ":8080"}, nil, true},
		{"all interfaces v6", []string{"--addr", "[::]:8080"}, nil, true},
		{"private address", []string{"--addr", "192.168.1.5:8080"}, nil, true},
		{"a name", []string{"--addr", "tracker.internal:8080"}, nil, true},
		{"allowed by flag", []string{"--addr", "0.0.0.0:8080", "--webhook-allow-private"}, nil, false},
		{"allowed by variable", []string{"--addr", "0.0.0.0:8080"}, map[string]string{"AGILEPLUS_WEBHOOK_ALLOW_PRIVATE": "true"}, false},
		{"denied on loopback", []string{"--addr", "127.0.0.1:0", "--webhook-deny-private"}, nil, true},
		{"denied by variable", []string{"--addr", "127.0.0.1:0"}, map[string]string{"AGILEPLUS_WEBHOOK_DENY_PRIVATE": "1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := checkServeConfig(t, tc.args, tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.webhookDenyPrivate != tc.deny {
				t.Errorf("private targets denied = %v, want %v", cfg.webhookDenyPrivate, tc.deny)
			}
		})
	}
	for name, vars := range map[string]map[string]string{
		"flags":     nil,
		"variables": {"AGILEPLUS_WEBHOOK_ALLOW_PRIVATE": "true", "AGILEPLUS_WEBHOOK_DENY_PRIVATE": "true"},
	} {
		args := []string{"--webhook-allow-private", "--webhook-deny-private"}
		if vars != nil {
			args = nil
		}
		_, err := checkServeConfig(t, args, vars)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--webhook-allow-private") {
			t.Errorf("allow and deny both by %s: %v, want a usage error", name, err)
		}
	}
}

// A private literal address is refused at registration with a 400 on url
// when private targets are off.
func TestWebhookDenyPrivateIs400(t *testing.T) {
	url := startTestServerIn(t, t.TempDir(), "--webhook-deny-private")
	resp, err := httpPost(url+"/v1/webhooks", `{"url":"http://169.254.169.254/latest/meta-data"}`)
	if err != nil {
		t.Fatal(err)
	}
	if resp.status != 400 || resp.body.Error.Field != "url" || !strings.Contains(resp.body.Error.Message, "private") {
		t.Errorf("POST /v1/webhooks to a link-local address: %d %+v, want 400 on url", resp.status, resp.body.Error)
	}
}

type postAnswer struct {
	status int
	body   httpapi.ErrorBody
}

func httpPost(url, body string) (*postAnswer, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	a := &postAnswer{status: resp.StatusCode}
	return a, json.NewDecoder(resp.Body).Decode(&a.body)
}

func TestWebhookSecretKeyConfig(t *testing.T) {
	key := bytes.Repeat([]byte{7}, webhook.SecretKeySize)
	for name, v := range map[string]string{
		"hex": hex.EncodeToString(key), "base64": base64.StdEncoding.EncodeToString(key), "base64url raw": base64.RawURLEncoding.EncodeToString(key),
	} {
		cfg, err := checkServeConfig(t, nil, map[string]string{"AGILEPLUS_SECRET_KEY": v})
		if err != nil || !bytes.Equal(cfg.secretKey.key, key) {
			t.Errorf("AGILEPLUS_SECRET_KEY in %s: %v, key %x", name, err, cfg.secretKey.key)
		}
	}
	for name, vars := range map[string]map[string]string{
		"not a key": {"AGILEPLUS_SECRET_KEY": "not-a-key-at-all"},
		"too short": {"AGILEPLUS_SECRET_KEY": hex.EncodeToString(key[:31])},
		"both":      {"AGILEPLUS_SECRET_KEY": hex.EncodeToString(key), "AGILEPLUS_SECRET_KEY_FILE": "/k"},
	} {
		_, err := checkServeConfig(t, nil, vars)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "AGILEPLUS_SECRET_KEY") {
			t.Errorf("%s: %v, want a usage error naming the variable", name, err)
		}
		if err != nil && strings.Contains(err.Error(), vars["AGILEPLUS_SECRET_KEY"]) {
			t.Errorf("%s: the error repeats the key: %v", name, err)
		}
	}

	// Key files that would not do stop the start.
	for _, tc := range []struct {
		name     string
		contents []byte
		mode     fs.FileMode
		viaVar   bool
		want     string
	}{
		{"world-readable", key, 0o644, false, "open to other users"},
		{"short", key[:5], 0o600, false, "holds 5 bytes"},
		{"world-readable named by the variable", key, 0o604, true, "AGILEPLUS_SECRET_KEY_FILE"},
		{"missing file named by the variable", nil, 0, true, "AGILEPLUS_SECRET_KEY_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			path := filepath.Join(data, SecretKeyFile)
			vars := map[string]string{}
			if tc.viaVar {
				path = filepath.Join(t.TempDir(), "shared.key")
				vars["AGILEPLUS_SECRET_KEY_FILE"] = path
			}
			if tc.contents != nil {
				if err := os.WriteFile(path, tc.contents, tc.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, tc.mode)
			}
			args := []string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", data}
			err := run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("serve = %v, want an error naming %s and %q", err, path, tc.want)
			}
		})
	}
	t.Run("shared key file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "shared.key")
		if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := secretKeySource{file: path}.load(t.TempDir())
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("load = %x, %v", got, err)
		}
	})
}

// A webhook's secret is sealed on the bus under DATA/secret.key: nothing
// in the data directory holds it in plain text, a restart still signs
// with it, and a process with another key fails the deliveries, saying
// why, and sends nothing.
func TestWebhookSecretAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	rcv := newReceiver(t)
	ctx := context.Background()
	var h *agileplus.Webhook
	deliver := func(t *testing.T, c *httpapi.Client, key string) *agileplus.Event {
		t.Helper()
		p, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: key, Name: key})
		if err != nil {
			t.Fatal(err)
		}
		return lastEventOf(t, c, p.ID)
	}
	verified := func(t *testing.T, e *agileplus.Event) {
		t.Helper()
		poll.Until(t, "delivery of "+e.ID, func() bool { return len(rcv.of(e.ID)) > 0 })
		q := rcv.of(e.ID)[0]
		if err := webhook.Verify(h.Secret, q.header, q.body, time.Now(), time.Minute); err != nil {
			t.Errorf("delivery of %s: %v", e.ID, err)
		}
	}

	t.Run("first start", func(t *testing.T) {
		c := httpapi.NewClient(startTestServerIn(t, dir))
		var err error
		h, err = c.CreateWebhook(ctx, agileplus.WebhookCreate{URL: rcv.srv.URL + "/hook"})
		if err != nil {
			t.Fatal(err)
		}
		verified(t, deliver(t, c, "ONE"))
	})
	if h == nil {
		t.FailNow()
	}
	key, err := os.ReadFile(filepath.Join(dir, SecretKeyFile))
	if fi, serr := os.Stat(filepath.Join(dir, SecretKeyFile)); err != nil || serr != nil || len(key) != webhook.SecretKeySize || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %d bytes, %v, %v; want %d bytes, mode 0600", len(key), err, serr, webhook.SecretKeySize)
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(h.Secret)) {
			t.Errorf("%s holds the webhook secret in plain text", path)
		}
		return nil
	})

	t.Run("restart", func(t *testing.T) {
		c := httpapi.NewClient(startTestServerIn(t, dir))
		verified(t, deliver(t, c, "TWO"))
		if again, _ := os.ReadFile(filepath.Join(dir, SecretKeyFile)); !bytes.Equal(again, key) {
			t.Error("the secret key changed at restart")
		}
	})

	t.Run("another key", func(t *testing.T) {
		other := hex.EncodeToString(bytes.Repeat([]byte{9}, webhook.SecretKeySize))
		c := httpapi.NewClient(startTestServerEnv(t, dir, map[string]string{"AGILEPLUS_SECRET_KEY": other}, "--consumer-backoff", "50ms"))
		e := deliver(t, c, "THREE")
		var failed *agileplus.WebhookDelivery
		poll.Until(t, "a failed delivery of "+e.ID, func() bool {
			ds, err := c.WebhookDeliveries(ctx, h.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.EventID == e.ID && d.Outcome != agileplus.DeliveryDelivered {
					failed = d
					return true
				}
			}
			return false
		})
		if !strings.Contains(failed.Error, "same secret key") {
			t.Errorf("failed delivery says %q, want it to name the secret key", failed.Error)
		}
		if n := len(rcv.of(e.ID)); n != 0 {
			t.Errorf("receiver got %d requests from a process that cannot sign", n)
		}
	})
}
