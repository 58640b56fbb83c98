package crosstest

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/webhook"
)

// consumerNames lists the webhook consumers on the bus.
func consumerNames(t *testing.T, bus *natsbus.Bus) []string {
	t.Helper()
	cs, err := bus.Consumers(context.Background(), webhook.ConsumerName(agileplus.PrefixWebhook))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

// leaveConsumer makes the durable consumer a process leaves behind when it
// stops between creating a webhook's consumer and registering it.
func leaveConsumer(t *testing.T, bus *natsbus.Bus, name string) {
	t.Helper()
	c, err := bus.Consume(context.Background(), agileplus.ConsumerSpec{
		Name:   name,
		Handle: func(context.Context, *agileplus.Event, agileplus.Delivery) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
}

// A durable consumer of a webhook that is not registered is removed once it
// is older than the grace; registered webhooks and young consumers (a
// creation in flight in another process) keep theirs.
func TestSweepRemovesUnregisteredConsumers(t *testing.T) {
	ctx := context.Background()
	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()

	// A webhook registered and running in one process.
	d1 := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus, SecretKey: testSecretKey(1), Logger: slog.New(slog.DiscardHandler)})
	if err := d1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := d1.CreateWebhook(ctx, agileplus.WebhookCreate{URL: "http://127.0.0.1:9/hook"})
	if err != nil {
		t.Fatal(err)
	}
	kept := webhook.ConsumerName(h.ID)
	// Another registered webhook whose consumer runs nowhere right now.
	h2, err := d1.CreateWebhook(ctx, agileplus.WebhookCreate{URL: "http://127.0.0.1:9/other"})
	if err != nil {
		t.Fatal(err)
	}
	d1.Close()
	kept2 := webhook.ConsumerName(h2.ID)

	orphan := webhook.ConsumerName("whk_orphan")
	leaveConsumer(t, bus, orphan)
	// A consumer that is not a webhook's is none of the sweep's business.
	leaveConsumer(t, bus, "other-consumer")
	leaveConsumer(t, bus, "webhook-by-an-operator")

	// Consumers are younger than the default grace of a minute: nothing goes.
	d2 := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus})
	if n, err := d2.SweepOrphans(ctx); err != nil || n != 0 {
		t.Fatalf("sweep within the grace: removed %d, err %v; want 0, nil", n, err)
	}
	if got := consumerNames(t, bus); !slices.Contains(got, orphan) {
		t.Fatalf("young orphan removed: %v", got)
	}

	// Past the grace (the dispatcher's clock runs two minutes ahead), the
	// sweep at Start removes the orphan alone.
	d3 := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus,
		Now: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	if err := d3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d3.Close()
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(consumerNames(t, bus), orphan) {
		if time.Now().After(deadline) {
			t.Fatalf("the sweep at Start did not remove %s: %v", orphan, consumerNames(t, bus))
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []string{kept, kept2}
	slices.Sort(want)
	if got := consumerNames(t, bus); !slices.Equal(got, want) {
		t.Errorf("webhook consumers after the sweep = %v, want %v", got, want)
	}
	all, err := bus.Consumers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"other-consumer", "webhook-by-an-operator"} {
		if !slices.ContainsFunc(all, func(c agileplus.ConsumerInfo) bool { return c.Name == name }) {
			t.Errorf("the sweep removed %s, which is not a webhook's: %v", name, all)
		}
	}
	if n, err := d3.SweepOrphans(ctx); err != nil || n != 0 {
		t.Errorf("second sweep: removed %d, err %v; want 0, nil", n, err)
	}
}

// A webhook deleted while its consumer cannot be removed leaves the
// consumer to the next sweep.
func TestSweepAfterDeleteLeftTheConsumer(t *testing.T) {
	ctx := context.Background()
	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	d := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus, SecretKey: testSecretKey(1),
		Now: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	h, err := d.CreateWebhook(ctx, agileplus.WebhookCreate{URL: "http://127.0.0.1:9/hook"})
	if err != nil {
		t.Fatal(err)
	}
	// The registration goes, the consumer stays: what DeleteWebhook leaves
	// when the bus refuses the consumer's deletion.
	if err := bus.Webhooks().DeleteWebhook(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if got := consumerNames(t, bus); !slices.Contains(got, webhook.ConsumerName(h.ID)) {
		t.Fatalf("consumer gone before the sweep: %v", got)
	}
	d2 := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus,
		Now: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	if n, err := d2.SweepOrphans(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: removed %d, err %v; want 1, nil", n, err)
	}
	if got := consumerNames(t, bus); len(got) != 0 {
		t.Errorf("webhook consumers after the sweep = %v, want none", got)
	}
}
