package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var _ agileplus.ConsumerHost = (*Bus)(nil)

// consumerNameRE is what a durable name may look like: NATS allows more,
// but these names appear in subjects (dead-letter advisories) and URLs.
var consumerNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// maxAckPending bounds the events a consumer has in flight; a consumer that
// keeps failing one event still moves on to the next.
const consumerMaxAckPending = 256

// Consume creates the durable pull consumer spec.Name on the event stream,
// unless it exists, and runs spec.Handle for each event in this process
// until Stop. A new consumer starts with the events published from now on;
// an existing one resumes where it was, whichever process left it there.
// Every server process that runs the same consumer shares its work.
//
// Policy (Config.Consumer): explicit acks; a handler error is retried after
// the policy's backoff (a NAK with that delay), and after the last attempt
// the server's max-deliveries advisory puts the event in the dead-letter
// stream. A message that is not a CloudEvent is terminated at once and
// dead-lettered the same way. A process that stops (Stop, Close) releases
// the event it was given at once, so another process takes it over; one
// that dies mid-attempt leaves it to be delivered again after the ack wait.
func (b *Bus) Consume(ctx context.Context, spec agileplus.ConsumerSpec) (agileplus.Consumer, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	if !consumerNameRE.MatchString(spec.Name) {
		return nil, agileplus.FieldErrorf("consumer", "consumer name %q must be 1-64 letters, digits, '-' or '_'", spec.Name)
	}
	if spec.Handle == nil {
		return nil, errors.New("natsbus: consume: no handler")
	}
	p := b.cfg.Consumer
	cfg := jetstream.ConsumerConfig{
		Durable:       spec.Name,
		Description:   "agileplus consumer: " + spec.Selector.String(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.AckWait,
		MaxDeliver:    p.MaxDeliver,
		MaxAckPending: consumerMaxAckPending,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		Replicas:      b.cfg.Replicas,
	}
	if subjects := spec.Selector.Subjects(); len(subjects) == 1 {
		cfg.FilterSubject = subjects[0]
	} else {
		cfg.FilterSubjects = subjects
	}
	cons, err := b.js.Consumer(ctx, b.cfg.StreamName, spec.Name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = b.js.CreateConsumer(ctx, b.cfg.StreamName, cfg)
	case err == nil:
		// Keep the position; bring the rest of the settings up to date.
		info := cons.CachedInfo()
		cfg.DeliverPolicy = info.Config.DeliverPolicy
		cfg.OptStartSeq = info.Config.OptStartSeq
		cfg.OptStartTime = info.Config.OptStartTime
		cons, err = b.js.UpdateConsumer(ctx, b.cfg.StreamName, cfg)
	}
	if err != nil {
		err = fmt.Errorf("natsbus: consumer %s: %w", spec.Name, err)
		if isUnreachable(err) {
			return nil, unavailable(err)
		}
		return nil, err
	}

	cctx, cancel := context.WithCancel(context.Background())
	c := &consumer{bus: b, spec: spec, ctx: cctx, cancel: cancel, done: make(chan struct{})}
	if !b.consumers.add(c) {
		cancel()
		return nil, agileplus.Errorf(agileplus.ECONFLICT, "natsbus: consumer %s already runs in this process", spec.Name)
	}
	go c.run(cons)
	return c, nil
}

// pullWait is how long one pull request waits on the server for an event.
// It bounds how long Stop waits for the request in flight to end, and it is
// what an idle consumer costs: one request per pullWait.
const pullWait = time.Second

// run pulls events one at a time until Stop or until the durable consumer
// is gone from the server, then closes done.
//
// One event per pull request: the ack wait runs from when the server hands
// an event over, so events waiting in a prefetch buffer behind a slow
// handler would time out and be redelivered without an attempt. The loop
// issues its own requests, each after the previous one ended, rather than
// the client library's Consume, whose next request can be skipped when a
// handler finishes before the previous request's bookkeeping: that stalls
// the consumer until the request's expiry.
//
// A request is never abandoned: after Stop the loop waits for the one in
// flight to end (at most pullWait), and releases whatever it brings, so the
// server is never left to deliver to a process that no longer listens.
func (c *consumer) run(cons jetstream.Consumer) {
	defer close(c.done)
	log := c.bus.cfg.Logger
	retry := retryStart
	for c.ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(pullWait))
		if err == nil {
			for m := range batch.Messages() {
				c.handle(m)
			}
			err = batch.Error()
		}
		if err == nil || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			retry = retryStart
			continue
		}
		if c.gone(cons, err) {
			if c.ctx.Err() == nil {
				log.Error("natsbus: consumer stopped: its durable consumer is gone from the server", "consumer", c.spec.Name)
				c.bus.consumers.remove(c)
				c.cancel()
			}
			return
		}
		if c.ctx.Err() == nil {
			log.Debug("natsbus: consumer: pull failed; trying again", "consumer", c.spec.Name, "in", retry, "err", err)
		}
		select {
		case <-c.ctx.Done():
		case <-time.After(retry):
		}
		retry = min(2*retry, retryMax)
	}
}

// The delays between pulls that fail (the bus unreachable, a leader change).
const (
	retryStart = 100 * time.Millisecond
	retryMax   = 2 * time.Second
)

// gone reports whether a failed pull means the durable consumer was deleted:
// the server says so, or, when nobody answered the pull, asking for the
// consumer says it does not exist.
func (c *consumer) gone(cons jetstream.Consumer, err error) bool {
	if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return true
	}
	if !errors.Is(err, nats.ErrNoResponders) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = cons.Info(ctx)
	return errors.Is(err, jetstream.ErrConsumerNotFound)
}

// DeleteConsumer stops the consumer in this process, if it runs here, and
// deletes it from the server. Deleting one that does not exist is not an
// error.
func (b *Bus) DeleteConsumer(ctx context.Context, name string) error {
	if c := b.consumers.get(name); c != nil {
		c.Stop()
	}
	err := b.js.DeleteConsumer(ctx, b.cfg.StreamName, name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return unavailable(fmt.Errorf("natsbus: delete consumer %s: %w", name, err))
	}
	return nil
}

// Consumers lists the durable consumers on the event stream whose name
// starts with prefix, by name.
func (b *Bus) Consumers(ctx context.Context, prefix string) ([]agileplus.ConsumerInfo, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	s, err := b.js.Stream(ctx, b.cfg.StreamName)
	if err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: list consumers: %w", err))
	}
	l := s.ListConsumers(ctx)
	var out []agileplus.ConsumerInfo
	for ci := range l.Info() {
		if strings.HasPrefix(ci.Name, prefix) {
			out = append(out, agileplus.ConsumerInfo{Name: ci.Name, Created: ci.Created})
		}
	}
	if err := l.Err(); err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: list consumers: %w", err))
	}
	slices.SortFunc(out, func(a, b agileplus.ConsumerInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// consumer is one durable consumer running in this process.
type consumer struct {
	bus    *Bus
	spec   agileplus.ConsumerSpec
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	done   chan struct{} // closed once the pull loop has ended
}

// Done is closed when the consumer has stopped.
func (c *consumer) Done() <-chan struct{} { return c.done }

// Stop stops receiving events, waits for the handler call in flight and
// for the pull request in flight, and hands every event this process was
// given and did not finish back to the server at once, so another process
// running the same consumer gets it without waiting out the ack wait.
func (c *consumer) Stop() {
	c.once.Do(func() {
		c.bus.consumers.remove(c)
		c.cancel()
		<-c.done
		// The releases are on the wire before Stop returns.
		if err := c.bus.nc.FlushTimeout(releaseFlushTimeout); err != nil && !c.bus.nc.IsClosed() {
			c.bus.cfg.Logger.Debug("natsbus: consumer: releases not confirmed; the ack wait covers them", "consumer", c.spec.Name, "err", err)
		}
	})
}

// releaseFlushTimeout bounds how long Stop waits for the server to take the
// released events; past it the ack wait redelivers them, as after a crash.
const releaseFlushTimeout = 5 * time.Second

func (c *consumer) handle(m jetstream.Msg) {
	if c.ctx.Err() != nil {
		// Delivered while stopping: release it to the next puller now.
		_ = m.Nak()
		return
	}
	log := c.bus.cfg.Logger
	md, err := m.Metadata()
	if err != nil {
		log.Warn("natsbus: consumer: message without metadata", "consumer", c.spec.Name, "err", err)
		_ = m.Term()
		return
	}
	var ce agileplus.CloudEvent
	err = json.Unmarshal(m.Data(), &ce)
	if err == nil && (ce.SpecVersion == "" || ce.ID == "" || ce.Type == "") {
		err = errors.New("specversion, id or type missing")
	}
	if err != nil {
		log.Error("natsbus: consumer: not a CloudEvent; dead-lettered", "consumer", c.spec.Name, "stream_seq", md.Sequence.Stream, "err", err)
		_ = m.TermWithReason("not a CloudEvent: " + err.Error())
		return
	}
	// The attempt starts now: restart the ack wait.
	_ = m.InProgress()
	p := c.bus.cfg.Consumer
	d := agileplus.Delivery{
		Consumer:    c.spec.Name,
		Attempt:     int(md.NumDelivered),
		MaxAttempts: p.MaxDeliver,
		StreamSeq:   md.Sequence.Stream,
	}
	if !d.Last() {
		d.RetryIn = p.RetryDelay(d.Attempt)
	}
	err = c.spec.Handle(c.ctx, ce.Event(), d)
	if c.bus.cfg.OnAttempt != nil && c.ctx.Err() == nil {
		c.bus.cfg.OnAttempt(d, err)
	}
	if err != nil {
		if c.ctx.Err() != nil {
			// Stopping: let another process (or the next start) have it.
			_ = m.Nak()
			return
		}
		log.Debug("natsbus: consumer: attempt failed", "consumer", c.spec.Name, "event", ce.ID, "attempt", d.Attempt, "err", err)
		if d.Last() {
			// The server notices the exhausted event on its next
			// redelivery attempt and publishes the advisory at once.
			_ = m.Nak()
		} else {
			_ = m.NakWithDelay(d.RetryIn)
		}
		return
	}
	// A lost ack means one more delivery, which handlers are idempotent to.
	_ = m.Ack()
}

// registry holds the consumers running in this process, by name, so a
// dead letter can be re-driven through the consumer that gave up on it.
type registry struct {
	mu sync.Mutex
	m  map[string]*consumer
}

func (r *registry) add(c *consumer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*consumer{}
	}
	if _, ok := r.m[c.spec.Name]; ok {
		return false
	}
	r.m[c.spec.Name] = c
	return true
}

func (r *registry) remove(c *consumer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[c.spec.Name] == c {
		delete(r.m, c.spec.Name)
	}
}

func (r *registry) get(name string) *consumer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[name]
}

func (r *registry) stopAll() {
	r.mu.Lock()
	cs := make([]*consumer, 0, len(r.m))
	for _, c := range r.m {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	// Together: each waits for its pull request in flight.
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(c.Stop)
	}
	wg.Wait()
}
