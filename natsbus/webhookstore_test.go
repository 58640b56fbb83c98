package natsbus_test

import (
	"context"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/natsbus"
)

// UpdateWebhook stores fn's change only over the registration fn saw: a
// change in between makes fn run again on it, and a removal stays.
func TestUpdateWebhook(t *testing.T) {
	ctx := context.Background()
	reg := openBus(t, natsbus.Config{DataDir: t.TempDir()}).Webhooks()
	h := &agileplus.Webhook{ID: "whk_update1", URL: "https://a.example/", Secret: "s1"}
	if err := reg.PutWebhook(ctx, h); err != nil {
		t.Fatal(err)
	}

	calls := 0
	err := reg.UpdateWebhook(ctx, h.ID, func(got *agileplus.Webhook) bool {
		calls++
		if calls == 1 {
			// Another process changes it between the read and the write.
			if err := reg.PutWebhook(ctx, &agileplus.Webhook{ID: h.ID, URL: "https://b.example/", Secret: "s1"}); err != nil {
				t.Fatal(err)
			}
		}
		got.Secret = "s2"
		return true
	})
	if err != nil || calls != 2 {
		t.Fatalf("UpdateWebhook = %v after %d calls, want nil after 2", err, calls)
	}
	if got, err := reg.GetWebhook(ctx, h.ID); err != nil || got.URL != "https://b.example/" || got.Secret != "s2" {
		t.Errorf("after the update: %+v, %v; want the other process's URL and the new secret", got, err)
	}

	if err := reg.UpdateWebhook(ctx, h.ID, func(*agileplus.Webhook) bool { return false }); err != nil {
		t.Errorf("an update without a change: %v", err)
	}

	err = reg.UpdateWebhook(ctx, h.ID, func(got *agileplus.Webhook) bool {
		if err := reg.DeleteWebhook(ctx, h.ID); err != nil {
			t.Fatal(err)
		}
		got.Secret = "s3"
		return true
	})
	if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("update of a webhook removed meanwhile: %v, want not found", err)
	}
	if _, err := reg.GetWebhook(ctx, h.ID); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("the update brought a removed webhook back: %v", err)
	}
	if err := reg.UpdateWebhook(ctx, "whk_none", func(*agileplus.Webhook) bool { return true }); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("update of an unknown webhook: %v", err)
	}
}
