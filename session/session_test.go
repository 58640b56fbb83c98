package session_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/internal/redistest"
	"github.com/agileplus/agileplus/localcache"
	"github.com/agileplus/agileplus/rediscache"
	"github.com/agileplus/agileplus/session"
)

// Sessions behave the same on both caches.
func TestSessions(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		c, err := localcache.New(localcache.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		run(t, c)
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		c, err := rediscache.Open(context.Background(), rediscache.Config{URL: srv.URL(0)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		run(t, c)
	})
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Fatalf("%s: %v; want not found", what, err)
	}
}

func run(t *testing.T, c agileplus.Cache) {
	ctx := context.Background()
	t.Run("CreateFuncSeesTheID", func(t *testing.T) {
		svc := &session.Service{Cache: c}
		var seen string
		s, err := svc.CreateFunc(ctx, "key_1", func(id string) map[string]string {
			seen = id
			return map[string]string{"sealed": "for " + id}
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if seen != s.ID || got.Data["sealed"] != "for "+s.ID {
			t.Fatalf("CreateFunc saw id %q, stored %v; want the session's id %q", seen, got.Data, s.ID)
		}
	})
	t.Run("CreateGetRevoke", func(t *testing.T) {
		clk := &clock{now: time.Now()}
		svc := &session.Service{Cache: c, Idle: time.Hour, Now: clk.Now}
		data := map[string]string{"theme": "dark", "csrf": "abc"}
		s, err := svc.Create(ctx, "key_1", data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s.ID, "ses_") || !s.Expires.Equal(clk.Now().Add(time.Hour)) {
			t.Fatalf("Create = %+v", s)
		}
		data["theme"] = "changed"
		clk.Add(10 * time.Minute)
		got, err := svc.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != "key_1" || !maps.Equal(got.Data, map[string]string{"theme": "dark", "csrf": "abc"}) || !got.Created.Equal(s.Created) {
			t.Fatalf("Get = %+v; want the session as created", got)
		}
		if want := clk.Now().Add(time.Hour); !got.Expires.Equal(want) {
			t.Fatalf("Get renewed the session to %v; want %v (an hour from its use)", got.Expires, want)
		}
		other, err := svc.Create(ctx, "key_2", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Revoke(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.Revoke(ctx, s.ID); err != nil {
			t.Fatalf("Revoke twice: %v", err)
		}
		_, err = svc.Get(ctx, s.ID)
		wantNotFound(t, "Get after Revoke", err)
		wantNotFound(t, "Touch after Revoke", svc.Touch(ctx, s.ID))
		if _, err := svc.Get(ctx, other.ID); err != nil {
			t.Fatalf("another session after a revoke: %v", err)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		svc := &session.Service{Cache: c}
		if _, err := svc.Create(ctx, " ", nil); agileplus.ErrorCode(err) != agileplus.EINVALID {
			t.Fatalf("Create without subject: %v; want invalid", err)
		}
		for _, id := range []string{"", "ses_", "nope", "ses_" + strings.Repeat("A", 43), strings.Repeat("x", 47)} {
			_, err := svc.Get(ctx, id)
			wantNotFound(t, "Get("+id+")", err)
		}
	})
	t.Run("EndsWhenIdle", func(t *testing.T) {
		svc := &session.Service{Cache: c, Idle: 50 * time.Millisecond}
		s, err := svc.Create(ctx, "key_1", nil)
		if err != nil {
			t.Fatal(err)
		}
		poll.Until(t, "an idle session to end", func() bool {
			_, err := svc.Get(ctx, s.ID)
			return agileplus.ErrorCode(err) == agileplus.ENOTFOUND
		})
	})
	t.Run("UseRenews", func(t *testing.T) {
		// A session and a control key, both 50ms from their end; the
		// session is used, and outlives the control.
		svc := &session.Service{Cache: c, Idle: time.Hour}
		short := &session.Service{Cache: c, Idle: 50 * time.Millisecond}
		s, err := short.Create(ctx, "key_1", nil)
		if err != nil {
			t.Fatal(err)
		}
		control, err := short.Create(ctx, "key_2", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Touch(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, "the control session to end", func() bool {
			_, cerr := short.Get(ctx, control.ID)
			return agileplus.ErrorCode(cerr) == agileplus.ENOTFOUND
		})
		if _, err := svc.Get(ctx, s.ID); err != nil {
			t.Fatalf("the session used before its end: %v; want it renewed", err)
		}
	})
	t.Run("MaxAge", func(t *testing.T) {
		clk := &clock{now: time.Now()}
		svc := &session.Service{Cache: c, Idle: time.Hour, MaxAge: 90 * time.Minute, Now: clk.Now}
		s, err := svc.Create(ctx, "key_1", nil)
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(50 * time.Minute)
		got, err := svc.Get(ctx, s.ID)
		if err != nil || !got.Expires.Equal(s.Created.Add(90*time.Minute)) {
			t.Fatalf("Get near the end of its max age: %+v, %v; want it to end at its max age", got, err)
		}
		clk.Add(41 * time.Minute)
		_, err = svc.Get(ctx, s.ID)
		wantNotFound(t, "Get past the max age", err)
	})
	t.Run("CodeServesOnce", func(t *testing.T) {
		svc := &session.Service{Cache: c}
		var seen string
		code, expires, err := svc.NewCode(ctx, 0, func(code string) map[string]string {
			seen = code
			return map[string]string{"sealed": "for " + code}
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != code || !strings.HasPrefix(code, "sic_") || time.Until(expires) > session.DefaultCodeTTL {
			t.Fatalf("NewCode = %q, %v; the data maker saw %q", code, expires, seen)
		}
		data, err := svc.Redeem(ctx, code)
		if err != nil || !maps.Equal(data, map[string]string{"sealed": "for " + code}) {
			t.Fatalf("Redeem = %v, %v", data, err)
		}
		_, err = svc.Redeem(ctx, code)
		wantNotFound(t, "Redeem a second time", err)
	})
	t.Run("CodeServesOnceUnderRace", func(t *testing.T) {
		svc := &session.Service{Cache: c}
		code, _, err := svc.NewCode(ctx, 0, func(string) map[string]string { return map[string]string{"x": "y"} })
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 8 {
			wg.Go(func() {
				if _, err := svc.Redeem(ctx, code); err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d of 8 concurrent Redeems got the code's data; want 1", won)
		}
	})
	t.Run("CodeExpires", func(t *testing.T) {
		clk := &clock{now: time.Now()}
		svc := &session.Service{Cache: c, Now: clk.Now}
		code, _, err := svc.NewCode(ctx, time.Minute, func(string) map[string]string { return nil })
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Minute)
		_, err = svc.Redeem(ctx, code)
		wantNotFound(t, "Redeem at the code's deadline", err)
	})
	t.Run("CodeRefusedWhenWrong", func(t *testing.T) {
		svc := &session.Service{Cache: c}
		code, _, err := svc.NewCode(ctx, 0, func(string) map[string]string { return nil })
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"", "sic_", "nope", "sic_" + strings.Repeat("A", 43), code[:len(code)-1] + "x", "ses_" + code[4:]} {
			if bad == code {
				continue
			}
			_, err := svc.Redeem(ctx, bad)
			wantNotFound(t, "Redeem("+bad+")", err)
		}
		if _, err := svc.Redeem(ctx, code); err != nil {
			t.Fatalf("the right code after wrong ones: %v", err)
		}
	})
}
