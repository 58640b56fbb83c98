package natsbus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/nats-io/nats.go/jetstream"
)

// webhookStore keeps webhooks where every server process sharing the bus
// sees them: registrations in a key-value bucket (watched, so a webhook
// registered on one process starts delivering on all), the delivery log in
// a stream with one subject per webhook, and the "delivered" marks that
// make redeliveries idempotent in a second bucket that forgets after the
// event stream's max age.
type webhookStore struct {
	bus        *Bus
	hooks      jetstream.KeyValue
	done       jetstream.KeyValue
	log        jetstream.Stream
	logSubject string // prefix; ".<webhook id>" follows
}

func openWebhookStore(ctx context.Context, b *Bus) (*webhookStore, error) {
	base := strings.ToLower(b.cfg.StreamName)
	w := &webhookStore{bus: b, logSubject: base + "_deliveries"}
	var err error
	w.hooks, err = b.setUpKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      base + "_webhooks",
		Description: "AgilePlus webhook registrations",
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: webhook bucket: %w", err)
	}
	w.done, err = b.setUpKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      base + "_webhook_done",
		Description: "AgilePlus webhook deliveries that succeeded (idempotence marks)",
		Storage:     jetstream.FileStorage,
		TTL:         b.cfg.MaxAge,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: webhook bucket: %w", err)
	}
	w.log, err = b.setUpStream(ctx, jetstream.StreamConfig{
		Name:        b.cfg.StreamName + "_DELIVERIES",
		Description: "AgilePlus webhook delivery log",
		Subjects:    []string{w.logSubject + ".*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      b.cfg.MaxAge,
		Replicas:    b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: webhook delivery log: %w", err)
	}
	return w, nil
}

// Webhooks returns the bus's webhook registry.
func (b *Bus) Webhooks() *WebhookStore { return &WebhookStore{w: b.webhooks} }

// WebhookStore is the webhook registry and delivery log on the bus.
type WebhookStore struct{ w *webhookStore }

func notFound(id string) error {
	return &agileplus.Error{Code: agileplus.ENOTFOUND, Field: "webhook", Message: fmt.Sprintf("webhook %q not found", id)}
}

// PutWebhook stores a webhook.
func (s *WebhookStore) PutWebhook(ctx context.Context, h *agileplus.Webhook) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if _, err := s.w.hooks.Put(ctx, h.ID, data); err != nil {
		return unavailable(fmt.Errorf("natsbus: store webhook %s: %w", h.ID, err))
	}
	return nil
}

// GetWebhook returns a webhook, secret included, or ENOTFOUND.
func (s *WebhookStore) GetWebhook(ctx context.Context, id string) (*agileplus.Webhook, error) {
	if !consumerNameRE.MatchString(id) {
		return nil, notFound(id)
	}
	e, err := s.w.hooks.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: read webhook %s: %w", id, err))
	}
	var h agileplus.Webhook
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		return nil, fmt.Errorf("natsbus: decode webhook %s: %w", id, err)
	}
	return &h, nil
}

// ListWebhooks returns every webhook, oldest first.
func (s *WebhookStore) ListWebhooks(ctx context.Context) ([]*agileplus.Webhook, error) {
	keys, err := s.w.hooks.ListKeys(ctx)
	if err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: list webhooks: %w", err))
	}
	defer keys.Stop()
	out := []*agileplus.Webhook{}
	for k := range keys.Keys() {
		h, err := s.GetWebhook(ctx, k)
		if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b *agileplus.Webhook) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateWebhook passes the registration of id to fn and stores what fn
// changed, unless the registration changed meanwhile: then fn runs again
// on the new one. A registration removed meanwhile stays removed
// (ENOTFOUND).
func (s *WebhookStore) UpdateWebhook(ctx context.Context, id string, fn func(h *agileplus.Webhook) bool) error {
	if !consumerNameRE.MatchString(id) {
		return notFound(id)
	}
	for range 10 {
		e, err := s.w.hooks.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return notFound(id)
		}
		if err != nil {
			return unavailable(fmt.Errorf("natsbus: read webhook %s: %w", id, err))
		}
		var h agileplus.Webhook
		if err := json.Unmarshal(e.Value(), &h); err != nil {
			return fmt.Errorf("natsbus: decode webhook %s: %w", id, err)
		}
		if !fn(&h) {
			return nil
		}
		data, err := json.Marshal(&h)
		if err != nil {
			return err
		}
		_, err = s.w.hooks.Update(ctx, id, data, e.Revision())
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // changed or removed since the read
		}
		if err != nil {
			return unavailable(fmt.Errorf("natsbus: update webhook %s: %w", id, err))
		}
		return nil
	}
	return agileplus.Errorf(agileplus.ECONFLICT, "webhook %s keeps changing; try again", id)
}

// DeleteWebhook removes a webhook with its delivery log and marks.
func (s *WebhookStore) DeleteWebhook(ctx context.Context, id string) error {
	if _, err := s.GetWebhook(ctx, id); err != nil {
		return err
	}
	if err := s.w.hooks.Purge(ctx, id); err != nil {
		return unavailable(fmt.Errorf("natsbus: delete webhook %s: %w", id, err))
	}
	// Housekeeping; what fails here expires with the stream's max age.
	_ = s.w.log.Purge(ctx, jetstream.WithPurgeSubject(s.w.logSubject+"."+id))
	if st, err := s.w.bus.js.Stream(ctx, "KV_"+s.w.done.Bucket()); err == nil {
		_ = st.Purge(ctx, jetstream.WithPurgeSubject("$KV."+s.w.done.Bucket()+"."+id+".>"))
	}
	return nil
}

// WatchWebhooks calls fn with every webhook now registered and then with
// every change (deleted true and h nil for a removal) until ctx ends. It
// returns once the current registrations have been passed to fn.
func (s *WebhookStore) WatchWebhooks(ctx context.Context, fn func(id string, h *agileplus.Webhook)) error {
	watcher, err := s.w.hooks.WatchAll(ctx)
	if err != nil {
		return unavailable(fmt.Errorf("natsbus: watch webhooks: %w", err))
	}
	handle := func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			fn(e.Key(), nil)
			return
		}
		var h agileplus.Webhook
		if err := json.Unmarshal(e.Value(), &h); err != nil {
			s.w.bus.cfg.Logger.Error("natsbus: undecodable webhook registration", "key", e.Key(), "err", err)
			return
		}
		fn(e.Key(), &h)
	}
	// The watcher sends the current values, then nil, then updates.
	for e := range watcher.Updates() {
		if e == nil {
			break
		}
		handle(e)
	}
	go func() {
		defer watcher.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-watcher.Updates():
				if !ok {
					return
				}
				if e != nil {
					handle(e)
				}
			}
		}
	}()
	return nil
}

// AppendDelivery adds an attempt to the webhook's delivery log and sets
// its Seq.
func (s *WebhookStore) AppendDelivery(ctx context.Context, d *agileplus.WebhookDelivery) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	ack, err := s.w.bus.js.Publish(ctx, s.w.logSubject+"."+d.WebhookID, data)
	if err != nil {
		return unavailable(fmt.Errorf("natsbus: log delivery: %w", err))
	}
	d.Seq = ack.Sequence
	return nil
}

// Deliveries returns the webhook's delivery log after the cursor, oldest
// first.
func (s *WebhookStore) Deliveries(ctx context.Context, webhookID string, after uint64, limit int) ([]*agileplus.WebhookDelivery, error) {
	out := []*agileplus.WebhookDelivery{}
	for seq := after + 1; len(out) < limit; {
		m, err := s.w.log.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(s.w.logSubject+"."+webhookID))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, unavailable(fmt.Errorf("natsbus: read deliveries: %w", err))
		}
		var d agileplus.WebhookDelivery
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return nil, fmt.Errorf("natsbus: decode delivery %d: %w", m.Sequence, err)
		}
		d.Seq = m.Sequence
		out = append(out, &d)
		seq = m.Sequence + 1
	}
	return out, nil
}

// MarkDelivered records that the event reached the webhook.
func (s *WebhookStore) MarkDelivered(ctx context.Context, webhookID, eventID string) error {
	if _, err := s.w.done.Put(ctx, webhookID+"."+eventID, nil); err != nil {
		return unavailable(fmt.Errorf("natsbus: mark delivery: %w", err))
	}
	return nil
}

// Delivered reports whether MarkDelivered was called for the pair (within
// the event stream's max age).
func (s *WebhookStore) Delivered(ctx context.Context, webhookID, eventID string) (bool, error) {
	_, err := s.w.done.Get(ctx, webhookID+"."+eventID)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, unavailable(fmt.Errorf("natsbus: read delivery mark: %w", err))
	}
	return true, nil
}
