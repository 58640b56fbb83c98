package agileplus

import (
	"context"
	"time"
)

// Flags pass through to the store's Tx once the chunk in flight is stored.

func (b *importTx) FlagValues(ctx context.Context, scope string) (map[string]string, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.FlagValues(ctx, scope)
}

func (b *importTx) LiveLeases(ctx context.Context, agent string, now time.Time) (int, error) {
	if err := b.wait(); err != nil {
		return 0, err
	}
	return b.tx.LiveLeases(ctx, agent, now)
}

func (b *importTx) CountWPs(ctx context.Context, projectID, state string) (int, error) {
	if err := b.wait(); err != nil {
		return 0, err
	}
	return b.tx.CountWPs(ctx, projectID, state)
}

func (b *importTx) PutFlagValues(ctx context.Context, scope string, set map[string]string, unset []string) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.PutFlagValues(ctx, scope, set, unset)
}
