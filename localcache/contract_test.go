package localcache_test

import (
	"testing"

	"github.com/agileplus/agileplus/internal/cachetest"
	"github.com/agileplus/agileplus/localcache"
)

func TestContract(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Adapter {
		c, err := localcache.New(localcache.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}
