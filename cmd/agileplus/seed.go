package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newSeedCmd(e *env) *cobra.Command {
	var sample, once bool
	cmd := &cobra.Command{
		Use:   "seed --sample-data [--once]",
		Short: "Load sample projects, features and work packages into the server",
		Long: `Load a realistic sample into the server, through the same API as every
other command: three projects (CORE, WEB, MOB), features in several states,
about sixty work packages in every state, dependencies within and across
projects, and a few live claims. Projects, features, work packages and
dependencies go in as one import of a built-in file in the form import
reads; features and work packages then move to their states one step at a
time, and the claims are taken, so the history reads as a team's would. It
refuses to run if any of the sample's projects already exists; with --once
a server that holds all of them is left as it is (the sample was loaded
before), which is what a stack's start-up step wants.`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !sample {
				return usagef(cmd, "pass --sample-data to load the sample data set")
			}
			data := sampleData()
			if once {
				loaded, err := sampleLoaded(cmd.Context(), e.tracker(), data)
				if err != nil {
					return err
				}
				if loaded != nil {
					if e.asJSON {
						return printJSON(e.stdout, map[string]any{"already_loaded": true, "projects": loaded})
					}
					_, err := fmt.Fprintf(e.stdout, "the sample is already loaded (projects %s exist); nothing to do\n", strings.Join(loaded, ", "))
					return err
				}
			}
			sum, err := seedSample(cmd.Context(), e.tracker(), data)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, sum)
			}
			return sum.print(e)
		},
	}
	cmd.Flags().BoolVar(&sample, "sample-data", false, "load the built-in sample data set")
	cmd.Flags().BoolVar(&once, "once", false, "do nothing, successfully, when every project of the sample already exists")
	return cmd
}

// sampleLoaded returns the sample's project keys when every one of them
// exists, nil when none or only some do (seedSample then refuses the
// latter, naming the first).
func sampleLoaded(ctx context.Context, t agileplus.Tracker, data sample) ([]string, error) {
	var keys []string
	for _, r := range data.records {
		if r.Type != agileplus.RecProject {
			continue
		}
		keys = append(keys, r.Key)
		if _, err := t.Project(ctx, r.Key); agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("seed: check project %s: %w", r.Key, err)
		}
	}
	return keys, nil
}

// sampleFile is the built-in sample in the form import reads: every
// project, feature, work package and dependency as it stands now.
//
//go:embed sampledata.jsonl
var sampleFile string

// sample is a data set for seed: records to import, and what the import
// form cannot hold, which seed then applies one command at a time.
type sample struct {
	// records are at their final states; the import creates features
	// created and WPs planned, and seed moves them on from there.
	records []agileplus.Record
	// skips are, by feature slug, a state the feature skips on its way
	// and the reason recorded with the skip.
	skips map[string]sampleSkip
	// blocked is the reason recorded with the move to blocked, by WP key.
	blocked map[string]string
	// bounced WPs go back from review to doing once on their way to done.
	bounced []string
	claims  []sampleClaim
}

type sampleSkip struct {
	state, reason string
}

type sampleClaim struct {
	wp, agent string
	ttl       time.Duration
}

// seedSummary is what seed reports.
type seedSummary struct {
	Projects     []string           `json:"projects"`
	Features     int                `json:"features"`
	WPs          int                `json:"wps"`
	WPStates     map[string]int     `json:"wp_states"`
	Dependencies int                `json:"dependencies"`
	Claims       []*agileplus.Lease `json:"claims"`
}

func (s *seedSummary) print(e *env) error {
	var states []string
	for _, st := range agileplus.WPStates {
		states = append(states, fmt.Sprintf("%d %s", s.WPStates[st], st))
	}
	_, err := fmt.Fprintf(e.stdout, "loaded the sample: projects %s, %d features, %d work packages (%s), %d dependencies, %d live claims\n",
		strings.Join(s.Projects, ", "), s.Features, s.WPs, strings.Join(states, ", "), s.Dependencies, len(s.Claims))
	if err == nil {
		_, err = fmt.Fprintf(e.stdout, "try: agileplus ready %s\n", s.Projects[0])
	}
	return err
}

// seedSample loads data through t. It refuses to touch a server that holds
// any of the sample's projects, so it never mixes with an earlier run.
func seedSample(ctx context.Context, t agileplus.Tracker, data sample) (*seedSummary, error) {
	order, err := data.startOrder()
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, r := range data.records {
		if r.Type == agileplus.RecProject {
			keys = append(keys, r.Key)
		}
	}
	for _, k := range keys {
		if _, err := t.Project(ctx, k); err == nil {
			return nil, fmt.Errorf("project %s exists (is the sample already loaded?): seed loads the sample's projects %s into a server that has none of them; run it against a fresh --data directory", k, strings.Join(keys, ", "))
		} else if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			return nil, fmt.Errorf("seed: check project %s: %w", k, err)
		}
	}
	for _, r := range data.records {
		if r.Type != agileplus.RecFeature {
			continue
		}
		if got, err := t.Feature(ctx, r.Slug); err == nil {
			return nil, fmt.Errorf("seed: the sample's feature slug %s is taken by project %s; slugs are unique across projects", r.Slug, got.ProjectKey)
		} else if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			return nil, fmt.Errorf("seed: check feature %s: %w", r.Slug, err)
		}
	}

	file, err := data.importFile()
	if err != nil {
		return nil, err
	}
	// The import is one transaction: one that fails wrote nothing, so
	// seed did not stop part way.
	res, err := t.BulkImport(ctx, file, agileplus.ImportOptions{})
	if err != nil {
		return nil, fmt.Errorf("seed: import the sample: %w", err)
	}
	sum := &seedSummary{Projects: keys, Features: res.Created[agileplus.RecFeature], WPs: res.Created[agileplus.RecWP],
		WPStates: map[string]int{}, Dependencies: res.Created[agileplus.RecDependency], Claims: []*agileplus.Lease{}}
	if err := playSample(ctx, t, data, order, sum); err != nil {
		// The moves and claims go one by one, each recorded in the event
		// history, so the import and what came before the failure stay.
		return nil, fmt.Errorf("%w; seed stopped part way and what it loaded of projects %s stays: load the sample into a fresh --data directory", err, strings.Join(keys, ", "))
	}
	return sum, nil
}

// importFile is the sample's records as they stood before any work:
// features created, WPs planned.
func (d sample) importFile() (io.Reader, error) {
	recs := slices.Clone(d.records)
	for i := range recs {
		switch recs[i].Type {
		case agileplus.RecFeature:
			recs[i].State = agileplus.FeatureCreated
		case agileplus.RecWP:
			recs[i].State = agileplus.WPPlanned
		}
	}
	var b bytes.Buffer
	if err := agileplus.WriteRecords(&b, recs); err != nil {
		return nil, fmt.Errorf("seed: write the sample: %w", err)
	}
	return &b, nil
}

// playSample moves the imported features and WPs, in order, to their
// states in the file and takes the claims, through t, so that their
// history reads as a team's would.
func playSample(ctx context.Context, t agileplus.Tracker, data sample, order []string, sum *seedSummary) error {
	wps := map[string]agileplus.Record{}
	for _, r := range data.records {
		switch r.Type {
		case agileplus.RecFeature:
			for _, tr := range data.featurePath(r) {
				if _, err := t.TransitionFeature(ctx, r.Slug, tr, 0); err != nil {
					return fmt.Errorf("seed: move feature %s to %s: %w", r.Slug, tr.To, err)
				}
			}
		case agileplus.RecWP:
			wps[r.Key] = r
		}
	}

	for _, k := range order {
		w := wps[k]
		for _, to := range data.wpSteps(w) {
			tr := agileplus.Transition{To: to}
			if to == agileplus.WPBlocked {
				tr.Reason = data.blocked[k]
			}
			if _, err := t.TransitionWP(ctx, k, tr, 0); err != nil {
				return fmt.Errorf("seed: move %s (%s) to %s: %w", k, w.Title, to, err)
			}
		}
		sum.WPStates[w.State]++
	}

	for _, c := range data.claims {
		l, err := t.Claim(ctx, c.wp, agileplus.ClaimRequest{Agent: c.agent, TTLSeconds: int64(c.ttl / time.Second)})
		if err != nil {
			return fmt.Errorf("seed: claim %s for %s: %w", c.wp, c.agent, err)
		}
		sum.Claims = append(sum.Claims, l)
	}
	return nil
}

// featurePath is the moves that take a feature from created to its state,
// past the state it skips, if any, with the reason for the skip.
func (d sample) featurePath(f agileplus.Record) []agileplus.Transition {
	skip := d.skips[f.Slug]
	var path []agileplus.Transition
	reason := ""
	for _, st := range agileplus.FeatureStates[1 : slices.Index(agileplus.FeatureStates, f.State)+1] {
		if st == skip.state {
			reason = skip.reason
			continue
		}
		path = append(path, agileplus.Transition{To: st, Reason: reason})
		reason = ""
	}
	return path
}

// wpSteps are the legal transitions from planned to the WP's state.
func (d sample) wpSteps(w agileplus.Record) []string {
	switch w.State {
	case agileplus.WPDoing:
		return []string{agileplus.WPDoing}
	case agileplus.WPReview:
		return []string{agileplus.WPDoing, agileplus.WPReview}
	case agileplus.WPDone:
		if slices.Contains(d.bounced, w.Key) {
			return []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone}
		}
		return []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone}
	case agileplus.WPBlocked:
		return []string{agileplus.WPBlocked}
	}
	return nil
}

func starts(w agileplus.Record) bool {
	return w.State != agileplus.WPPlanned && w.State != agileplus.WPBlocked
}

// startOrder checks the sample and returns the WP keys in an order in
// which every WP that starts finds what it depends on already done: the
// sample never needs --force.
func (d sample) startOrder() ([]string, error) {
	features := map[string]agileplus.Record{}
	wps := map[string]agileplus.Record{}
	var keys []string
	for _, r := range d.records {
		switch r.Type {
		case agileplus.RecFeature:
			if !slices.Contains(agileplus.FeatureStates, r.State) {
				return nil, fmt.Errorf("seed: sample feature %s has the state %q", r.Slug, r.State)
			}
			features[r.Slug] = r
		case agileplus.RecWP:
			if _, dup := wps[r.Key]; dup {
				return nil, fmt.Errorf("seed: sample has two work packages %s", r.Key)
			}
			wps[r.Key] = r
			keys = append(keys, r.Key)
		}
	}
	waitsOn := map[string][]string{}
	for _, dep := range d.records {
		if dep.Type != agileplus.RecDependency {
			continue
		}
		from, to := dep.From, dep.To
		_, fromWP := wps[from]
		_, toWP := wps[to]
		if fromWP != toWP {
			return nil, fmt.Errorf("seed: sample dependency %s -> %s joins a work package and a feature", dep.From, dep.To)
		}
		if !fromWP || dep.Kind == agileplus.RelatesTo {
			continue
		}
		if starts(wps[from]) && wps[to].State != agileplus.WPDone {
			return nil, fmt.Errorf("seed: sample work package %s starts but depends on %s, which is not done", from, to)
		}
		waitsOn[from] = append(waitsOn[from], to)
	}
	// Depth-first: a WP comes after everything it waits on.
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(k string) error
	visit = func(k string) error {
		switch state[k] {
		case 1:
			return fmt.Errorf("seed: sample dependencies form a cycle through %s", k)
		case 2:
			return nil
		}
		state[k] = 1
		for _, to := range waitsOn[k] {
			if err := visit(to); err != nil {
				return err
			}
		}
		state[k] = 2
		order = append(order, k)
		return nil
	}
	for _, k := range keys {
		if err := visit(k); err != nil {
			return nil, err
		}
	}
	if !slices.Equal(sortedCopy(order), sortedCopy(keys)) {
		return nil, fmt.Errorf("seed: sample start order lost work packages")
	}
	return order, d.checkHistory(features, wps)
}

// checkHistory checks that what the sample applies after the import names
// features and WPs of the file, in states it can apply to.
func (d sample) checkHistory(features, wps map[string]agileplus.Record) error {
	for slug, skip := range d.skips {
		f, ok := features[slug]
		i := slices.Index(agileplus.FeatureStates, skip.state)
		if !ok || i <= 0 || i >= slices.Index(agileplus.FeatureStates, f.State) {
			return fmt.Errorf("seed: sample skip of %s by %q: no such feature past that state", skip.state, slug)
		}
	}
	for k := range d.blocked {
		if wps[k].State != agileplus.WPBlocked {
			return fmt.Errorf("seed: sample reason for blocking %s: no such blocked work package", k)
		}
	}
	for _, k := range d.bounced {
		if wps[k].State != agileplus.WPDone {
			return fmt.Errorf("seed: sample bounce of %s: no such done work package", k)
		}
	}
	for _, c := range d.claims {
		if w, ok := wps[c.wp]; !ok || w.State == agileplus.WPDone {
			return fmt.Errorf("seed: sample claim of %q: no such open work package", c.wp)
		}
	}
	return nil
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// sampleData is the built-in sample: a small company's platform, web and
// mobile teams in the middle of a quarter.
func sampleData() sample {
	recs, probs, err := agileplus.ParseRecords(strings.NewReader(sampleFile))
	if err == nil && len(probs) > 0 {
		err = &agileplus.ImportError{Problems: probs}
	}
	if err != nil {
		// The file is built in, and the seed tests read it.
		panic("seed: sampledata.jsonl: " + err.Error())
	}
	return sample{
		records: recs,
		skips: map[string]sampleSkip{
			"event-pipeline":     {agileplus.FeatureResearched, "reuses the design from last year's ingestion spike; no new research needed"},
			"dark-mode":          {agileplus.FeatureResearched, "design system already has dark tokens drafted"},
			"push-notifications": {agileplus.FeatureResearched, "FCM and APNs are well understood; research skipped"},
		},
		blocked: map[string]string{
			"CORE-7": "waiting on the security team's log retention decision",
			"WEB-9":  "needs final copy from design",
			"MOB-6":  "iOS background task entitlement pending Apple review",
			"MOB-13": "waiting on a product decision about default quiet hours",
		},
		bounced: []string{"CORE-2", "WEB-18"},
		claims: []sampleClaim{
			{wp: "CORE-5", agent: "claude-code", ttl: 2 * time.Hour},
			{wp: "MOB-3", agent: "priya", ttl: 4 * time.Hour},
			{wp: "WEB-3", agent: "codex-agent", ttl: 45 * time.Minute},
		},
	}
}
