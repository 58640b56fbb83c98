package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newSeedCmd(e *env) *cobra.Command {
	var sample bool
	cmd := &cobra.Command{
		Use:   "seed --sample-data",
		Short: "Load sample projects, features and work packages into the server",
		Long: `Load a realistic sample into the server, through the same API as every
other command: three projects (CORE, WEB, MOB), features in several states,
about sixty work packages in every state, dependencies within and across
projects, and a few live claims. It refuses to run if any of the sample's
projects already exists.`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !sample {
				return usagef(cmd, "pass --sample-data to load the sample data set")
			}
			sum, err := seedSample(cmd.Context(), e.tracker(), sampleData())
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
	return cmd
}

// sample is a data set for seed. WPs and dependencies refer to WPs by
// handle, since keys are assigned by the server.
type sample struct {
	projects []sampleProject
	// deps are between WP handles or feature slugs.
	deps   []sampleDep
	claims []sampleClaim
}

type sampleProject struct {
	key, name string
	features  []sampleFeature
}

type sampleFeature struct {
	slug, title, description string
	// path is the sequence of states the feature moves through; a state
	// left out of it is skipped, and the skip recorded.
	path []sampleStep
	wps  []sampleWP
}

type sampleStep struct {
	to, reason string
}

type sampleWP struct {
	handle, title string
	estimate      float64
	// state is where the WP ends up; reason is recorded with the move to
	// blocked.
	state, reason string
	// bounce sends it back from review to doing once on its way to done.
	bounce bool
}

type sampleDep struct {
	from, to, kind string
}

type sampleClaim struct {
	handle, agent string
	ttl           time.Duration
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
	for _, p := range data.projects {
		keys = append(keys, p.key)
	}
	for _, k := range keys {
		if _, err := t.Project(ctx, k); err == nil {
			return nil, fmt.Errorf("project %s exists (is the sample already loaded?): seed loads the sample's projects %s into a server that has none of them; run it against a fresh --data directory", k, strings.Join(keys, ", "))
		} else if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			return nil, fmt.Errorf("seed: check project %s: %w", k, err)
		}
	}
	for _, p := range data.projects {
		for _, f := range p.features {
			if got, err := t.Feature(ctx, f.slug); err == nil {
				return nil, fmt.Errorf("seed: the sample's feature slug %s is taken by project %s; slugs are unique across projects", f.slug, got.ProjectKey)
			} else if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
				return nil, fmt.Errorf("seed: check feature %s: %w", f.slug, err)
			}
		}
	}

	sum, err := loadSample(ctx, t, data, order, keys)
	if err != nil {
		// Commands went through one by one, each recorded in the event
		// history, so what came before the failure stays.
		return nil, fmt.Errorf("%w; seed stopped part way and what it loaded of projects %s stays: load the sample into a fresh --data directory", err, strings.Join(keys, ", "))
	}
	return sum, nil
}

// loadSample runs the sample's commands, in order, through t.
func loadSample(ctx context.Context, t agileplus.Tracker, data sample, order []string, keys []string) (*seedSummary, error) {
	sum := &seedSummary{Projects: keys, WPStates: map[string]int{}, Claims: []*agileplus.Lease{}}
	wpKeys := map[string]string{} // handle -> key
	wps := map[string]sampleWP{}
	for _, p := range data.projects {
		if _, err := t.CreateProject(ctx, agileplus.ProjectCreate{Key: p.key, Name: p.name}); err != nil {
			return nil, fmt.Errorf("seed: create project %s: %w", p.key, err)
		}
		for _, f := range p.features {
			if _, err := t.CreateFeature(ctx, p.key, agileplus.FeatureCreate{Slug: f.slug, Title: f.title, Description: f.description}); err != nil {
				return nil, fmt.Errorf("seed: create feature %s: %w", f.slug, err)
			}
			sum.Features++
			for _, step := range f.path {
				if _, err := t.TransitionFeature(ctx, f.slug, agileplus.Transition{To: step.to, Reason: step.reason}, 0); err != nil {
					return nil, fmt.Errorf("seed: move feature %s to %s: %w", f.slug, step.to, err)
				}
			}
			for _, w := range f.wps {
				est := w.estimate
				created, err := t.CreateWP(ctx, f.slug, agileplus.WPCreate{Title: w.title, Estimate: &est})
				if err != nil {
					return nil, fmt.Errorf("seed: create work package %q: %w", w.title, err)
				}
				wpKeys[w.handle], wps[w.handle] = created.Key, w
				sum.WPs++
			}
		}
	}

	// Dependencies go in before any work starts, the way a team plans.
	ref := func(name string) string {
		if k, ok := wpKeys[name]; ok {
			return k
		}
		return name // a feature slug
	}
	for _, d := range data.deps {
		if _, err := t.AddDependency(ctx, agileplus.DependencyCreate{From: ref(d.from), To: ref(d.to), Kind: d.kind}); err != nil {
			return nil, fmt.Errorf("seed: add dependency %s %s %s: %w", d.from, d.kind, d.to, err)
		}
		sum.Dependencies++
	}

	for _, h := range order {
		w := wps[h]
		for _, to := range w.steps() {
			tr := agileplus.Transition{To: to}
			if to == agileplus.WPBlocked {
				tr.Reason = w.reason
			}
			if _, err := t.TransitionWP(ctx, wpKeys[h], tr, 0); err != nil {
				return nil, fmt.Errorf("seed: move %s (%s) to %s: %w", wpKeys[h], h, to, err)
			}
		}
		sum.WPStates[w.state]++
	}

	for _, c := range data.claims {
		l, err := t.Claim(ctx, wpKeys[c.handle], agileplus.ClaimRequest{Agent: c.agent, TTLSeconds: int64(c.ttl / time.Second)})
		if err != nil {
			return nil, fmt.Errorf("seed: claim %s for %s: %w", wpKeys[c.handle], c.agent, err)
		}
		sum.Claims = append(sum.Claims, l)
	}
	return sum, nil
}

// steps are the legal transitions from planned to the WP's final state.
func (w sampleWP) steps() []string {
	switch w.state {
	case agileplus.WPDoing:
		return []string{agileplus.WPDoing}
	case agileplus.WPReview:
		return []string{agileplus.WPDoing, agileplus.WPReview}
	case agileplus.WPDone:
		if w.bounce {
			return []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone}
		}
		return []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone}
	case agileplus.WPBlocked:
		return []string{agileplus.WPBlocked}
	}
	return nil
}

func (w sampleWP) starts() bool {
	return w.state != agileplus.WPPlanned && w.state != agileplus.WPBlocked
}

// startOrder checks the sample and returns the WP handles in an order in
// which every WP that starts finds what it depends on already done: the
// sample never needs --force.
func (d sample) startOrder() ([]string, error) {
	wps := map[string]sampleWP{}
	var handles []string
	for _, p := range d.projects {
		for _, f := range p.features {
			for _, w := range f.wps {
				if _, dup := wps[w.handle]; dup {
					return nil, fmt.Errorf("seed: sample has two work packages %q", w.handle)
				}
				wps[w.handle] = w
				handles = append(handles, w.handle)
			}
		}
	}
	waitsOn := map[string][]string{}
	for _, dep := range d.deps {
		from, to := dep.from, dep.to
		if dep.kind == agileplus.Blocks {
			from, to = to, from
		}
		_, fromWP := wps[from]
		_, toWP := wps[to]
		if fromWP != toWP {
			return nil, fmt.Errorf("seed: sample dependency %s -> %s joins a work package and a feature", dep.from, dep.to)
		}
		if !fromWP || dep.kind == agileplus.RelatesTo {
			continue
		}
		if wps[from].starts() && wps[to].state != agileplus.WPDone {
			return nil, fmt.Errorf("seed: sample work package %s starts but depends on %s, which is not done", from, to)
		}
		waitsOn[from] = append(waitsOn[from], to)
	}
	// Depth-first: a WP comes after everything it waits on.
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(h string) error
	visit = func(h string) error {
		switch state[h] {
		case 1:
			return fmt.Errorf("seed: sample dependencies form a cycle through %s", h)
		case 2:
			return nil
		}
		state[h] = 1
		for _, to := range waitsOn[h] {
			if err := visit(to); err != nil {
				return err
			}
		}
		state[h] = 2
		order = append(order, h)
		return nil
	}
	for _, h := range handles {
		if err := visit(h); err != nil {
			return nil, err
		}
	}
	for _, c := range d.claims {
		if w, ok := wps[c.handle]; !ok || w.state == agileplus.WPDone {
			return nil, fmt.Errorf("seed: sample claim of %q: no such open work package", c.handle)
		}
	}
	if !slices.Equal(sortedCopy(order), sortedCopy(handles)) {
		return nil, fmt.Errorf("seed: sample start order lost work packages")
	}
	return order, nil
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// steps builds a feature's path through its states.
func steps(states ...string) []sampleStep {
	out := make([]sampleStep, len(states))
	for i, s := range states {
		out[i] = sampleStep{to: s}
	}
	return out
}

// sampleData is the built-in sample: a small company's platform, web and
// mobile teams in the middle of a quarter.
func sampleData() sample {
	const (
		planned = agileplus.WPPlanned
		doing   = agileplus.WPDoing
		review  = agileplus.WPReview
		done    = agileplus.WPDone
		blocked = agileplus.WPBlocked
	)
	upTo := func(last string) []sampleStep {
		i := slices.Index(agileplus.FeatureStates, last)
		return steps(agileplus.FeatureStates[1 : i+1]...)
	}
	return sample{
		projects: []sampleProject{
			{key: "CORE", name: "Core platform", features: []sampleFeature{
				{
					slug: "auth-service", title: "Authentication service",
					description: "Central OAuth2/OIDC token service used by the web and mobile apps.",
					path:        upTo(agileplus.FeatureImplementing),
					wps: []sampleWP{
						{handle: "core-auth-schema", title: "Design users and sessions schema", estimate: 4, state: done},
						{handle: "core-token", title: "Implement /oauth/token with refresh token rotation", estimate: 12, state: done, bounce: true},
						{handle: "core-jwks", title: "Publish JWKS endpoint and nightly key rotation job", estimate: 6, state: done},
						{handle: "core-pw-reset", title: "Password reset emails via SES", estimate: 5, state: review},
						{handle: "core-mfa", title: "TOTP multi-factor enrolment API", estimate: 10, state: doing},
						{handle: "core-lockout", title: "Lock accounts after repeated failed logins", estimate: 3, state: planned},
						{handle: "core-auth-audit", title: "Write auth events to the security audit log", estimate: 4, state: blocked, reason: "waiting on the security team's log retention decision"},
						{handle: "core-token-load", title: "Load test the token endpoint at 500 rps", estimate: 6, state: planned},
						{handle: "core-saml", title: "SAML SSO for enterprise tenants", estimate: 16, state: planned},
					},
				},
				{
					slug: "event-pipeline", title: "Event pipeline",
					description: "Outbox-based domain events on Kafka, with an idempotent consumer library.",
					path: []sampleStep{
						{to: agileplus.FeatureSpecified},
						{to: agileplus.FeaturePlanned, reason: "reuses the design from last year's ingestion spike; no new research needed"},
						{to: agileplus.FeatureImplementing},
						{to: agileplus.FeatureValidated},
						{to: agileplus.FeatureShipped},
					},
					wps: []sampleWP{
						{handle: "core-kafka", title: "Provision Kafka topics and ACLs with Terraform", estimate: 5, state: done},
						{handle: "core-outbox", title: "Transactional outbox publisher", estimate: 8, state: done},
						{handle: "core-schemas", title: "Register Avro schemas for domain events", estimate: 4, state: done},
						{handle: "core-consumer", title: "Idempotent consumer library with retries and a DLQ", estimate: 10, state: done},
						{handle: "core-lag-dash", title: "Grafana dashboards for consumer lag", estimate: 3, state: done},
						{handle: "core-replay", title: "CLI to replay dead-lettered events", estimate: 5, state: done},
					},
				},
				{
					slug: "rate-limiting", title: "API rate limiting",
					description: "Per-tenant request limits on the public API.",
					path:        upTo(agileplus.FeaturePlanned),
					wps: []sampleWP{
						{handle: "core-rl-adr", title: "ADR: token bucket vs sliding window", estimate: 3, state: done},
						{handle: "core-rl-redis", title: "Redis-backed limiter middleware", estimate: 8, state: planned},
						{handle: "core-rl-headers", title: "Return RateLimit-* headers and 429 problem bodies", estimate: 2, state: planned},
						{handle: "core-rl-config", title: "Per-tenant limits in the admin config", estimate: 5, state: planned},
					},
				},
				{
					slug: "audit-export", title: "Audit log export",
					description: "Let enterprise admins export their audit log to their SIEM.",
					path:        upTo(agileplus.FeatureSpecified),
					wps: []sampleWP{
						{handle: "core-export-spike", title: "Spike: export formats customers asked for (CSV, JSONL, Splunk HEC)", estimate: 2.5, state: planned},
					},
				},
			}},
			{key: "WEB", name: "Web app", features: []sampleFeature{
				{
					slug: "login-flow", title: "Login and signup flow",
					description: "New login and signup on the auth service, replacing the legacy session cookies.",
					path:        upTo(agileplus.FeatureImplementing),
					wps: []sampleWP{
						{handle: "web-login-form", title: "Login form with inline validation", estimate: 5, state: done},
						{handle: "web-pkce", title: "Wire login to /oauth/token with PKCE", estimate: 8, state: review},
						{handle: "web-signup", title: "Signup form with an email verification step", estimate: 6, state: doing},
						{handle: "web-forgot", title: "Forgot-password page", estimate: 3, state: planned},
						{handle: "web-mfa-ui", title: "MFA enrolment screens", estimate: 6, state: planned},
						{handle: "web-refresh", title: "Silent token refresh in the API client", estimate: 4, state: doing},
						{handle: "web-remember", title: "Remember-me checkbox with a 30-day refresh token", estimate: 2, state: review},
						{handle: "web-login-e2e", title: "Playwright e2e tests for login and signup", estimate: 5, state: planned},
						{handle: "web-auth-a11y", title: "Accessibility pass on auth pages (WCAG 2.2 AA)", estimate: 3, state: blocked, reason: "needs final copy from design"},
					},
				},
				{
					slug: "dashboard-redesign", title: "Dashboard redesign",
					description: "A customisable dashboard built from what customers actually look at.",
					path:        upTo(agileplus.FeatureResearched),
					wps: []sampleWP{
						{handle: "web-dash-interviews", title: "Interview six customers about dashboard usage", estimate: 8, state: done},
						{handle: "web-dash-wireframes", title: "Wireframes for the new dashboard layout", estimate: 6, state: review},
						{handle: "web-dash-grid", title: "Widget grid with drag-and-drop", estimate: 13, state: planned},
						{handle: "web-dash-lazy", title: "Lazy-load dashboard charts", estimate: 4, state: planned},
						{handle: "web-dash-empty", title: "Empty states for new accounts", estimate: 2, state: planned},
					},
				},
				{
					slug: "dark-mode", title: "Dark mode",
					path: []sampleStep{
						{to: agileplus.FeatureSpecified},
						{to: agileplus.FeaturePlanned, reason: "design system already has dark tokens drafted"},
						{to: agileplus.FeatureImplementing},
						{to: agileplus.FeatureValidated},
					},
					wps: []sampleWP{
						{handle: "web-dark-tokens", title: "Define colour tokens for light and dark themes", estimate: 3, state: done},
						{handle: "web-dark-toggle", title: "Theme toggle in user settings, saved per account", estimate: 4, state: done},
						{handle: "web-dark-charts", title: "Dark palettes for charts", estimate: 3, state: done},
						{handle: "web-dark-snapshots", title: "Visual regression snapshots for both themes", estimate: 4, state: done, bounce: true},
					},
				},
				{
					slug: "onboarding-checklist", title: "Onboarding checklist",
					description: "A checklist that walks new accounts through their first project.",
					wps: []sampleWP{
						{handle: "web-onb-copy", title: "Draft checklist copy with product marketing", estimate: 2, state: planned},
						{handle: "web-onb-events", title: "Track checklist completion events", estimate: 3, state: planned},
					},
				},
			}},
			{key: "MOB", name: "Mobile app", features: []sampleFeature{
				{
					slug: "offline-sync", title: "Offline sync",
					description: "Work without a connection and sync when back online.",
					path:        upTo(agileplus.FeatureImplementing),
					wps: []sampleWP{
						{handle: "mob-sqlite", title: "Local SQLite cache for projects and tasks", estimate: 8, state: done},
						{handle: "mob-queue", title: "Outbound mutation queue with retry and backoff", estimate: 10, state: done},
						{handle: "mob-conflicts", title: "Conflict resolution: last writer wins, with field merge", estimate: 12, state: doing},
						{handle: "mob-delta", title: "Consume the delta sync events", estimate: 8, state: review},
						{handle: "mob-sync-ui", title: "Offline banner and pending-changes indicator", estimate: 4, state: planned},
						{handle: "mob-bg-sync", title: "Background sync with WorkManager and BGTaskScheduler", estimate: 8, state: blocked, reason: "iOS background task entitlement pending Apple review"},
						{handle: "mob-sync-tests", title: "Airplane-mode integration tests on the device farm", estimate: 6, state: planned},
						{handle: "mob-sync-metrics", title: "Sync latency and failure metrics", estimate: 3, state: doing},
					},
				},
				{
					slug: "push-notifications", title: "Push notifications",
					path: []sampleStep{
						{to: agileplus.FeatureSpecified},
						{to: agileplus.FeaturePlanned, reason: "FCM and APNs are well understood; research skipped"},
					},
					wps: []sampleWP{
						{handle: "mob-push-creds", title: "FCM and APNs credentials in the secrets manager", estimate: 2, state: done},
						{handle: "mob-push-fanout", title: "Notification fan-out worker on domain events", estimate: 10, state: planned},
						{handle: "mob-push-prefs", title: "Notification preferences screen", estimate: 5, state: planned},
						{handle: "mob-push-links", title: "Deep links from notifications into task detail", estimate: 4, state: planned},
						{handle: "mob-push-quiet", title: "Quiet hours", estimate: 3, state: blocked, reason: "waiting on a product decision about default quiet hours"},
						{handle: "mob-push-l10n", title: "Notification copy in English, German and French", estimate: 3, state: doing},
					},
				},
				{
					slug: "biometric-login", title: "Biometric login",
					description: "Face ID and fingerprint unlock of a stored refresh token.",
					path:        upTo(agileplus.FeatureRetrospected),
					wps: []sampleWP{
						{handle: "mob-bio-keychain", title: "Keep the refresh token in Keychain/Keystore behind biometrics", estimate: 6, state: done},
						{handle: "mob-bio-prompt", title: "Face ID and fingerprint prompt with passcode fallback", estimate: 5, state: done},
						{handle: "mob-bio-settings", title: "Enable-biometrics toggle in settings", estimate: 2, state: done},
						{handle: "mob-bio-metrics", title: "Adoption metrics for biometric login", estimate: 2, state: done},
					},
				},
				{
					slug: "tablet-layout", title: "Tablet layout",
					wps: []sampleWP{
						{handle: "mob-tablet-audit", title: "Audit screens that break in iPad split view", estimate: 3, state: planned},
						{handle: "mob-tablet-nav", title: "Two-pane navigation for tablets", estimate: 8, state: planned},
					},
				},
			}},
		},
		deps: []sampleDep{
			// CORE auth-service
			{"core-token", "core-auth-schema", agileplus.DependsOn},
			{"core-jwks", "core-token", agileplus.DependsOn},
			{"core-pw-reset", "core-auth-schema", agileplus.DependsOn},
			{"core-mfa", "core-token", agileplus.DependsOn},
			{"core-lockout", "core-mfa", agileplus.DependsOn},
			{"core-token-load", "core-token", agileplus.DependsOn},
			{"core-auth-audit", "core-saml", agileplus.Blocks},
			{"core-saml", "core-mfa", agileplus.RelatesTo},
			// CORE event-pipeline
			{"core-outbox", "core-kafka", agileplus.DependsOn},
			{"core-consumer", "core-outbox", agileplus.DependsOn},
			{"core-consumer", "core-schemas", agileplus.DependsOn},
			{"core-lag-dash", "core-consumer", agileplus.DependsOn},
			{"core-replay", "core-consumer", agileplus.DependsOn},
			// CORE rate-limiting
			{"core-rl-redis", "core-rl-adr", agileplus.DependsOn},
			{"core-rl-headers", "core-rl-redis", agileplus.DependsOn},
			// WEB login-flow, leaning on CORE's auth service
			{"web-pkce", "web-login-form", agileplus.DependsOn},
			{"web-pkce", "core-token", agileplus.DependsOn},
			{"web-signup", "web-login-form", agileplus.DependsOn},
			{"web-forgot", "core-pw-reset", agileplus.DependsOn},
			{"web-mfa-ui", "core-mfa", agileplus.DependsOn},
			{"web-refresh", "core-jwks", agileplus.DependsOn},
			{"web-remember", "web-login-form", agileplus.DependsOn},
			{"web-login-e2e", "web-signup", agileplus.DependsOn},
			{"web-auth-a11y", "web-login-e2e", agileplus.Blocks},
			// WEB dashboard and dark mode
			{"web-dash-wireframes", "web-dash-interviews", agileplus.DependsOn},
			{"web-dash-grid", "web-dash-wireframes", agileplus.DependsOn},
			{"web-dark-toggle", "web-dark-tokens", agileplus.DependsOn},
			{"web-dark-charts", "web-dark-tokens", agileplus.DependsOn},
			{"web-dark-snapshots", "web-dark-toggle", agileplus.DependsOn},
			{"web-dark-snapshots", "web-dark-charts", agileplus.DependsOn},
			{"web-dark-charts", "web-dash-grid", agileplus.RelatesTo},
			{"web-onb-events", "core-consumer", agileplus.DependsOn},
			// MOB offline-sync, on CORE's event pipeline
			{"mob-queue", "mob-sqlite", agileplus.DependsOn},
			{"mob-conflicts", "mob-queue", agileplus.DependsOn},
			{"mob-delta", "mob-sqlite", agileplus.DependsOn},
			{"mob-delta", "core-consumer", agileplus.DependsOn},
			{"mob-sync-ui", "mob-conflicts", agileplus.DependsOn},
			{"mob-sync-tests", "mob-conflicts", agileplus.DependsOn},
			{"mob-bg-sync", "mob-sync-tests", agileplus.Blocks},
			{"core-rl-redis", "mob-bg-sync", agileplus.Blocks},
			{"mob-sync-metrics", "mob-queue", agileplus.DependsOn},
			// MOB push and biometrics
			{"mob-push-fanout", "core-consumer", agileplus.DependsOn},
			{"mob-push-fanout", "mob-push-creds", agileplus.DependsOn},
			{"mob-push-links", "mob-push-fanout", agileplus.DependsOn},
			{"mob-bio-keychain", "core-token", agileplus.DependsOn},
			{"mob-bio-prompt", "mob-bio-keychain", agileplus.DependsOn},
			{"web-mfa-ui", "mob-bio-prompt", agileplus.RelatesTo},
			{"mob-tablet-nav", "mob-tablet-audit", agileplus.DependsOn},
			// Feature-level: whole features waiting on others.
			{"login-flow", "auth-service", agileplus.DependsOn},
			{"push-notifications", "event-pipeline", agileplus.DependsOn},
			{"biometric-login", "login-flow", agileplus.RelatesTo},
		},
		claims: []sampleClaim{
			{handle: "core-mfa", agent: "claude-code", ttl: 2 * time.Hour},
			{handle: "mob-conflicts", agent: "priya", ttl: 4 * time.Hour},
			{handle: "web-signup", agent: "codex-agent", ttl: 45 * time.Minute},
		},
	}
}
