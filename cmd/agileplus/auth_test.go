package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
)

// runAs runs one CLI command in-process with the given environment only.
func runAs(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), append([]string{"agileplus"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// get sends a GET with an optional token and returns the status.
func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// authMode is what /ready says of authentication.
func authMode(t *testing.T, url string) string {
	t.Helper()
	r, err := httpapi.NewClient(url).Readiness(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mode, _ := r.Checks["auth"].Detail["mode"].(string)
	return mode
}

// TestLocalModeNoSetup runs the built binary as a person would: serve in
// a directory, then CLI commands from it with nothing configured.
func TestLocalModeNoSetup(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"HOME=" + dir, "USER=alice", "PATH=" + os.Getenv("PATH")}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn")
	cmd.Dir, cmd.Env = dir, env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "serving on "); ok {
				lines <- strings.Fields(rest)[0]
			}
		}
	}()
	var url string
	select {
	case url = <-lines:
	case <-time.After(2 * poll.Timeout):
		t.Fatalf("serve did not start\n%s", stderr.String())
	}
	waitReady(t, url)

	fi, err := os.Stat(filepath.Join(dir, "agileplus-data", LocalKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("local key file mode %v, want 0600", fi.Mode().Perm())
	}
	cli := func(args ...string) string {
		t.Helper()
		c := exec.Command(bin, append([]string{"--server", url}, args...)...)
		c.Dir, c.Env = dir, env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("agileplus %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli("project", "create", "CORE", "--name", "Core")
	if out := cli("project", "list"); !strings.Contains(out, "CORE") {
		t.Fatalf("project list:\n%s\nwant CORE", out)
	}
	if out := cli("whoami"); !strings.Contains(out, "alice") || !strings.Contains(out, "scope admin") {
		t.Fatalf("whoami: %s, want alice's admin key", out)
	}
	// The server still authenticates: a caller without the key is refused.
	if got := get(t, url+"/v1/projects", ""); got != http.StatusUnauthorized {
		t.Fatalf("GET /v1/projects without a token: %d, want 401", got)
	}
	if got := authMode(t, url); got != "keys" {
		t.Fatalf("/ready says auth %q, want keys", got)
	}
}

// TestLocalKeyRecreated: a local key revoked, or its file lost, gets a
// new key at the next start; a valid one is kept.
func TestLocalKeyRecreated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LocalKeyFile)
	var first string
	t.Run("revoke it", func(t *testing.T) {
		url := startServe(t, dir, nil)
		var err error
		if first, err = readTokenFile(path); err != nil {
			t.Fatal(err)
		}
		prefix, _, _ := agileplus.ParseKeyToken(first)
		if _, _, err := runAs(t, nil, "--server", url, "--data", dir, "key", "revoke", prefix); err != nil {
			t.Fatal(err)
		}
		if got := get(t, url+"/v1/projects", first); got != http.StatusUnauthorized {
			t.Fatalf("the revoked local key got %d, want 401", got)
		}
	})
	var second string
	t.Run("restart after the revoke", func(t *testing.T) {
		url := startServe(t, dir, nil)
		second, _ = readTokenFile(path)
		if second == first || get(t, url+"/v1/projects", second) != http.StatusOK {
			t.Fatal("serve did not make a new local key for the revoked one")
		}
	})
	t.Run("restart with a valid key", func(t *testing.T) {
		startServe(t, dir, nil)
		if got, _ := readTokenFile(path); got != second {
			t.Fatal("serve replaced a valid local key")
		}
	})
	t.Run("restart without the file", func(t *testing.T) {
		os.Remove(path)
		url := startServe(t, dir, nil)
		third, err := readTokenFile(path)
		if err != nil || third == second || get(t, url+"/v1/projects", third) != http.StatusOK {
			t.Fatalf("serve did not make a new local key for the lost file: %v", err)
		}
	})
}

func TestNonLoopbackNeedsKeys(t *testing.T) {
	t.Run("refuses without a key", func(t *testing.T) {
		dir := t.TempDir()
		_, stderr, err := runAs(t, nil, "serve", "--addr", "0.0.0.0:0", "--data", dir)
		if err == nil || exitCode(err) != 2 {
			t.Fatalf("got %v (exit %d), want a refusal (exit 2)", err, exitCode(err))
		}
		for _, want := range []string{"beyond loopback", "no API key exists", "agileplus key create --data " + dir, "--insecure-no-auth"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if strings.Contains(stderr, "serving") {
			t.Errorf("serve said it was serving: %s", stderr)
		}
	})

	t.Run("the local key does not count", func(t *testing.T) {
		dir := t.TempDir()
		t.Run("on loopback first", func(t *testing.T) { startServe(t, dir, nil) }) // stops at its end
		if _, err := os.Stat(filepath.Join(dir, LocalKeyFile)); err != nil {
			t.Fatal(err)
		}
		_, _, err := runAs(t, nil, "serve", "--addr", "0.0.0.0:0", "--data", dir)
		if err == nil || !strings.Contains(err.Error(), "no API key exists") {
			t.Fatalf("got %v, want a refusal: only the local key exists", err)
		}
	})

	t.Run("with a key made offline", func(t *testing.T) {
		dir := t.TempDir()
		out, _, err := runAs(t, map[string]string{"USER": "ops"}, "key", "create", "--data", dir, "--name", "admin", "--scope", "admin", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var kc agileplus.KeyCreated
		if err := json.Unmarshal([]byte(out), &kc); err != nil || kc.Token == "" {
			t.Fatalf("key create --json printed %q (%v), want a key with its token", out, err)
		}
		if _, err := os.Stat(filepath.Join(dir, LocalKeyFile)); err == nil {
			t.Error("key create made a local key")
		}
		url := startServe(t, dir, nil, "--addr", "0.0.0.0:0")
		if got := get(t, url+"/v1/projects", ""); got != http.StatusUnauthorized {
			t.Errorf("without the token: %d, want 401", got)
		}
		if got := get(t, url+"/v1/projects", kc.Token); got != http.StatusOK {
			t.Errorf("with the token: %d, want 200", got)
		}
		if _, err := os.Stat(filepath.Join(dir, LocalKeyFile)); err == nil {
			t.Error("serve beyond loopback made a local key")
		}
		// Through the server with the token: the CLI's key list.
		out, _, err = runAs(t, nil, "--server", url, "--token", kc.Token, "key", "list")
		if err != nil || !strings.Contains(out, kc.Prefix) || !strings.Contains(out, "admin") {
			t.Fatalf("key list: %q %v, want the admin key", out, err)
		}
	})

	t.Run("insecure-no-auth", func(t *testing.T) {
		url := startServe(t, t.TempDir(), nil, "--addr", "0.0.0.0:0", "--insecure-no-auth")
		if got := authMode(t, url); got != "insecure-no-auth" {
			t.Fatalf("/ready says auth %q, want insecure-no-auth", got)
		}
		if got := get(t, url+"/v1/projects", ""); got != http.StatusOK {
			t.Fatalf("without a token: %d, want 200", got)
		}
	})
}

// TestKeyCommands drives key create, list and revoke through a server
// with the local key, and the CLI's refusals of bad flags.
func TestKeyCommands(t *testing.T) {
	dir := t.TempDir()
	url := startServe(t, dir, nil)
	env := map[string]string{"USER": "tester"}
	cli := func(args ...string) (string, error) {
		out, _, err := runAs(t, env, append([]string{"--server", url, "--data", dir}, args...)...)
		return out, err
	}
	if _, err := cli("project", "create", "CORE", "--name", "Core"); err != nil {
		t.Fatal(err)
	}
	out, err := cli("key", "create", "--name", "ci-bot", "--scope", "read", "--project", "CORE", "--expires", "30d")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out)
	prefix, _, err := agileplus.ParseKeyToken(tok)
	if err != nil {
		t.Fatalf("key create printed %q, want the token alone: %v", out, err)
	}
	if got := get(t, url+"/v1/projects", tok); got != http.StatusOK {
		t.Fatalf("the new key: %d, want 200", got)
	}
	out, err = cli("key", "list")
	if err != nil || !strings.Contains(out, prefix) || !strings.Contains(out, "ci-bot") || !strings.Contains(out, "CORE") {
		t.Fatalf("key list:\n%s %v\nwant ci-bot on CORE", out, err)
	}
	if _, err := cli("key", "revoke", prefix); err != nil {
		t.Fatal(err)
	}
	if got := get(t, url+"/v1/projects", tok); got != http.StatusUnauthorized {
		t.Fatalf("the revoked key: %d, want 401", got)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"key", "create", "--name", "x", "--scope", "root"}, "--scope"},
		{[]string{"key", "create", "--scope", "read"}, "--name"},
		{[]string{"key", "create", "--name", "x", "--scope", "read", "--expires", "soon"}, "--expires"},
		{[]string{"key", "create", "--name", "x", "--scope", "read", "--expires", "0d"}, "--expires"},
		{[]string{"key", "create", "--name", "x", "--scope", "admin", "--project", "CORE"}, "--project"},
		{[]string{"key", "create", "--name", "x", "--scope", "read", "--project", "lower"}, "--project"},
	} {
		_, err := cli(tt.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(describe(err), tt.want) {
			t.Errorf("%v: got %v (exit %d), want a usage error naming %s", tt.args, err, exitCode(err), tt.want)
		}
	}
}

// TestTokenPrecedence: --token, then AGILEPLUS_TOKEN, then the token login
// kept for the server, then the local key.
func TestTokenPrecedence(t *testing.T) {
	dir := t.TempDir()
	url := startServe(t, dir, nil)
	cfg := t.TempDir()
	base := map[string]string{"USER": "tester", "XDG_CONFIG_HOME": cfg}
	mk := func(name string) string {
		out, _, err := runAs(t, base, "--server", url, "--data", dir, "key", "create", "--name", name, "--scope", "read")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	flagTok, envTok, loginTok := mk("by-flag"), mk("by-env"), mk("by-login")
	whoami := func(env map[string]string, args ...string) string {
		t.Helper()
		out, _, err := runAs(t, env, append([]string{"--server", url, "--data", dir, "--json"}, append(args, "whoami")...)...)
		if err != nil {
			t.Fatal(err)
		}
		var w httpapi.Whoami
		if err := json.Unmarshal([]byte(out), &w); err != nil {
			t.Fatal(err)
		}
		return w.Name
	}
	if got := whoami(base); got != "tester" {
		t.Fatalf("nothing given: %s, want the local key (tester)", got)
	}
	out, _, err := runAs(t, base, "--server", url, "login", "--token", loginTok)
	if err != nil || !strings.Contains(out, "by-login") {
		t.Fatalf("login: %q %v", out, err)
	}
	fi, err := os.Stat(filepath.Join(cfg, "agileplus", "credentials"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v, want mode 0600", fi, err)
	}
	if got := whoami(base); got != "by-login" {
		t.Fatalf("after login: %s, want by-login", got)
	}
	withEnv := map[string]string{"USER": "tester", "XDG_CONFIG_HOME": cfg, "AGILEPLUS_TOKEN": envTok}
	if got := whoami(withEnv); got != "by-env" {
		t.Fatalf("with AGILEPLUS_TOKEN: %s, want by-env", got)
	}
	if got := whoami(withEnv, "--token", flagTok); got != "by-flag" {
		t.Fatalf("with --token: %s, want by-flag", got)
	}
	if _, _, err := runAs(t, base, "--server", url, "logout"); err != nil {
		t.Fatal(err)
	}
	if got := whoami(base); got != "tester" {
		t.Fatalf("after logout: %s, want the local key (tester)", got)
	}
	// A bad token is refused before it is kept.
	_, _, err = runAs(t, base, "--server", url, "login", "--token", "ap_nope")
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("login with a malformed token: %v, want a usage error", err)
	}
	revoked := mk("gone")
	p, _, _ := agileplus.ParseKeyToken(revoked)
	if _, _, err := runAs(t, base, "--server", url, "--data", dir, "key", "revoke", p); err != nil {
		t.Fatal(err)
	}
	_, _, err = runAs(t, base, "--server", url, "login", "--token", revoked)
	if agileplus.ErrorCode(err) != agileplus.EUNAUTHORIZED {
		t.Fatalf("login with a revoked token: %v, want 401", err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agileplus test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, t.TempDir())
	url := startServe(t, dir, nil, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("serving on %s, want https", url)
	}
	pemBytes, _ := os.ReadFile(certFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	poll.Until(t, url+"/ready to answer 200 over TLS", func() bool {
		resp, err := hc.Get(url + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	resp, err := hc.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("negotiated %s, want HTTP/2.0", resp.Proto)
	}
	// The CLI trusts the CA given and finds the local key on loopback.
	env := map[string]string{"USER": "tester"}
	if _, _, err := runAs(t, env, "--server", url, "--data", dir, "--ca-cert", certFile, "project", "create", "TLS", "--name", "TLS"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runAs(t, env, "--server", url, "--data", dir, "project", "list"); agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want a certificate error", err)
	}

	t.Run("bad pairs", func(t *testing.T) {
		_, otherKey := selfSigned(t, t.TempDir())
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--tls-cert", certFile}, "--tls-cert needs --tls-key"},
			{[]string{"--tls-key", keyFile}, "--tls-key needs --tls-cert"},
			{[]string{"--tls-cert", certFile, "--tls-key", otherKey}, "does not match"},
			{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", keyFile}, "missing.pem"},
			{[]string{"--max-connections", "0"}, "--max-connections"},
		} {
			_, _, err := runAs(t, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tt.args...)...)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v: got %v, want a usage error saying %q", tt.args, err, tt.want)
			}
		}
	})
}

// TestLimitListener: beyond n open connections the next waits until one
// closes.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 1)
	defer ln.Close()
	for range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			second <- c
		}
	}()
	if len(ln.sem) != cap(ln.sem) {
		t.Fatalf("%d of %d slots taken with one connection open", len(ln.sem), cap(ln.sem))
	}
	first.Close()
	first.Close() // a second Close frees nothing more
	select {
	case c := <-second:
		c.Close()
	case <-time.After(poll.Timeout):
		t.Fatal("the second connection was not accepted after the first closed")
	}
}
