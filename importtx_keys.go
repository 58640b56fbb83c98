package agileplus

import (
	"context"
	"time"
)

// An import writes no keys: the key methods go straight to the store.

func (b *importTx) APIKey(ctx context.Context, ref string) (*APIKey, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.APIKey(ctx, ref)
}

func (b *importTx) APIKeys(ctx context.Context, p Page) ([]*APIKey, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.APIKeys(ctx, p)
}

func (b *importTx) InsertAPIKey(ctx context.Context, k *APIKey) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.InsertAPIKey(ctx, k)
}

func (b *importTx) UpdateAPIKey(ctx context.Context, k *APIKey) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.UpdateAPIKey(ctx, k)
}

func (b *importTx) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.TouchAPIKey(ctx, id, at)
}
