package neo4jstore

import (
	"context"
	"fmt"
	"time"

	"github.com/agileplus/agileplus"
)

// FlagValues returns the flag values stored in a scope.
func (t *Tx) FlagValues(ctx context.Context, scope string) (map[string]string, error) {
	recs, err := t.run(ctx, "flags", `MATCH (f:Flag) WHERE f.scope = $scope RETURN f.name, f.value`, map[string]any{"scope": scope})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(recs))
	for _, r := range recs {
		name, ok1 := r.Values[0].(string)
		value, ok2 := r.Values[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("neo4jstore: flags: stored flag %v is not a name and a value", r.Values)
		}
		out[name] = value
	}
	return out, nil
}

// PutFlagValues stores and removes flag values of a scope.
func (t *Tx) PutFlagValues(ctx context.Context, scope string, set map[string]string, unset []string) error {
	var rows []any
	for name, value := range set {
		rows = append(rows, map[string]any{"name": name, "value": value})
	}
	if len(rows) > 0 {
		if _, err := t.run(ctx, "put flags", `UNWIND $rows AS r
			MERGE (f:Flag {key: $scope + '/' + r.name}) SET f.scope = $scope, f.name = r.name, f.value = r.value`,
			map[string]any{"scope": scope, "rows": rows}); err != nil {
			return err
		}
	}
	if len(unset) > 0 {
		keys := make([]string, len(unset))
		for i, name := range unset {
			keys[i] = scope + "/" + name
		}
		if _, err := t.run(ctx, "unset flags", `MATCH (f:Flag) WHERE f.key IN $keys DELETE f`, map[string]any{"keys": keys}); err != nil {
			return err
		}
	}
	return nil
}

// LiveLeases counts the leases agent holds that expire after now. In a
// write transaction it first locks the agent, so that two claims by one
// agent, which lock different WPs, count each other under
// wip.max_claims_per_agent instead of both passing it.
func (t *Tx) LiveLeases(ctx context.Context, agent string, now time.Time) (int, error) {
	if t.write {
		if _, err := t.run(ctx, "lock agent", `MERGE (a:Agent {name: $agent}) SET a._lock = true REMOVE a._lock`,
			map[string]any{"agent": agent}); err != nil {
			return 0, err
		}
	}
	return t.count(ctx, "live leases", `MATCH (:Agent {name: $agent})<-[l:CLAIMED_BY]-(:WorkPackage) WHERE l.expires_at > $now RETURN count(l)`,
		map[string]any{"agent": agent, "now": fmtTime(now)})
}

// CountWPs counts a project's WPs in a state. In a write transaction it
// first locks the project, so that two moves into doing of different WPs
// count each other under wip.max_doing_per_project.
func (t *Tx) CountWPs(ctx context.Context, projectID, state string) (int, error) {
	if t.write {
		if err := t.lockNodes(ctx, "Project", projectID); err != nil {
			return 0, err
		}
	}
	return t.count(ctx, "count wps", `MATCH (w:WorkPackage) WHERE w.project_id = $project AND w.state = $state RETURN count(w)`,
		map[string]any{"project": projectID, "state": state})
}

func (t *Tx) count(ctx context.Context, op, q string, params map[string]any) (int, error) {
	recs, err := t.run(ctx, op, q, params)
	if err != nil {
		return 0, err
	}
	if len(recs) != 1 {
		return 0, fmt.Errorf("neo4jstore: %s: got %d rows, want 1", op, len(recs))
	}
	n, ok := recs[0].Values[0].(int64)
	if !ok {
		return 0, fmt.Errorf("neo4jstore: %s: got %T, want an integer", op, recs[0].Values[0])
	}
	return int(n), nil
}

var _ agileplus.FlagTx = (*Tx)(nil)
