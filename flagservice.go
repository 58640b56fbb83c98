package agileplus

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Reads of flags go through Service.FlagCache, one hash per scope, which a
// change deletes once committed. A process whose cache missed that delete
// (its own in-process cache while another process wrote, or a reader that
// filled the hash from the store just before the commit) serves the old
// values for FlagCacheTTL at most. The rules the flags set (WIP limits,
// review) never read the cache: they read the store inside the write's own
// transaction, so neither a stale cache nor a race lets a write past them.

// FlagCacheTTL bounds how long a cached flag hash may outlive a change it
// missed.
const FlagCacheTTL = 15 * time.Second

// flagCacheMark is a field every cached flag hash holds, so that a scope
// with no stored values still has a hash to find.
const flagCacheMark = "@"

// FlagCacheKey is the cache key of a scope's hash of stored flag values.
func FlagCacheKey(scope string) string {
	if scope == "" {
		return "flags:global"
	}
	return "flags:project:" + scope
}

// storedFlags reads a scope's stored values through the cache; a cache
// that fails is passed by for the store.
func (s *Service) storedFlags(ctx context.Context, scope string) (map[string]string, error) {
	key := FlagCacheKey(scope)
	if s.FlagCache != nil {
		if h, err := s.FlagCache.Hash(ctx, key); err == nil && h[flagCacheMark] != "" {
			delete(h, flagCacheMark)
			return h, nil
		}
	}
	var vals map[string]string
	err := s.view(ctx, func(tx ReadTx) (err error) {
		vals, err = tx.FlagValues(ctx, scope)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.FlagCache != nil {
		h := maps.Clone(vals)
		if h == nil {
			h = map[string]string{}
		}
		h[flagCacheMark] = "1"
		// A cache that cannot take it is skipped: the next read goes to
		// the store again.
		_ = s.FlagCache.SetHash(ctx, key, h, FlagCacheTTL)
	}
	return vals, nil
}

// flagProject resolves the project of a flag command and checks the key
// may use it.
func flagProject(ctx context.Context, tx ReadTx, ref string) (*Project, error) {
	p, err := tx.Project(ctx, ref)
	if err != nil {
		return nil, err
	}
	return p, allow(limited(ctx), "project", p.Key)
}

// Flags returns every known flag's value in force: globally for project
// "", or in a project (its own value, else the global one, else the
// default).
func (s *Service) Flags(ctx context.Context, project string) (*FlagSet, error) {
	global, err := s.storedFlags(ctx, "")
	if err != nil {
		return nil, err
	}
	if project == "" {
		return resolveFlags("", global, nil), nil
	}
	var p *Project
	err = s.view(ctx, func(tx ReadTx) (err error) {
		p, err = flagProject(ctx, tx, project)
		return err
	})
	if err != nil {
		return nil, err
	}
	own, err := s.storedFlags(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return resolveFlags(p.Key, global, own), nil
}

// SetFlags stores flag values globally (project "") or in a project and
// returns the flags in force there. Every name and value is checked before
// anything is written; an update that changes nothing records nothing.
func (s *Service) SetFlags(ctx context.Context, project string, u FlagsUpdate) (fs *FlagSet, err error) {
	set, err := u.Validate()
	if err != nil {
		return nil, err
	}
	if project == "" {
		if err := refuseLimited(PrincipalFrom(ctx), "setting global flags"); err != nil {
			return nil, err
		}
	}
	scope := ""
	err = s.update(ctx, func(tx Tx) error {
		projectKey, eventProject := "", SystemProject
		if project != "" {
			p, err := flagProject(ctx, tx, project)
			if err != nil {
				return err
			}
			scope, projectKey, eventProject = p.ID, p.Key, p.Key
		}
		before, err := tx.FlagValues(ctx, scope)
		if err != nil {
			return err
		}
		changed, previous := map[string]json.RawMessage{}, map[string]json.RawMessage{}
		for name, v := range set {
			if old, ok := before[name]; !ok || old != string(v) {
				changed[name] = v
				if ok {
					previous[name] = json.RawMessage(old)
				}
			}
		}
		var removed []string
		for _, name := range u.Unset {
			if old, ok := before[name]; ok && !slices.Contains(removed, name) {
				removed = append(removed, name)
				previous[name] = json.RawMessage(old)
			}
		}
		after := maps.Clone(before)
		if after == nil {
			after = map[string]string{}
		}
		if len(changed) > 0 || len(removed) > 0 {
			put := make(map[string]string, len(changed))
			for name, v := range changed {
				put[name], after[name] = string(v), string(v)
			}
			for _, name := range removed {
				delete(after, name)
			}
			if err := tx.PutFlagValues(ctx, scope, put, removed); err != nil {
				return err
			}
			data := map[string]any{"project": projectKey, "set": changed, "unset": removed, "previous": previous}
			if _, err := s.record(ctx, tx, change{kind: KindFlag, entityID: FlagSetID(scope), projectKey: eventProject, action: "set", data: data}); err != nil {
				return err
			}
		}
		global := after
		if scope != "" {
			if global, err = tx.FlagValues(ctx, ""); err != nil {
				return err
			}
			fs = resolveFlags(projectKey, global, after)
		} else {
			fs = resolveFlags("", global, nil)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.FlagCache != nil {
		// Committed: a cache that misses this delete serves the old values
		// for FlagCacheTTL at most (see above).
		_ = s.FlagCache.Delete(context.WithoutCancel(ctx), FlagCacheKey(scope))
	}
	return fs, nil
}

// flagInForce reads a flag's value in force for a project id inside a
// transaction, and says where it comes from ("project", "global" or
// "default").
func flagInForce(ctx context.Context, tx ReadTx, projectID, name string) (json.RawMessage, string, error) {
	own, err := tx.FlagValues(ctx, projectID)
	if err != nil {
		return nil, "", err
	}
	if v, ok := own[name]; ok {
		return json.RawMessage(v), FlagFromProject, nil
	}
	global, err := tx.FlagValues(ctx, "")
	if err != nil {
		return nil, "", err
	}
	if v, ok := global[name]; ok {
		return json.RawMessage(v), FlagFromGlobal, nil
	}
	d, err := LookupFlag("flag", name)
	return d.Default, FlagFromDefault, err
}

func flagInt(ctx context.Context, tx ReadTx, projectID, name string) (int64, string, error) {
	v, from, err := flagInForce(ctx, tx, projectID, name)
	if err != nil {
		return 0, "", err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("stored flag %s is not an integer: %q", name, v)
	}
	return n, from, nil
}

// limitError is the 409 of a write a flag's rule refuses; the field is
// the flag.
func limitError(flag string, format string, args ...any) error {
	return &Error{Code: ERULE, Field: flag, Message: fmt.Sprintf(format, args...)}
}

// flagSource says where a value in force comes from, for messages.
func flagSource(from string) string {
	switch from {
	case FlagFromProject:
		return "the project's value"
	case FlagFromGlobal:
		return "the global value"
	}
	return "the default"
}

// checkClaimLimit refuses agent a new lease on w when it holds as many
// live ones as wip.max_claims_per_agent of w's project allows.
func checkClaimLimit(ctx context.Context, tx ReadTx, w *WP, agent string, now time.Time) error {
	limit, from, err := flagInt(ctx, tx, w.ProjectID, FlagMaxClaimsPerAgent)
	if err != nil || limit == 0 {
		return err
	}
	n, err := tx.LiveLeases(ctx, agent, now)
	if err != nil {
		return err
	}
	if int64(n) >= limit {
		return limitError(FlagMaxClaimsPerAgent, "agent %s holds %d live claims and %s is %d (%s): release one before claiming %s",
			agent, n, FlagMaxClaimsPerAgent, limit, flagSource(from), w.Key)
	}
	return nil
}

// transitionRules applies the state machine and the flags' rules to a
// move of w to state to: workflow.require_review decides whether doing
// may go straight to done, and wip.max_doing_per_project caps the
// project's WPs in doing, whether forced or not.
func transitionRules(ctx context.Context, tx ReadTx, w *WP, to string) error {
	if w.State == WPDoing && to == WPDone {
		v, from, err := flagInForce(ctx, tx, w.ProjectID, FlagRequireReview)
		if err != nil {
			return err
		}
		if string(v) != "false" {
			return limitError(FlagRequireReview, "wp %s cannot move from doing to done: %s is on (%s): move it to review first", w.Key, FlagRequireReview, flagSource(from))
		}
		return nil
	}
	if err := WPTransitionCheck(w.Key, w.State, to); err != nil {
		return err
	}
	if to != WPDoing || w.State == WPDoing {
		return nil
	}
	limit, from, err := flagInt(ctx, tx, w.ProjectID, FlagMaxDoingPerProject)
	if err != nil || limit == 0 {
		return err
	}
	n, err := tx.CountWPs(ctx, w.ProjectID, WPDoing)
	if err != nil {
		return err
	}
	if int64(n) >= limit {
		return limitError(FlagMaxDoingPerProject, "project %s has %d WPs in doing and %s is %d (%s): %s cannot move to doing until one leaves it",
			w.ProjectKey, n, FlagMaxDoingPerProject, limit, flagSource(from), w.Key)
	}
	return nil
}
