package agileplus

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Next: one call that answers "what should I work on now" and, with Claim,
// takes the lease in the same store command, so two agents asking at once
// never get the same WP.

// NextRequest asks for the best WP to start now.
type NextRequest struct {
	// Project narrows the choice to one project (id or key); empty means
	// every project the caller may use.
	Project string `json:"project,omitempty" doc:"project id or key; empty: every project"`
	// Feature narrows it to one feature (id or slug).
	Feature string `json:"feature,omitempty" doc:"only WPs of this feature (id or slug)"`
	// Owner keeps the WPs this person or agent owns.
	Owner string `json:"owner,omitempty" doc:"only WPs this person or agent owns"`
	// Labels keeps the WPs with all of them (LabelsMode "all" or empty)
	// or with any of them (LabelsMode "any"): an agent's skills.
	Labels     []string `json:"labels,omitempty" doc:"only WPs with these labels"`
	LabelsMode string   `json:"labels_mode,omitempty" doc:"all (the default) or any"`
	// Claim takes the chosen WP's lease for Agent in the same command.
	Claim      bool   `json:"claim,omitempty" doc:"take the WP's lease in the same command"`
	Agent      string `json:"agent,omitempty" doc:"who claims; required with claim"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty" doc:"lease length with claim, default 900"`
}

// The shapes of the refs Next takes: an id, or a key or slug.
var (
	projectRefRE = regexp.MustCompile(`^(prj_[0-9a-hjkmnp-tv-z]{26}|[A-Z][A-Z0-9]{1,15})$`)
	featureRefRE = regexp.MustCompile(`^(fea_[0-9a-hjkmnp-tv-z]{26}|[a-z0-9]+(-[a-z0-9]+)*)$`)
)

// Validate checks a NextRequest; it trims the owner and normalizes the
// labels (NormalizeLabels).
func (q *NextRequest) Validate() error {
	if q.Project != "" && !projectRefRE.MatchString(q.Project) {
		return FieldErrorf("project", "project %s is not a project id or key such as CORE", QuoteRef(q.Project))
	}
	if q.Feature != "" && (len(q.Feature) > 64 || !featureRefRE.MatchString(q.Feature)) {
		return FieldErrorf("feature", "feature %s is not a feature id or slug such as login-flow", QuoteRef(q.Feature))
	}
	if err := validateOwner("owner", q.Owner); err != nil {
		return err
	}
	q.Owner = strings.TrimSpace(q.Owner)
	if err := normalizeLabels("labels", &q.Labels); err != nil {
		return err
	}
	if q.LabelsMode != "" && q.LabelsMode != LabelsAll && q.LabelsMode != LabelsAny {
		return FieldErrorf("labels_mode", "labels_mode must be %s or %s, not %s", LabelsAll, LabelsAny, QuoteRef(q.LabelsMode))
	}
	if !q.Claim {
		if q.Agent != "" || q.TTLSeconds != 0 {
			field := "agent"
			if q.Agent == "" {
				field = "ttl_seconds"
			}
			return FieldErrorf(field, "%s only goes with claim", field)
		}
		return nil
	}
	c := ClaimRequest{Agent: q.Agent, TTLSeconds: q.TTLSeconds}
	return c.Validate(false)
}

// NextResult is the answer of Next: the chosen WP (nil when nothing is
// ready), its lease when claimed, and why it was chosen.
type NextResult struct {
	WP    *WP    `json:"wp,omitempty"`
	Lease *Lease `json:"lease,omitempty"`
	// Slack is the WP's slack in hours on its project's critical path
	// (0: on the path); Impact counts the open WPs that wait on it,
	// directly or not.
	Slack  float64 `json:"slack"`
	Impact int     `json:"impact"`
	// Ready counts the WPs that could start now, the chosen one included.
	Ready int `json:"ready"`
	// Message says why this WP, or why none.
	Message string `json:"message"`
}

// NextCandidate is a ready WP with the figures that rank it.
type NextCandidate struct {
	ID       string
	Key      string
	Priority string
	// Slack is in hours; +Inf when unknown (a WP the graph does not
	// schedule yet).
	Slack float64
	// Impact is the number of open WPs that wait on it, transitively;
	// it is filled in only for the candidates it decides between.
	Impact int
}

// CompareNext is the order of Next, best first; it returns a negative
// number when a comes before b. The order is:
//
//  1. priority: urgent, high, normal, low
//  2. least slack on the project's critical path (0 is on the path)
//  3. most work unblocked: more open WPs waiting on it, transitively
//  4. key order: project key, then key number
//
// Every candidate is ready and unclaimed: that is what makes it one.
func CompareNext(a, b NextCandidate) int {
	return cmp.Or(compareNextRank(a, b), cmp.Compare(b.Impact, a.Impact), compareWPKeys(a.Key, b.Key))
}

// compareNextRank compares what comes before impact in CompareNext. Impact
// costs a graph walk per WP, so Next counts it only for the candidates
// that tie on this.
func compareNextRank(a, b NextCandidate) int {
	return cmp.Or(cmp.Compare(rankOf(a.Priority), rankOf(b.Priority)), cmp.Compare(a.Slack, b.Slack))
}

// rankOf is a priority's rank, the default's for none.
func rankOf(p string) int {
	if r := PriorityRank(p); r >= 0 {
		return r
	}
	return PriorityRank(DefaultPriority)
}

// Next returns the best WP to start now (see CompareNext) among the ready
// ones of the project, or of every project the caller may use. With
// Claim, the choice and the lease are one store command: the candidates
// are read in the same write transaction that takes the lease. Nothing
// ready is no error: the answer has no WP and says why.
func (s *Service) Next(ctx context.Context, q NextRequest) (res *NextResult, err error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var tookOver bool // the claim took over an expired lease
	// wtx is the write transaction with Claim, nil without.
	body := func(tx ReadTx, wtx Tx) error {
		now := s.now()
		c, w, scope, ready, err := s.chooseNext(ctx, tx, q, now)
		if err != nil {
			return err
		}
		res = &NextResult{Ready: ready}
		if w == nil {
			every := "every open WP"
			if q.filterText() != "" {
				every += " of those"
			}
			res.Message = fmt.Sprintf("nothing is ready in %s: %s is claimed, not planned, or waits on open dependencies; graph layers shows what waits on what", scope, every)
			return nil
		}
		res.WP, res.Slack, res.Impact = w, c.Slack, c.Impact
		if math.IsInf(c.Slack, 1) {
			res.Slack = 0
		}
		res.Message = nextReason(c, ready)
		if q.Claim {
			tookOver = w.Lease != nil
			res.Lease, err = s.lease(ctx, wtx, w, ClaimRequest{Agent: q.Agent, TTLSeconds: q.TTLSeconds}, now)
			if err != nil {
				return err
			}
			res.Message = fmt.Sprintf("claimed %s for %s (token %d); %s", w.Key, q.Agent, res.Lease.Token, res.Message)
		}
		return nil
	}
	if q.Claim {
		err = s.update(ctx, func(tx Tx) error { return body(tx, tx) })
	} else {
		err = s.view(ctx, func(tx ReadTx) error { return body(tx, nil) })
	}
	if err != nil {
		return nil, err
	}
	if res.WP != nil && res.Lease == nil {
		res.WP.Lease = nil
	}
	if res.Lease != nil && s.OnClaim != nil {
		s.OnClaim(tookOver)
	}
	return res, nil
}

func nextReason(c NextCandidate, ready int) string {
	var why string
	switch {
	case math.IsInf(c.Slack, 1):
		why = "not scheduled yet"
	case c.Slack == 0:
		why = "on the critical path"
	default:
		why = "slack " + hours(c.Slack)
	}
	return fmt.Sprintf("%s is the best of %d ready: %s priority, %s, unblocks %d open WPs", c.Key, ready, cmp.Or(c.Priority, DefaultPriority), why, c.Impact)
}

func hours(h float64) string { return fmt.Sprintf("%gh", h) }

// chooseNext reads the ready WPs in tx and picks the best. scope names
// where it looked, for the message when nothing is ready.
func (s *Service) chooseNext(ctx context.Context, tx ReadTx, q NextRequest, now time.Time) (best NextCandidate, w *WP, scope string, ready int, err error) {
	lim := limited(ctx)
	var projects []*Project
	var f *Feature
	featureID := ""
	if q.Feature != "" {
		if f, err = tx.Feature(ctx, q.Feature); err != nil {
			return best, nil, "", 0, refNotFound(err, "feature", q.Feature, "feature")
		}
		if err := allow(lim, "feature", f.ProjectKey); err != nil {
			return best, nil, "", 0, err
		}
		featureID, scope = f.ID, "feature "+f.Slug
		if q.Project == "" {
			q.Project = f.ProjectID
		}
	}
	switch {
	case q.Project != "":
		p, err := tx.Project(ctx, q.Project)
		if err != nil {
			return best, nil, "", 0, refNotFound(err, "project", q.Project, "project")
		}
		if err := allow(lim, "project", p.Key); err != nil {
			return best, nil, "", 0, err
		}
		if q.Feature != "" && p.ID != f.ProjectID {
			return best, nil, "", 0, FieldErrorf("feature", "feature %s is not in project %s", q.Feature, p.Key)
		}
		projects = []*Project{p}
		if scope == "" {
			scope = "project " + p.Key
		}
	case lim != nil:
		if projects, err = allowedProjects(ctx, tx, lim); err != nil {
			return best, nil, "", 0, err
		}
		scope = "projects " + strings.Join(lim.Projects, ", ")
	default:
		if projects, err = allProjects(ctx, tx); err != nil {
			return best, nil, "", 0, err
		}
		scope = "any project"
	}
	if q.Project == "" {
		// Across projects, an archived one is out, as in the ready set.
		projects = slices.DeleteFunc(projects, func(p *Project) bool { return p.ArchivedAt != nil })
	}

	var cands []*WP
	for _, p := range projects {
		for after := int64(0); ; {
			page, err := tx.Ready(ctx, ReadyFilter{ProjectID: p.ID, Now: now, AfterNum: after, Limit: MaxPageLimit})
			if err != nil {
				return best, nil, "", 0, err
			}
			for _, w := range page {
				if q.matches(w, featureID) {
					cands = append(cands, w)
				}
			}
			if len(page) < MaxPageLimit {
				break
			}
			_, after, _ = splitWPKey(page[len(page)-1].Key)
		}
	}
	scope += q.filterText()
	if len(cands) == 0 {
		return best, nil, scope, 0, nil
	}
	i, best, err := s.rankNext(ctx, cands)
	if err != nil {
		return best, nil, "", 0, err
	}
	return best, cands[i], scope, len(cands), nil
}

// matches reports whether the ready WP w passes q's filters; featureID
// is q.Feature's id.
func (q *NextRequest) matches(w *WP, featureID string) bool {
	return (featureID == "" || w.FeatureID == featureID) &&
		(q.Owner == "" || w.Owner == q.Owner) &&
		HasLabels(w.Labels, q.Labels, q.LabelsMode == LabelsAny)
}

// filterText names q's owner and label filters for the message when
// nothing is ready.
func (q *NextRequest) filterText() string {
	var b strings.Builder
	if q.Owner != "" {
		b.WriteString(" owned by " + q.Owner)
	}
	if len(q.Labels) > 0 {
		join := " and "
		if q.LabelsMode == LabelsAny {
			join = " or "
		}
		b.WriteString(" labelled " + strings.Join(q.Labels, join))
	}
	return b.String()
}

func allProjects(ctx context.Context, tx ReadTx) ([]*Project, error) {
	var all []*Project
	pg := Page{Limit: MaxPageLimit}
	for {
		ps, err := tx.Projects(ctx, pg)
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
		if len(ps) < pg.Limit {
			return all, nil
		}
		pg.After = ps[len(ps)-1].ID
	}
}

// rankNext returns the index of the best of the ready WPs cands by
// CompareNext, with its figures. Slack comes from one critical path
// computation per project; impact is counted only for the candidates that
// tie for first place before it.
func (s *Service) rankNext(ctx context.Context, cands []*WP) (int, NextCandidate, error) {
	cs := make([]NextCandidate, len(cands))
	// at maps a candidate's id to its index: the schedule covers every
	// open WP of the project, and only the candidates' slack is kept.
	at := make(map[string]int, len(cands))
	for i, w := range cands {
		at[w.ID] = i
		cs[i] = NextCandidate{ID: w.ID, Key: w.Key, Priority: w.Priority, Slack: math.Inf(1)}
	}
	err := s.graph(ctx, func(g GraphIndex) error {
		scheduled := map[string]bool{}
		for _, w := range cands {
			if scheduled[w.ProjectID] {
				continue
			}
			scheduled[w.ProjectID] = true
			cp, err := g.CriticalPath(InProject(w.ProjectID), "", 0)
			if ErrorCode(err) == ERULE {
				// A cycle among imported WPs: no schedule, so no slack
				// tells the project's WPs apart.
				for i, o := range cands {
					if o.ProjectID == w.ProjectID {
						cs[i].Slack = 0
					}
				}
				continue
			} else if err != nil {
				return err
			}
			for _, r := range cp.WPs {
				if i, ok := at[r.ID]; ok {
					cs[i].Slack = r.Slack
				}
			}
		}
		first := cs[0]
		for _, c := range cs[1:] {
			if compareNextRank(c, first) < 0 {
				first = c
			}
		}
		for i := range cs {
			if compareNextRank(cs[i], first) != 0 {
				continue
			}
			im, err := g.Impact(cs[i].ID, 1)
			if err == nil {
				cs[i].Impact = im.Open
			} else if ErrorCode(err) != ENOTFOUND {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, NextCandidate{}, err
	}
	bi := 0
	for i := range cs {
		if CompareNext(cs[i], cs[bi]) < 0 {
			bi = i
		}
	}
	return bi, cs[bi], nil
}
