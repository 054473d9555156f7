package bearer

import (
	"errors"
	"time"
)

// StoreOption configures the in-memory stores of this package
// (NewMemoryRefreshStore, NewMemoryRevocationList).
type StoreOption func(*storeConfig) error

type storeConfig struct {
	now        func() time.Time
	maxEntries int
}

// WithStoreClock sets the clock an in-memory store sweeps expired entries
// by (default time.Now).
func WithStoreClock(now func() time.Time) StoreOption {
	return func(c *storeConfig) error {
		if now == nil {
			return errors.New("bearer: store clock must not be nil")
		}
		c.now = now
		return nil
	}
}

// WithStoreMaxEntries bounds an in-memory store's entries.
func WithStoreMaxEntries(n int) StoreOption {
	return func(c *storeConfig) error {
		if n <= 0 {
			return errors.New("bearer: store max entries must be positive")
		}
		c.maxEntries = n
		return nil
	}
}

func newStoreConfig(defaultMax int, opts []StoreOption) (storeConfig, error) {
	c := storeConfig{now: time.Now, maxEntries: defaultMax}
	for _, opt := range opts {
		if opt == nil {
			return c, errors.New("bearer: nil store option")
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}
