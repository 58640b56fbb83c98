package natsbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// MonitorURL is the base URL of the embedded server's monitoring endpoint
// (Config.MonitorAddr), "" when it has none.
func (b *Bus) MonitorURL() string {
	if b.srv == nil || b.cfg.MonitorAddr == "" {
		return ""
	}
	a := b.srv.MonitorAddr()
	if a == nil {
		return ""
	}
	return "http://" + net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
}

// ConsumerStats is the state of one durable consumer of the event stream,
// as the server tells it.
type ConsumerStats struct {
	Name string
	// Pending is the events the consumer has not been given yet: its lag.
	Pending uint64
	// AckPending is the events given and not yet acknowledged.
	AckPending int
	// Redelivered is the events given more than once and not yet
	// acknowledged.
	Redelivered int
}

// ConsumerStats lists the durable consumers of the event stream with their
// lag, in the server's order.
func (b *Bus) ConsumerStats(ctx context.Context) ([]ConsumerStats, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	s, err := b.js.Stream(ctx, b.cfg.StreamName)
	if err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: consumer stats: %w", err))
	}
	l := s.ListConsumers(ctx)
	var out []ConsumerStats
	for ci := range l.Info() {
		out = append(out, ConsumerStats{Name: ci.Name, Pending: ci.NumPending, AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered})
	}
	if err := l.Err(); err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: consumer stats: %w", err))
	}
	return out, nil
}

// DeadLetterCount is the number of dead letters held (see DeadLetters).
func (b *Bus) DeadLetterCount(ctx context.Context) (uint64, error) {
	if err := b.checkOpen(); err != nil {
		return 0, err
	}
	if b.dlq == nil {
		return 0, errors.New("natsbus: dead-letter stream not open")
	}
	info, err := b.dlq.Info(ctx)
	if err != nil {
		return 0, unavailable(fmt.Errorf("natsbus: dead-letter count: %w", err))
	}
	return info.State.Msgs, nil
}
