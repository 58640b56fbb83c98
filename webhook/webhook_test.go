package webhook

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, Sign("s3cret-s3cret-s3cret", now.Unix(), body))
	if err := Verify("s3cret-s3cret-s3cret", h, body, now.Add(time.Second), time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for name, check := range map[string]func() error{
		"wrong secret":  func() error { return Verify("other-secret-other", h, body, now, time.Minute) },
		"changed body":  func() error { return Verify("s3cret-s3cret-s3cret", h, []byte(`{"id":"evt_2"}`), now, time.Minute) },
		"old timestamp": func() error { return Verify("s3cret-s3cret-s3cret", h, body, now.Add(time.Hour), time.Minute) },
		"no timestamp":  func() error { return Verify("s3cret-s3cret-s3cret", http.Header{}, body, now, 0) },
	} {
		if check() == nil {
			t.Errorf("%s: verified", name)
		}
	}
	// The signature covers the timestamp: replaying the body with a new
	// timestamp does not verify.
	h2 := h.Clone()
	h2.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+60, 10))
	if Verify("s3cret-s3cret-s3cret", h2, body, now, 0) == nil {
		t.Error("a signature verified under another timestamp")
	}
}

func TestDeliveryIDStable(t *testing.T) {
	a, b := DeliveryID("whk_1", "evt_1"), DeliveryID("whk_1", "evt_1")
	if a != b || a == DeliveryID("whk_1", "evt_2") || a == DeliveryID("whk_2", "evt_1") {
		t.Errorf("delivery ids: %s %s", a, b)
	}
}

func TestCheckURL(t *testing.T) {
	open := New(Config{})
	closed := New(Config{DenyPrivate: true})
	for _, tc := range []struct {
		url            string
		okOpen, okDeny bool
	}{
		{"https://hooks.example.com/agileplus", true, true},
		{"http://127.0.0.1:9000/hook", true, false},
		{"http://localhost/hook", true, false},
		{"http://localhost./hook", true, false},
		{"http://api.localhost/hook", true, false},
		{"http://192.168.1.10/hook", true, false},
		{"http://[fe80::1]/hook", true, false},
		{"http://0.0.0.0/hook", true, false},
		{"http://100.64.0.1/hook", true, false},
		{"http://100.100.100.200/latest/meta-data", true, false},
		{"http://[64:ff9b::a00:1]/hook", true, false},
		{"http://[::ffff:10.0.0.1]/hook", true, false},
		{"http://[2002:c0a8:101::1]/hook", true, false},
		{"http://198.18.0.1/hook", true, false},
		{"http://127.1/hook", true, false},
		{"http://2130706433/hook", true, false},
		{"http://0x7f000001/hook", true, false},
		{"http://[fe80::1%25eth0]/hook", true, false},
		{"http://[2606:4700::1111]/hook", true, true},
		{"http://8.8.8.8/hook", true, true},
		{"ftp://example.com/", false, false},
		{"example.com/hook", false, false},
		{"http://user:pw@example.com/", false, false},
		{"http://example.com/#frag", false, false},
	} {
		_, err := open.checkURL(tc.url)
		if (err == nil) != tc.okOpen {
			t.Errorf("open checkURL(%q) = %v", tc.url, err)
		}
		_, err = closed.checkURL(tc.url)
		if (err == nil) != tc.okDeny {
			t.Errorf("deny-private checkURL(%q) = %v", tc.url, err)
		}
		if err != nil && agileplus.ErrorCode(err) != agileplus.EINVALID {
			t.Errorf("checkURL(%q): %v is not EINVALID", tc.url, err)
		}
	}
	for addr, ok := range map[string]bool{"93.184.216.34:443": true, "127.0.0.1:80": false, "10.0.0.1:80": false, "[::1]:80": false, "169.254.169.254:80": false,
		"100.100.100.200:80": false, "[64:ff9b::7f00:1]:80": false, "[2002:a00:1::]:80": false, "[2606:4700::1111]:443": true} {
		if err := denyPrivateControl("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("denyPrivateControl(%s) = %v", addr, err)
		}
	}
}

func TestTraceParentContinuesTrace(t *testing.T) {
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	out := traceParent(&agileplus.Event{TraceParent: in})
	if !agileplus.ValidTraceParent(out) || out[:36] != in[:36] || out[52:] != in[52:] || out == in {
		t.Errorf("traceParent(%s) = %s", in, out)
	}
	if traceParent(&agileplus.Event{}) != "" {
		t.Error("traceParent of an event without one is not empty")
	}
}
