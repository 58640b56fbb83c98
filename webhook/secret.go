package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SecretKeySize is the size of the deployment secret webhook secrets are
// sealed with.
const SecretKeySize = 32

// sealedPrefix starts a secret sealed for the registry: the key id (so
// that a process with another key says so) and base64 of nonce and
// AES-256-GCM ciphertext follow. A secret without it is in the plain form
// registries kept before, read as is and sealed at the next start.
const sealedPrefix = "sealed:v1:"

// sealer seals webhook secrets with a key derived from the deployment
// secret, the webhook id as additional data: a sealed secret copied onto
// another webhook does not open.
type sealer struct {
	aead  cipher.AEAD
	keyID string
}

func newSealer(deploymentSecret []byte) (*sealer, error) {
	if len(deploymentSecret) != SecretKeySize {
		return nil, fmt.Errorf("webhook: the secret key is %d bytes, want %d", len(deploymentSecret), SecretKeySize)
	}
	// Keys of their own for sealing and for naming the key: the deployment
	// secret may serve other purposes, each with its own derived key.
	key, err := hkdf.Key(sha256.New, deploymentSecret, nil, "agileplus webhook secret v1", 32)
	if err != nil {
		return nil, err
	}
	id, err := hkdf.Key(sha256.New, deploymentSecret, nil, "agileplus secret key id v1", 4)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, keyID: hex.EncodeToString(id)}, nil
}

// seal returns the registry form of a webhook's secret.
func (s *sealer) seal(webhookID, secret string) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte(webhookID))
	return sealedPrefix + s.keyID + ":" + base64.RawStdEncoding.EncodeToString(out)
}

// sealed reports whether a registry secret is sealed.
func sealed(stored string) bool { return strings.HasPrefix(stored, sealedPrefix) }

// errKeyMismatch is the cause when a secret was sealed with another key.
var errKeyMismatch = errors.New("webhook: secret sealed with another secret key")

// open returns the secret of a registry form, sealed or plain.
func (s *sealer) open(webhookID, stored string) (string, error) {
	if !sealed(stored) {
		return stored, nil
	}
	keyID, data, ok := strings.Cut(strings.TrimPrefix(stored, sealedPrefix), ":")
	if s == nil {
		return "", fmt.Errorf("webhook %s: its secret is sealed and this process has no secret key", webhookID)
	}
	if !ok || keyID != s.keyID {
		return "", fmt.Errorf("webhook %s: its secret is sealed with secret key %s and this process has key %s; every server process sharing the webhook registry needs the same secret key: %w",
			webhookID, keyID, s.keyID, errKeyMismatch)
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	n := s.aead.NonceSize()
	if err != nil || len(raw) < n {
		return "", fmt.Errorf("webhook %s: its sealed secret is damaged", webhookID)
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(webhookID))
	if err != nil {
		return "", fmt.Errorf("webhook %s: its sealed secret does not open with secret key %s (damaged, or sealed for another webhook)", webhookID, s.keyID)
	}
	return string(plain), nil
}
