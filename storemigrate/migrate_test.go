package storemigrate

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// fill gives s two projects, three features, wps WPs (one with a live
// lease, one whose leases were all released), dependencies, references,
// an event chain per entity, an audit chain per feature long enough to
// take two pages, and every third event still pending.
func fill(t *testing.T, s *memStore, wps int) {
	t.Helper()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seqs := map[string]int64{}
	heads := map[string]string{}
	event := func(kind, id, project, feature string) {
		seqs[id]++
		e := &agileplus.Event{ID: fmt.Sprintf("evt_%06d", len(s.events)+1), Type: kind + ".created", EntityKind: kind, EntityID: id,
			ProjectKey: project, FeatureID: feature, Seq: seqs[id], PrevHash: heads[id], Time: at, Actor: "test", Data: []byte(`{}`)}
		e.Hash = e.ComputeHash()
		heads[id] = e.Hash
		e.GlobalSeq = int64(len(s.events) + 1)
		s.events = append(s.events, e)
		if len(s.events)%3 == 0 {
			s.pending[e.ID] = true
		}
	}
	audit := func(feature, entity string) {
		seqs["audit "+feature]++
		a := &agileplus.AuditEntry{FeatureID: feature, Seq: seqs["audit "+feature], EventID: "evt", EventType: "wp.created", EntityID: entity,
			Time: at, Actor: "test", Summary: "created", PrevHash: heads["audit "+feature]}
		a.Hash = a.ComputeHash()
		heads["audit "+feature] = a.Hash
		s.audit = append(s.audit, a)
	}
	for i, key := range []string{"CORE", "WEB"} {
		p := &agileplus.Project{ID: fmt.Sprintf("prj_%d", i), Key: key, Name: key, Version: 1, CreatedAt: at, UpdatedAt: at}
		s.projects = append(s.projects, p)
		event(agileplus.KindProject, p.ID, key, "")
	}
	for i, name := range []string{"db", "go"} {
		l := &agileplus.LabelDef{ID: fmt.Sprintf("lbl_%d", i), ProjectID: "prj_0", ProjectKey: "CORE", Name: name, Version: 1, CreatedAt: at, UpdatedAt: at}
		if i == 1 {
			l.Color, l.Description = "#00add8", "Go code"
		}
		s.labels = append(s.labels, l)
		event(agileplus.KindLabel, l.ID, "CORE", "")
	}
	s.flags[""] = map[string]string{agileplus.FlagMaxClaimsPerAgent: "2"}
	s.flags["prj_1"] = map[string]string{agileplus.FlagRequireReview: "false", agileplus.FlagMaxDoingPerProject: "4"}
	event(agileplus.KindFlag, agileplus.FlagSetID(""), agileplus.SystemProject, "")
	event(agileplus.KindFlag, agileplus.FlagSetID("prj_1"), "WEB", "")
	// Keys: one with nothing but its hash and times to the nanosecond, one
	// with every field.
	exp, used, rev := at.Add(time.Hour+time.Nanosecond), at.Add(time.Minute+3), at.Add(2*time.Minute+5)
	for i, k := range []*agileplus.APIKey{
		{ID: "key_1", Prefix: "aaaaaaaa", Name: "ci", Scope: agileplus.ScopeRead, CreatedAt: at.Add(7), CreatedBy: "admin", Version: 1},
		{ID: "key_2", Prefix: "bbbbbbbb", Name: "deploy", Scope: agileplus.ScopeWrite, Projects: []string{"WEB", "CORE"}, CreatedAt: at, CreatedBy: "admin",
			ExpiresAt: &exp, LastUsedAt: &used, RevokedAt: &rev, Version: 2},
	} {
		k.Hash = fmt.Sprintf("%064d", i+1)
		s.keys = append(s.keys, k)
		event(agileplus.KindKey, k.ID, agileplus.SystemProject, "")
	}
	for i := range 3 {
		p := s.projects[i%2]
		f := &agileplus.Feature{ID: fmt.Sprintf("fea_%d", i), ProjectID: p.ID, ProjectKey: p.Key, Slug: fmt.Sprintf("f%d", i), Title: "F", State: "created",
			Priority: agileplus.Priorities[i], Version: 1, CreatedAt: at, UpdatedAt: at}
		if i == 1 {
			f.Labels = []string{"db", "go"}
		}
		s.features = append(s.features, f)
		event(agileplus.KindFeature, f.ID, p.Key, f.ID)
	}
	for i := range wps {
		f := s.features[i%3]
		w := &agileplus.WP{ID: fmt.Sprintf("wp_%06d", i), Key: fmt.Sprintf("%s-%d", f.ProjectKey, i+1), ProjectID: f.ProjectID, ProjectKey: f.ProjectKey,
			FeatureID: f.ID, Title: "W", State: agileplus.WPPlanned, Priority: agileplus.Priorities[i%4], Version: 1, CreatedAt: at, UpdatedAt: at}
		if i%5 == 0 {
			w.Labels, w.Owner = []string{"go"}, "ann"
		}
		switch i {
		case 0: // released three times: the counter is above any lease
			s.fences[w.ID] = 3
		case 1:
			w.Lease = &agileplus.Lease{WPID: w.ID, Agent: "a", Token: 2, ClaimedAt: at, ExpiresAt: at.Add(time.Hour)}
			s.fences[w.ID] = 2
		}
		s.wps = append(s.wps, w)
		event(agileplus.KindWP, w.ID, f.ProjectKey, f.ID)
		event(agileplus.KindWP, w.ID, f.ProjectKey, f.ID)
		audit(f.ID, w.ID)
		if i > 0 && i%2 == 0 {
			d := &agileplus.Dependency{ID: fmt.Sprintf("dep_%06d", i), EntityKind: agileplus.KindWP, Kind: agileplus.DependsOn,
				From: w.ID, To: s.wps[i-1].ID, FromKey: w.Key, ToKey: s.wps[i-1].Key, Version: 1, CreatedAt: at}
			s.deps = append(s.deps, d)
			event(agileplus.KindDependency, d.ID, f.ProjectKey, f.ID)
		}
	}
	s.refs = append(s.refs, &agileplus.Reference{ID: "ref_1", WPID: s.wps[0].ID, Kind: "commit", Repo: "github.com/acme/api", SHA: "0123456789abcdef", CreatedAt: at, UpdatedAt: at})
	w := s.wps[0]
	s.comments = append(s.comments, &agileplus.Comment{ID: "cmt_1", EntityKind: agileplus.KindWP, EntityID: w.ID, EntityKey: w.Key, ProjectKey: w.ProjectKey,
		FeatureID: w.FeatureID, Author: "ana", Body: "edited", History: []agileplus.CommentRevision{{Body: "first", ReplacedAt: at}}, Version: 2, CreatedAt: at, UpdatedAt: at})
	// Archived records keep their archived_at (the digest covers it).
	s.wps[len(s.wps)-1].ArchivedAt, s.projects[len(s.projects)-1].ArchivedAt = &at, &at
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		srcBulk    bool // the source reads fencing counters in bulk
		dstBulk    bool // the target writes in bulk
		wantCalls  map[string]int
		wantRaised bool
	}{
		{"record by record", false, false, map[string]int{
			"InsertProject": 2, "InsertFeature": 3, "InsertWP": 2500, "RaiseFence": 1, "InsertDependency": 1249,
			"PutReference": 1, "InsertComment": 1, "InsertAPIKey": 2, "InsertLabelDef": 2, "PutFlagValues": 2, "AppendEvent": 6260, "AppendAudit": 2500}, true},
		{"in bulk", true, true, map[string]int{
			// a call per kind and page of bulkChunk; features and WPs page per project
			"InsertProjects": 1, "InsertFeatures": 2, "InsertWPs": 2, "InsertDependencies": 1,
			"PutReferences": 1, "InsertComment": 1, "InsertAPIKey": 2, "InsertLabelDef": 2, "PutFlagValues": 2, "AppendEvents": 2, "AppendAudits": 3}, false},
		{"bulk source, per-record target", true, false, nil, true},
		{"per-record source, bulk target", false, true, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := newMemStore(tc.srcBulk), newMemStore(tc.dstBulk)
			fill(t, src, 2500)
			var stages []string
			rep, err := Run(ctx, src, dst, func(stage string, done, total int) {
				if len(stages) == 0 || stages[len(stages)-1] != stage {
					stages = append(stages, stage)
				}
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := Report{Projects: 2, Features: 3, WPs: 2500, Dependencies: 1249, References: 1, Comments: 1, Keys: 2, Labels: 2, Flags: 3, Events: 6260, AuditEntries: 2500,
				Pending: 6260 / 3, EventChains: 2 + 3 + 2500 + 1249 + 2 + 2 + 2, AuditChains: 3, Digest: rep.Digest}
			if *rep != want {
				t.Errorf("got report %+v, want %+v", *rep, want)
			}
			d, _, _, err := Verify(ctx, src)
			if err != nil || d != rep.Digest {
				t.Errorf("source digest %s, %v; want %s", d, err, rep.Digest)
			}
			if got, want := nonzero(dst.fences), nonzero(src.fences); !maps.Equal(got, want) {
				t.Errorf("got fencing counters %v, want %v", got, want)
			}
			if got := dst.reserved; got["prj_0"] != 2500 || got["prj_1"] != 2498 {
				t.Errorf("got reserved WP numbers %v, want prj_0 2500, prj_1 2498", got)
			}
			if tc.wantCalls != nil && !maps.Equal(dst.calls, tc.wantCalls) {
				t.Errorf("got write calls %v, want %v", dst.calls, tc.wantCalls)
			}
			if raised := dst.calls["RaiseFence"] > 0; raised != tc.wantRaised {
				t.Errorf("RaiseFence called: %v, want %v", raised, tc.wantRaised)
			}
			wantStages := "verifying the source,projects,labels,flags,features,work packages,dependencies,references,comments,api keys,events,audit entries,published marks,verifying the target"
			if got := strings.Join(stages, ","); got != wantStages {
				t.Errorf("got stages %s, want %s", got, wantStages)
			}
		})
	}
}

// nonzero returns the fencing counters above 0.
func nonzero(fences map[string]int64) map[string]int64 {
	out := maps.Clone(fences)
	maps.DeleteFunc(out, func(_ string, f int64) bool { return f == 0 })
	return out
}

func TestRunRefusesNonEmptyTarget(t *testing.T) {
	src, dst := newMemStore(false), newMemStore(false)
	fill(t, src, 3)
	fill(t, dst, 1)
	_, err := Run(context.Background(), src, dst, nil)
	if agileplus.ErrorCode(err) != agileplus.ECONFLICT || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("got %v, want ECONFLICT: the target store is not empty", err)
	}
	if len(dst.calls) != 0 {
		t.Errorf("wrote to the target: %v", dst.calls)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	base := newMemStore(false)
	fill(t, base, 10)
	want, ec, ac, err := Verify(ctx, base)
	if err != nil || ec != 2+2+3+10+4+2+2 || ac != 3 {
		t.Fatalf("Verify: %d event chains, %d audit chains, %v; want 25, 3", ec, ac, err)
	}
	t.Run("with a FenceReader", func(t *testing.T) {
		s := newMemStore(true)
		fill(t, s, 10)
		if got, _, _, err := Verify(ctx, s); err != nil || got != want {
			t.Errorf("got digest %s, %v; want %s", got, err, want)
		}
	})
	for _, tc := range []struct {
		name   string
		change func(s *memStore)
		broken string // "" when the chains still verify but the digest differs
	}{
		{"a project renamed", func(s *memStore) { s.projects[1].Name = "Web" }, ""},
		{"a label's colour", func(s *memStore) { s.labels[1].Color = "#000000" }, ""},
		{"a flag's value", func(s *memStore) { s.flags["prj_1"][agileplus.FlagMaxDoingPerProject] = "5" }, ""},
		{"a flag unset", func(s *memStore) { delete(s.flags[""], agileplus.FlagMaxClaimsPerAgent) }, ""},
		{"a WP's priority", func(s *memStore) { s.wps[3].Priority = agileplus.PriorityUrgent }, ""},
		{"a WP's labels", func(s *memStore) { s.wps[3].Labels = []string{"db"} }, ""},
		{"a WP's owner", func(s *memStore) { s.wps[3].Owner = "bob" }, ""},
		{"a feature's labels", func(s *memStore) { s.features[0].Labels = []string{"x"} }, ""},
		{"a WP's fencing counter", func(s *memStore) { s.fences[s.wps[4].ID]++ }, ""},
		{"a key's hash", func(s *memStore) { s.keys[0].Hash = strings.Repeat("f", 64) }, ""},
		{"a key's last use", func(s *memStore) { t := s.keys[1].LastUsedAt.Add(1); s.keys[1].LastUsedAt = &t }, ""},
		{"a key's version", func(s *memStore) { s.keys[0].Version++ }, ""},
		{"an event published", func(s *memStore) { delete(s.pending, s.events[2].ID) }, ""},
		{"an event missing", func(s *memStore) {
			n := len(s.events) // the last two are the last WP's
			s.events = append(s.events[:n-2:n-2], s.events[n-1])
		}, "has seq 2, want 1"},
		{"an event's data", func(s *memStore) { s.events[5].Data = []byte(`{"x":1}`) }, "hash mismatch"},
		{"an event's prev_hash", func(s *memStore) {
			e := s.events[len(s.events)-1]
			e.PrevHash = strings.Repeat("0", 64)
			e.Hash = e.ComputeHash()
		}, "prev_hash does not match"},
		{"an audit entry's summary", func(s *memStore) { s.audit[4].Summary = "moved" }, "audit chain of feature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemStore(false)
			fill(t, s, 10)
			tc.change(s)
			got, _, _, err := Verify(ctx, s)
			switch {
			case tc.broken == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.broken == "" && got == want:
				t.Errorf("the digest did not change")
			case tc.broken != "" && (agileplus.ErrorCode(err) != agileplus.ECONFLICT || !strings.Contains(err.Error(), tc.broken)):
				t.Errorf("got %v, want ECONFLICT about %q", err, tc.broken)
			}
		})
	}
}

func TestWriteAll(t *testing.T) {
	ctx := context.Background()
	ps := []*agileplus.Project{{ID: "prj_1"}, {ID: "prj_2"}, {ID: "prj_3"}}
	for _, tc := range []struct {
		bulk bool
		want map[string]int
	}{
		{false, map[string]int{"InsertProject": 3}},
		{true, map[string]int{"InsertProjects": 1}},
	} {
		s := newMemStore(tc.bulk)
		err := s.Update(ctx, func(tx agileplus.Tx) error {
			return writeAll(ctx, tx, ps, agileplus.BulkTx.InsertProjects, agileplus.Tx.InsertProject)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(s.calls, tc.want) || len(s.projects) != 3 {
			t.Errorf("bulk %v: got calls %v and %d projects, want %v and 3", tc.bulk, s.calls, len(s.projects), tc.want)
		}
	}
}

// TestKeysCopyOnce: copying the keys again writes nothing; a target key
// with other content is a conflict.
func TestKeysCopyOnce(t *testing.T) {
	ctx := context.Background()
	src, dst := newMemStore(false), newMemStore(false)
	fill(t, src, 3)
	m := &migration{ctx: ctx, src: src, dst: dst, rep: &Report{}, progress: func(string, int, int) {}, chunk: 1}
	for range 2 {
		if err := m.keys(); err != nil {
			t.Fatal(err)
		}
	}
	if dst.calls["InsertAPIKey"] != 2 || len(dst.keys) != 2 {
		t.Errorf("got %d inserts, %d keys; want 2, 2", dst.calls["InsertAPIKey"], len(dst.keys))
	}
	for i, k := range dst.keys {
		if keyRecord(k) != keyRecord(src.keys[i]) {
			t.Errorf("key %d: got %s, want %s", i, keyRecord(k), keyRecord(src.keys[i]))
		}
	}
	dst.keys[1].Hash = strings.Repeat("e", 64)
	if err := m.keys(); agileplus.ErrorCode(err) != agileplus.ECONFLICT || !strings.Contains(err.Error(), "key_2") {
		t.Errorf("got %v, want ECONFLICT naming key_2", err)
	}
}

func TestRunRefusesTargetWithKeys(t *testing.T) {
	src, dst := newMemStore(false), newMemStore(false)
	fill(t, src, 3)
	dst.keys = append(dst.keys, &agileplus.APIKey{ID: "key_9", Prefix: "zzzzzzzz"})
	if _, err := Run(context.Background(), src, dst, nil); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
		t.Fatalf("got %v, want ECONFLICT: the target store is not empty", err)
	}
}

// A source with artifacts is refused before anything is written: their
// metadata is not copied yet.
func TestRunRefusesArtifacts(t *testing.T) {
	ctx := context.Background()
	src, dst := newMemStore(false), newMemStore(false)
	fill(t, src, 4)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &agileplus.Event{ID: "evt_art", Type: "artifact.added", EntityKind: agileplus.KindArtifact, EntityID: "art_1",
		ProjectKey: src.wps[0].ProjectKey, FeatureID: src.wps[0].FeatureID, Seq: 1, Time: at, Actor: "test", Data: []byte(`{}`)}
	e.Hash = e.ComputeHash()
	e.GlobalSeq = int64(len(src.events) + 1)
	src.events = append(src.events, e)
	_, err := Run(ctx, src, dst, nil)
	if err == nil || !strings.Contains(err.Error(), "artifacts") {
		t.Fatalf("err = %v, want a refusal naming artifacts", err)
	}
	if len(dst.projects) != 0 || len(dst.events) != 0 {
		t.Errorf("the target holds %d projects and %d events after the refusal", len(dst.projects), len(dst.events))
	}
}
