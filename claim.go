package agileplus

import (
	"strings"
	"time"
)

// Lease is a claim on a WP. Token is a fencing token: it increases with every
// claim of the WP, so a holder whose lease expired and was taken cannot act
// with its old token.
type Lease struct {
	WPID      string    `json:"wp_id"`
	Agent     string    `json:"agent"`
	Token     int64     `json:"token"`
	ClaimedAt time.Time `json:"claimed_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Live reports whether the lease holds at now.
func (l *Lease) Live(now time.Time) bool {
	return l != nil && now.Before(l.ExpiresAt)
}

// Lease durations.
const (
	DefaultLeaseTTL = 15 * time.Minute
	MinLeaseTTL     = time.Second
	MaxLeaseTTL     = 7 * 24 * time.Hour
)

// ClaimRequest is the input of Claim and Renew.
type ClaimRequest struct {
	Agent      string `json:"agent,omitempty" doc:"who claims; required to claim; on renew or release, optional and then checked against the holder"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty" doc:"lease length, default 900"`
	Token      int64  `json:"token,omitempty" doc:"the lease's fencing token; required to renew or release"`
}

// TTL returns the requested lease length, defaulted.
func (c *ClaimRequest) TTL() time.Duration {
	if c.TTLSeconds == 0 {
		return DefaultLeaseTTL
	}
	return time.Duration(c.TTLSeconds) * time.Second
}

// Validate checks a claim (needToken false) or a renew/release (true).
func (c *ClaimRequest) Validate(needToken bool) error {
	if !needToken {
		if strings.TrimSpace(c.Agent) == "" {
			return FieldErrorf("agent", "agent is required")
		} else if err := validateName("agent", c.Agent, true); err != nil {
			return err
		}
	}
	if needToken && c.Token <= 0 {
		return FieldErrorf("token", "token is required: pass the fencing token the claim returned")
	}
	if !needToken && c.Token != 0 {
		return FieldErrorf("token", "a claim takes no token: the claim returns one")
	}
	if needToken && c.Agent != "" {
		// Optional on renew and release; when given it must be the holder.
		if err := validateName("agent", c.Agent, true); err != nil {
			return err
		}
	}
	if c.TTLSeconds != 0 && (c.TTLSeconds < int64(MinLeaseTTL/time.Second) || c.TTLSeconds > int64(MaxLeaseTTL/time.Second)) {
		return FieldErrorf("ttl_seconds", "ttl_seconds must be between %d and %d", int64(MinLeaseTTL/time.Second), int64(MaxLeaseTTL/time.Second))
	}
	return nil
}
