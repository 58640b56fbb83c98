package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/localcache"
	"github.com/agileplus/agileplus/prommetrics"
	"github.com/agileplus/agileplus/ratelimit"
	"github.com/agileplus/agileplus/rediscache"
	"github.com/spf13/cobra"
)

// cacheFlags are serve's flags for the cache and rate limits, as given.
type cacheFlags struct {
	redisURL string
	limits   [5]string // per httpapi.RouteClasses
}

// cacheConfig is the cache and the rate limits, checked.
type cacheConfig struct {
	redisURL string // "" keeps the cache in the process
	limits   httpapi.RateLimits
}

// defaultRateLimits apply, per class, on a server reachable from
// elsewhere when no limit is given; on loopback nothing is limited unless
// asked for.
var defaultRateLimits = map[string]string{
	httpapi.ClassRead:   "1200/1m",
	httpapi.ClassWrite:  "300/1m",
	httpapi.ClassAdmin:  "60/1m",
	httpapi.ClassImport: "10/1h",
	httpapi.ClassStream: "30/1m",
}

func rateFlag(class string) string { return "rate-limit-" + class }
func rateEnv(class string) string  { return "AGILEPLUS_RATE_LIMIT_" + strings.ToUpper(class) }

func (c *cacheFlags) addFlags(cmd *cobra.Command, getenv func(string) string) {
	f := cmd.Flags()
	f.StringVar(&c.redisURL, "redis-url", getenv("REDIS_URL"), "keep the cache (rate limits, sessions) on a Redis-protocol server (Dragonfly, Valkey, Redis) shared by every process: redis://[:password@]host[:port][/db], rediss:// for TLS; empty keeps it in the process (env REDIS_URL)")
	for i, class := range httpapi.RouteClasses {
		f.StringVar(&c.limits[i], rateFlag(class), getenv(rateEnv(class)), "requests of class "+class+" one key (or address, without keys) may make: QUOTA/WINDOW such as "+
			defaultRateLimits[class]+", or off; empty: off on a loopback --addr, "+defaultRateLimits[class]+" elsewhere (env "+rateEnv(class)+")")
	}
}

// check parses the flags; addr is --addr, whose reach picks the default
// limits.
func (c cacheFlags) check(addr string, changed func(string) bool) (cacheConfig, error) {
	cfg := cacheConfig{redisURL: strings.TrimSpace(c.redisURL)}
	if cfg.redisURL != "" {
		from := "--redis-url"
		if !changed("redis-url") {
			from = "REDIS_URL"
		}
		if _, err := rediscache.Parse(cfg.redisURL, nil); err != nil {
			return cfg, configErrorf("%s: %s", from, agileplus.ErrorMessage(err))
		}
	}
	limits := make([]agileplus.RateLimit, len(httpapi.RouteClasses))
	for i, class := range httpapi.RouteClasses {
		v, from := strings.TrimSpace(c.limits[i]), "--"+rateFlag(class)
		if !changed(rateFlag(class)) {
			from = rateEnv(class)
		}
		if v == "" {
			if loopbackOnly(addr) {
				continue
			}
			v = defaultRateLimits[class]
		}
		l, err := parseRateLimit(v)
		if err != nil {
			return cfg, configErrorf("%s %q: %v", from, v, err)
		}
		limits[i] = l
	}
	cfg.limits = httpapi.RateLimits{Read: limits[0], Write: limits[1], Admin: limits[2], Import: limits[3], Stream: limits[4]}
	return cfg, nil
}

// parseRateLimit reads QUOTA/WINDOW: 600/1m, 10/s (a bare unit is one of
// it), or off or 0 for no limit.
func parseRateLimit(v string) (agileplus.RateLimit, error) {
	if v == "off" || v == "0" {
		return agileplus.RateLimit{}, nil
	}
	q, w, ok := strings.Cut(v, "/")
	if !ok {
		return agileplus.RateLimit{}, fmt.Errorf("want QUOTA/WINDOW, such as 600/1m or 10/s, or off")
	}
	quota, err := strconv.Atoi(q)
	if err != nil || quota < 1 {
		return agileplus.RateLimit{}, fmt.Errorf("the quota %q is not a whole number of at least 1 (off for no limit)", q)
	}
	if w == "s" || w == "m" || w == "h" {
		w = "1" + w
	}
	window, err := time.ParseDuration(w)
	if err != nil || window <= 0 {
		return agileplus.RateLimit{}, fmt.Errorf("the window %q is not a duration more than 0, such as 1m, 10s or h", w)
	}
	l := agileplus.RateLimit{Quota: quota, Window: window}
	if err := l.Check("limit"); err != nil {
		return agileplus.RateLimit{}, fmt.Errorf("%s", agileplus.ErrorMessage(err))
	}
	return l, nil
}

// openCache opens the cache the configuration names, and returns it with
// the rate limiter and the /ready check over it. Without REDIS_URL both
// are in the process. With it the limiter is the server's, falling back
// to one in the process while the server cannot be reached; the check
// then marks the cache degraded, never down. A server that cannot be
// used at start is a configuration error (exit status 2) saying why.
func (a *app) openCache(ctx context.Context, m *prommetrics.Metrics) (agileplus.Cache, agileplus.RateLimiter, httpapi.Check, error) {
	cfg, log := a.cfg.cache, a.cfg.logger
	local, err := localcache.New(localcache.Config{})
	if err != nil {
		return nil, nil, httpapi.Check{}, err
	}
	a.onClose(local.Close)
	if cfg.redisURL == "" {
		check := httpapi.Check{Name: "cache", Optional: true, Func: func(context.Context) (map[string]any, error) {
			return map[string]any{"kind": "in-process"}, nil
		}}
		return local, local, check, nil
	}
	shared, err := rediscache.Open(ctx, rediscache.Config{URL: cfg.redisURL})
	if err != nil {
		return nil, nil, httpapi.Check{}, configErrorf("REDIS_URL: %s", agileplus.ErrorMessage(err))
	}
	a.onClose(shared.Close)
	limiter := &ratelimit.Fallback{Shared: shared, Local: local, OnChange: func(err error) {
		m.SetCacheDegraded(err != nil)
		if err != nil {
			log.Warn("the cache cannot be reached: rate limits are counted in this process until it is back", "addr", shared.Addr(), "error", err)
		} else {
			log.Info("the cache is back: rate limits are shared again", "addr", shared.Addr())
		}
	}}
	check := httpapi.Check{Name: "cache", Optional: true, Func: func(ctx context.Context) (map[string]any, error) {
		detail := map[string]any{"kind": "redis", "addr": shared.Addr(), "rate_limits": "shared"}
		// Once the server answers again, the limiter goes back to it on
		// its next request.
		if limiter.Err() != nil {
			detail["rate_limits"] = "in-process"
		}
		return detail, shared.Ping(ctx)
	}}
	log.Info("cache on a Redis-protocol server", "addr", shared.Addr())
	return shared, limiter, check, nil
}
