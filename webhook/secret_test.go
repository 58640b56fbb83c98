package webhook

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/agileplus/agileplus"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, SecretKeySize) }

func TestSealOpen(t *testing.T) {
	s, err := newSealer(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_plain-secret-0123456789"
	a, b := s.seal("whk_1", secret), s.seal("whk_1", secret)
	if strings.Contains(a, secret) || !sealed(a) || a == b {
		t.Fatalf("sealed forms %q, %q: want no plaintext, the sealed prefix, a fresh nonce each", a, b)
	}
	if got, err := s.open("whk_1", a); err != nil || got != secret {
		t.Fatalf("open = %q, %v", got, err)
	}
	// The plain form of older registries reads as is.
	if got, err := s.open("whk_1", secret); err != nil || got != secret {
		t.Errorf("open of a plain secret = %q, %v", got, err)
	}
	if _, err := s.open("whk_2", a); err == nil {
		t.Error("a secret sealed for whk_1 opened for whk_2")
	}
	other, _ := newSealer(testKey(2))
	if _, err := other.open("whk_1", a); !errors.Is(err, errKeyMismatch) || !strings.Contains(err.Error(), "same secret key") {
		t.Errorf("open with another key: %v, want a key mismatch naming the fix", err)
	}
	var none *sealer
	if _, err := none.open("whk_1", a); err == nil || !strings.Contains(err.Error(), "no secret key") {
		t.Errorf("open without a key: %v", err)
	}
	if _, err := s.open("whk_1", a[:len(a)-4]); err == nil {
		t.Error("a damaged sealed secret opened")
	}
	if _, err := newSealer([]byte("short")); err == nil {
		t.Error("a 5-byte key was taken")
	}
	if err := New(Config{SecretKey: []byte("short")}).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Errorf("Start with a short key: %v", err)
	}
}

func TestCreateWebhookWithoutKeyIsRefused(t *testing.T) {
	_, err := New(Config{}).CreateWebhook(context.Background(), agileplus.WebhookCreate{URL: "https://hooks.example.com/"})
	if agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE {
		t.Errorf("CreateWebhook without a key: %v, want unavailable", err)
	}
}

func TestAnswerSnippet(t *testing.T) {
	if got := answerSnippet([]byte(" down for maintenance\n")); got != "down for maintenance" {
		t.Errorf("short answer kept as %q", got)
	}
	long := bytes.Repeat([]byte("é"), maxErrorBody) // 2 bytes each: the cut falls mid-character or not
	for _, b := range [][]byte{long, long[1:]} {
		got := answerSnippet(b[:maxErrorBody+1])
		if !strings.HasSuffix(got, truncatedMark) || len(got) > maxErrorBody+len(truncatedMark) || !utf8.ValidString(got) {
			t.Errorf("long answer kept as %d bytes %q", len(got), got)
		}
	}
}

// fakeDNS answers every A query with 127.0.0.1 and every other query with
// no records.
func fakeDNS(t *testing.T) *net.Resolver {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			end := 12
			for end < n && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5 // the root label, type and class
			if end > n {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[end-4:])
			resp := append([]byte{}, q[:end]...)
			binary.BigEndian.PutUint16(resp[2:], 0x8180) // answer, recursion available
			binary.BigEndian.PutUint16(resp[8:], 0)      // no authority
			binary.BigEndian.PutUint16(resp[10:], 0)     // no additional
			binary.BigEndian.PutUint16(resp[6:], 0)      // no answer yet
			if qtype == 1 {
				binary.BigEndian.PutUint16(resp[6:], 1)
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
			}
			pc.WriteTo(resp, addr)
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// A name that resolves to a private address passes registration and is
// refused when the delivery connects.
func TestDenyPrivateAtConnect(t *testing.T) {
	var got atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		io.WriteString(w, "internal answer")
	}))
	defer rcv.Close()
	_, port, _ := net.SplitHostPort(rcv.Listener.Addr().String())
	target := "http://hooks.example.test:" + port + "/hook"
	resolver := fakeDNS(t)
	e := &agileplus.Event{ID: "evt_1", Type: "wp.created"}

	deny := New(Config{DenyPrivate: true})
	deny.dialer.Resolver = resolver
	if _, err := deny.checkURL(target); err != nil {
		t.Fatalf("checkURL(%s) = %v; a name is checked at connect time", target, err)
	}
	_, err := deny.post(context.Background(), &agileplus.Webhook{ID: "whk_1", URL: target}, "secret", e, "dlv_1", 1, &agileplus.WebhookDelivery{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1 is a private address") {
		t.Errorf("post to a name resolving to 127.0.0.1 with private targets off: %v", err)
	}
	if n := got.Load(); n != 0 {
		t.Errorf("receiver got %d requests", n)
	}

	// The same name and resolver with private targets allowed reach the
	// receiver: the refusal above is the check, not the resolver.
	allow := New(Config{})
	allow.dialer.Resolver = resolver
	allow.client.Transport.(*http.Transport).Proxy = nil
	if status, err := allow.post(context.Background(), &agileplus.Webhook{ID: "whk_1", URL: target}, "secret", e, "dlv_1", 1, &agileplus.WebhookDelivery{}); err != nil || status != 200 {
		t.Errorf("post with private targets allowed: %d, %v", status, err)
	}
	if n := got.Load(); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
}

// The delivery log keeps a failed answer's start only, marked as cut.
func TestFailedAnswerIsCutShort(t *testing.T) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, strings.Repeat("internal-", 10_000))
	}))
	defer rcv.Close()
	d := New(Config{})
	d.client.Transport.(*http.Transport).Proxy = nil
	status, err := d.post(context.Background(), &agileplus.Webhook{ID: "whk_1", URL: rcv.URL}, "secret", &agileplus.Event{ID: "evt_1"}, "dlv_1", 1, &agileplus.WebhookDelivery{})
	if status != 500 || err == nil {
		t.Fatalf("post = %d, %v", status, err)
	}
	if msg := err.Error(); len(msg) > 1024 || !strings.HasSuffix(msg, truncatedMark) {
		t.Errorf("delivery error is %d bytes (%.80q...), want at most 1 KiB ending in %q", len(msg), msg, truncatedMark)
	}
}
