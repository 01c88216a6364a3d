package main

import (
	"context"

	"github.com/lib/pq"
)

// openPostgres connects with cfg and applies the embedded schema once; a
// database that cannot be reached is an error.
func openPostgres(ctx context.Context, cfg pq.Config, opts pgOptions) (*pgStore, error) {
	s, err := newPostgres(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := s.applySchema(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// idle returns once no fetch is running: a test waits with it for a
// background fetch.
func (c *jwksCache) idle() {
	c.mu.Lock()
	done := c.fetching
	c.mu.Unlock()
	if done != nil {
		<-done
	}
}
