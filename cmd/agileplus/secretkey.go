package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/agileplus/agileplus/webhook"
)

// SecretKeyFile is the deployment secret in the data directory, made at
// first start: webhook secrets are sealed in the registry with a key
// derived from it. Lose it and the webhooks' secrets are lost with it.
const SecretKeyFile = "secret.key"

// secretKeySource is where the deployment secret comes from: a key given in
// AGILEPLUS_SECRET_KEY, a file named by AGILEPLUS_SECRET_KEY_FILE, or
// else SecretKeyFile in the data directory.
type secretKeySource struct {
	key  []byte
	file string
}

// secretKeyFromEnv reads the secret key variables; a bad one is a usage
// error that never repeats the value.
func secretKeyFromEnv(getenv func(string) string) (secretKeySource, error) {
	v, file := strings.TrimSpace(getenv("AGILEPLUS_SECRET_KEY")), getenv("AGILEPLUS_SECRET_KEY_FILE")
	switch {
	case v != "" && file != "":
		return secretKeySource{}, configErrorf("set AGILEPLUS_SECRET_KEY or AGILEPLUS_SECRET_KEY_FILE, not both")
	case v != "":
		key, ok := decodeSecretKey([]byte(v))
		if !ok {
			return secretKeySource{}, configErrorf("AGILEPLUS_SECRET_KEY must be %d bytes in hex or base64 (openssl rand -hex %d makes one)", webhook.SecretKeySize, webhook.SecretKeySize)
		}
		return secretKeySource{key: key}, nil
	}
	return secretKeySource{file: file}, nil
}

// decodeSecretKey reads a key written in hex or base64.
func decodeSecretKey(b []byte) ([]byte, bool) {
	s := string(bytes.TrimSpace(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == webhook.SecretKeySize {
		return k, true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == webhook.SecretKeySize {
			return k, true
		}
	}
	return nil, false
}

// load returns the deployment secret, making SecretKeyFile in dataDir at
// first start.
func (s secretKeySource) load(dataDir string) ([]byte, error) {
	if s.key != nil {
		return s.key, nil
	}
	if s.file != "" {
		return readSecretKey(s.file, "AGILEPLUS_SECRET_KEY_FILE ")
	}
	path := filepath.Join(dataDir, SecretKeyFile)
	key, err := readSecretKey(path, "")
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key = make([]byte, webhook.SecretKeySize)
	rand.Read(key)
	// Written whole under another name, then renamed: a crash leaves no
	// short key behind to stop the next start.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the secret key %s: %w", path, err)
	}
	_, err = f.Write(key)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("write the secret key %s: %w", path, err)
	}
	return key, nil
}

// readSecretKey reads a key file: the raw bytes, or hex or base64 text.
// One others can read is refused: it opens every webhook secret.
func readSecretKey(path, what string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && what == "" {
			return nil, err
		}
		return nil, fmt.Errorf("secret key %s%s: %w", what, path, err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("secret key %s%s is open to other users (mode %04o): chmod 600 it, and consider the webhook secrets it sealed exposed", what, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key %s%s: %w", what, path, err)
	}
	if len(b) == webhook.SecretKeySize {
		return b, nil
	}
	if k, ok := decodeSecretKey(b); ok {
		return k, nil
	}
	return nil, fmt.Errorf("secret key %s%s holds %d bytes, not a %d-byte key (raw, hex or base64); restore it from a backup, since webhook secrets sealed with it do not open without it", what, path, len(b), webhook.SecretKeySize)
}

// loopbackOnly reports whether a listen address is reachable from this
// machine only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && hostIsLoopback(host)
}

// webhookDenyPrivate resolves the private-target switches: denied when
// the server listens beyond loopback, unless allowed explicitly.
func webhookDenyPrivate(addr string, deny, allow bool) (bool, error) {
	switch {
	case deny && allow:
		return false, configErrorf("--webhook-deny-private and --webhook-allow-private contradict each other; give one (env AGILEPLUS_WEBHOOK_DENY_PRIVATE, AGILEPLUS_WEBHOOK_ALLOW_PRIVATE)")
	case deny || allow:
		return deny, nil
	}
	return !loopbackOnly(addr), nil
}
