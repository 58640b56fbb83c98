package agileplus

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkErr fails t unless err has the wanted code and field; code "" wants nil.
func checkErr(t *testing.T, err error, code, field string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		return
	}
	if got := ErrorCode(err); got != code {
		t.Fatalf("got code %q (err %v), want %q", got, err, code)
	}
	if got := ErrorField(err); got != field {
		t.Fatalf("got field %q (err %v), want %q", got, err, field)
	}
}

func TestFeatureTransitionCheck(t *testing.T) {
	tests := []struct {
		from, to string
		skipped  []string
		code     string
		field    string
	}{
		{from: FeatureCreated, to: FeatureSpecified},
		{from: FeatureCreated, to: FeatureResearched, skipped: []string{FeatureSpecified}},
		{from: FeatureCreated, to: FeaturePlanned, skipped: []string{FeatureSpecified, FeatureResearched}},
		{from: FeatureSpecified, to: FeatureImplementing, skipped: []string{FeatureResearched, FeaturePlanned}},
		{from: FeatureCreated, to: FeatureRetrospected, skipped: []string{
			FeatureSpecified, FeatureResearched, FeaturePlanned, FeatureImplementing, FeatureValidated, FeatureShipped}},
		{from: FeatureValidated, to: FeatureShipped},
		{from: FeatureShipped, to: FeatureRetrospected},
		{from: FeaturePlanned, to: FeaturePlanned, code: ERULE, field: "to"},
		{from: FeaturePlanned, to: FeatureSpecified, code: ERULE, field: "to"},
		{from: FeatureRetrospected, to: FeatureCreated, code: ERULE, field: "to"},
		{from: FeatureRetrospected, to: FeatureRetrospected, code: ERULE, field: "to"},
		{from: FeatureCreated, to: "bogus", code: EINVALID, field: "to"},
		{from: FeatureCreated, to: "", code: EINVALID, field: "to"},
		{from: FeatureCreated, to: "Specified", code: EINVALID, field: "to"},
	}
	for _, tt := range tests {
		t.Run(tt.from+"->"+tt.to, func(t *testing.T) {
			skipped, err := FeatureTransitionCheck(tt.from, tt.to)
			checkErr(t, err, tt.code, tt.field)
			if !slices.Equal(skipped, tt.skipped) {
				t.Errorf("skipped: got %v, want %v", skipped, tt.skipped)
			}
		})
	}
}

func TestFeatureTransitionCheckAllPairs(t *testing.T) {
	for i, from := range FeatureStates {
		for j, to := range FeatureStates {
			skipped, err := FeatureTransitionCheck(from, to)
			if j > i {
				if err != nil {
					t.Errorf("%s -> %s: got error %v, want nil", from, to, err)
				} else if got, want := len(skipped), j-i-1; got != want {
					t.Errorf("%s -> %s: got %d skipped states, want %d", from, to, got, want)
				}
				continue
			}
			if got := ErrorCode(err); got != ERULE {
				t.Errorf("%s -> %s: got code %q, want %q", from, to, got, ERULE)
			}
		}
	}
}

func TestFeatureTransitionCheckReturnsCopy(t *testing.T) {
	skipped, err := FeatureTransitionCheck(FeatureCreated, FeaturePlanned)
	if err != nil {
		t.Fatal(err)
	}
	skipped[0] = "mutated"
	if got := FeatureStates[1]; got != FeatureSpecified {
		t.Fatalf("FeatureStates[1]: got %q after mutating the skipped list, want %q", got, FeatureSpecified)
	}
}

func TestWPTransitionCheck(t *testing.T) {
	allowed := map[[2]string]bool{
		{WPPlanned, WPDoing}:   true,
		{WPPlanned, WPBlocked}: true,
		{WPDoing, WPReview}:    true,
		{WPDoing, WPBlocked}:   true,
		{WPReview, WPDone}:     true,
		{WPReview, WPDoing}:    true,
		{WPBlocked, WPPlanned}: true,
		{WPBlocked, WPDoing}:   true,
	}
	for _, from := range WPStates {
		for _, to := range WPStates {
			t.Run(from+"->"+to, func(t *testing.T) {
				err := WPTransitionCheck("CORE-1", from, to)
				if allowed[[2]string{from, to}] {
					checkErr(t, err, "", "")
				} else {
					checkErr(t, err, ERULE, "to")
					if from != WPDone && (!strings.Contains(ErrorMessage(err), "wp CORE-1 cannot move from "+from+" to "+to) || strings.Contains(ErrorMessage(err), "[")) {
						t.Errorf("message %q does not name the WP and list the states in words", ErrorMessage(err))
					}
				}
			})
		}
		t.Run(from+"->bogus", func(t *testing.T) {
			checkErr(t, WPTransitionCheck("CORE-1", from, "bogus"), EINVALID, "to")
		})
	}
	if got, want := len(WPStates), 5; got != want {
		t.Fatalf("got %d WP states, want %d: update the table", got, want)
	}
}

func TestWPDoneIsTerminal(t *testing.T) {
	for _, to := range WPStates {
		err := WPTransitionCheck("CORE-1", WPDone, to)
		if got := ErrorCode(err); got != ERULE {
			t.Errorf("done -> %s: got code %q, want %q", to, got, ERULE)
		}
		if !strings.Contains(ErrorMessage(err), "terminal") || !strings.Contains(ErrorMessage(err), "wp CORE-1") {
			t.Errorf("done -> %s: got message %q, want it to say done is terminal", to, ErrorMessage(err))
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestProjectCreateValidate(t *testing.T) {
	tests := []struct {
		name  string
		in    ProjectCreate
		field string
	}{
		{"valid", ProjectCreate{Key: "CORE", Name: "Core"}, ""},
		{"two chars", ProjectCreate{Key: "AB", Name: "x"}, ""},
		{"sixteen chars", ProjectCreate{Key: "A123456789ABCDEF", Name: "x"}, ""},
		{"name 200", ProjectCreate{Key: "CORE", Name: strings.Repeat("n", 200)}, ""},
		{"no key", ProjectCreate{Name: "Core"}, "key"},
		{"lower key", ProjectCreate{Key: "core", Name: "Core"}, "key"},
		{"one char", ProjectCreate{Key: "C", Name: "Core"}, "key"},
		{"seventeen chars", ProjectCreate{Key: "A123456789ABCDEFG", Name: "Core"}, "key"},
		{"leading digit", ProjectCreate{Key: "1CORE", Name: "Core"}, "key"},
		{"dash", ProjectCreate{Key: "CO-RE", Name: "Core"}, "key"},
		{"dot", ProjectCreate{Key: "CO.RE", Name: "Core"}, "key"},
		{"no name", ProjectCreate{Key: "CORE"}, "name"},
		{"blank name", ProjectCreate{Key: "CORE", Name: "  \t"}, "name"},
		{"long name", ProjectCreate{Key: "CORE", Name: strings.Repeat("n", 201)}, "name"},
		{"two-line name", ProjectCreate{Key: "CORE", Name: "a\nb"}, "name"},
		{"carriage return", ProjectCreate{Key: "CORE", Name: "a\rb"}, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.in.Validate(), codeFor(tt.field), tt.field)
		})
	}
}

// codeFor is EINVALID for a named field, "" (no error) otherwise.
func codeFor(field string) string {
	if field == "" {
		return ""
	}
	return EINVALID
}

func TestProjectUpdateValidate(t *testing.T) {
	checkErr(t, (&ProjectUpdate{}).Validate(), "", "")
	checkErr(t, (&ProjectUpdate{Name: ptr("New")}).Validate(), "", "")
	checkErr(t, (&ProjectUpdate{Name: ptr("")}).Validate(), EINVALID, "name")
	checkErr(t, (&ProjectUpdate{Name: ptr("a\nb")}).Validate(), EINVALID, "name")
}

func TestFeatureCreateValidate(t *testing.T) {
	tests := []struct {
		name  string
		in    FeatureCreate
		field string
	}{
		{"valid", FeatureCreate{Slug: "login-flow", Title: "Login"}, ""},
		{"digits", FeatureCreate{Slug: "v2-api-3", Title: "API"}, ""},
		{"slug 64", FeatureCreate{Slug: strings.Repeat("a", 64), Title: "x"}, ""},
		{"multi-line description", FeatureCreate{Slug: "a", Title: "x", Description: "line 1\nline 2"}, ""},
		{"description 64KiB", FeatureCreate{Slug: "a", Title: "x", Description: strings.Repeat("d", 64<<10)}, ""},
		{"no slug", FeatureCreate{Title: "x"}, "slug"},
		{"upper slug", FeatureCreate{Slug: "Login", Title: "x"}, "slug"},
		{"double dash", FeatureCreate{Slug: "login--flow", Title: "x"}, "slug"},
		{"leading dash", FeatureCreate{Slug: "-login", Title: "x"}, "slug"},
		{"trailing dash", FeatureCreate{Slug: "login-", Title: "x"}, "slug"},
		{"underscore", FeatureCreate{Slug: "login_flow", Title: "x"}, "slug"},
		{"space", FeatureCreate{Slug: "login flow", Title: "x"}, "slug"},
		{"slug 65", FeatureCreate{Slug: strings.Repeat("a", 65), Title: "x"}, "slug"},
		{"no title", FeatureCreate{Slug: "a"}, "title"},
		{"blank title", FeatureCreate{Slug: "a", Title: " "}, "title"},
		{"two-line title", FeatureCreate{Slug: "a", Title: "a\nb"}, "title"},
		{"long title", FeatureCreate{Slug: "a", Title: strings.Repeat("t", 201)}, "title"},
		{"long description", FeatureCreate{Slug: "a", Title: "x", Description: strings.Repeat("d", 64<<10+1)}, "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.in.Validate(), codeFor(tt.field), tt.field)
		})
	}
}

func TestFeatureUpdateValidate(t *testing.T) {
	checkErr(t, (&FeatureUpdate{}).Validate(), "", "")
	checkErr(t, (&FeatureUpdate{Title: ptr("t"), Description: ptr("d")}).Validate(), "", "")
	checkErr(t, (&FeatureUpdate{Title: ptr("")}).Validate(), EINVALID, "title")
	checkErr(t, (&FeatureUpdate{Description: ptr(strings.Repeat("d", 64<<10+1))}).Validate(), EINVALID, "description")
}

func TestWPCreateValidate(t *testing.T) {
	tests := []struct {
		name  string
		in    WPCreate
		field string
	}{
		{"valid", WPCreate{Title: "Do it"}, ""},
		{"zero estimate", WPCreate{Title: "x", Estimate: ptr(0.0)}, ""},
		{"max estimate", WPCreate{Title: "x", Estimate: ptr(MaxEstimate)}, ""},
		{"fractional estimate", WPCreate{Title: "x", Estimate: ptr(0.25)}, ""},
		{"no title", WPCreate{}, "title"},
		{"blank title", WPCreate{Title: "\t"}, "title"},
		{"two-line title", WPCreate{Title: "a\nb"}, "title"},
		{"long title", WPCreate{Title: strings.Repeat("t", 201)}, "title"},
		{"long description", WPCreate{Title: "x", Description: strings.Repeat("d", 64<<10+1)}, "description"},
		{"negative estimate", WPCreate{Title: "x", Estimate: ptr(-1.0)}, "estimate"},
		{"NaN estimate", WPCreate{Title: "x", Estimate: ptr(math.NaN())}, "estimate"},
		{"infinite estimate", WPCreate{Title: "x", Estimate: ptr(math.Inf(1))}, "estimate"},
		{"too large estimate", WPCreate{Title: "x", Estimate: ptr(MaxEstimate + 0.5)}, "estimate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.in.Validate(), codeFor(tt.field), tt.field)
		})
	}
}

func TestWPUpdateValidate(t *testing.T) {
	checkErr(t, (&WPUpdate{}).Validate(), "", "")
	checkErr(t, (&WPUpdate{Title: ptr("t"), Description: ptr("d"), Estimate: ptr(3.0)}).Validate(), "", "")
	checkErr(t, (&WPUpdate{Title: ptr(" ")}).Validate(), EINVALID, "title")
	checkErr(t, (&WPUpdate{Description: ptr(strings.Repeat("d", 64<<10+1))}).Validate(), EINVALID, "description")
	checkErr(t, (&WPUpdate{Estimate: ptr(-0.1)}).Validate(), EINVALID, "estimate")
}

func TestTransitionValidate(t *testing.T) {
	tests := []struct {
		name  string
		in    Transition
		field string
	}{
		{"valid", Transition{To: WPDoing}, ""},
		{"forced with reason", Transition{To: WPDoing, Force: true, Reason: "hotfix"}, ""},
		{"reason without force", Transition{To: WPDoing, Reason: "why not"}, ""},
		{"token", Transition{To: WPDoing, Token: 7}, ""},
		{"reason 2000", Transition{To: WPDoing, Force: true, Reason: strings.Repeat("r", 2000)}, ""},
		{"no to", Transition{}, "to"},
		{"force without reason", Transition{To: WPDoing, Force: true}, "reason"},
		{"long reason", Transition{To: WPDoing, Force: true, Reason: strings.Repeat("r", 2001)}, "reason"},
		{"negative token", Transition{To: WPDoing, Token: -1}, "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.in.Validate(), codeFor(tt.field), tt.field)
		})
	}
}

func TestClaimRequestValidate(t *testing.T) {
	tests := []struct {
		name      string
		in        ClaimRequest
		needToken bool
		field     string
	}{
		{"claim", ClaimRequest{Agent: "agent-1"}, false, ""},
		{"claim with ttl", ClaimRequest{Agent: "agent-1", TTLSeconds: 60}, false, ""},
		{"claim min ttl", ClaimRequest{Agent: "agent-1", TTLSeconds: 1}, false, ""},
		{"claim max ttl", ClaimRequest{Agent: "agent-1", TTLSeconds: 7 * 24 * 3600}, false, ""},
		{"claim no agent", ClaimRequest{}, false, "agent"},
		{"claim blank agent", ClaimRequest{Agent: "  "}, false, "agent"},
		{"claim two-line agent", ClaimRequest{Agent: "a\nb"}, false, "agent"},
		{"claim long agent", ClaimRequest{Agent: strings.Repeat("a", 201)}, false, "agent"},
		{"claim negative ttl", ClaimRequest{Agent: "a", TTLSeconds: -1}, false, "ttl_seconds"},
		{"claim ttl too long", ClaimRequest{Agent: "a", TTLSeconds: 7*24*3600 + 1}, false, "ttl_seconds"},
		{"claim huge ttl", ClaimRequest{Agent: "a", TTLSeconds: math.MaxInt64}, false, "ttl_seconds"},
		// 18446744075 s overflows time.Duration to about 1.29 s, which must
		// not pass as a valid TTL.
		{"claim overflowing ttl", ClaimRequest{Agent: "a", TTLSeconds: 18446744075}, false, "ttl_seconds"},
		{"renew", ClaimRequest{Token: 3}, true, ""},
		{"renew with ttl", ClaimRequest{Token: 3, TTLSeconds: 30}, true, ""},
		{"renew no token", ClaimRequest{Agent: "a"}, true, "token"},
		{"renew negative token", ClaimRequest{Token: -2}, true, "token"},
		{"renew ttl too long", ClaimRequest{Token: 1, TTLSeconds: 7*24*3600 + 1}, true, "ttl_seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.in.Validate(tt.needToken), codeFor(tt.field), tt.field)
		})
	}
}

func TestClaimRequestTTL(t *testing.T) {
	if got, want := (&ClaimRequest{}).TTL(), DefaultLeaseTTL; got != want {
		t.Errorf("default TTL: got %v, want %v", got, want)
	}
	if got, want := (&ClaimRequest{TTLSeconds: 90}).TTL(), 90*time.Second; got != want {
		t.Errorf("TTL: got %v, want %v", got, want)
	}
}

func TestLeaseLive(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := &Lease{ExpiresAt: now.Add(time.Minute)}
	tests := []struct {
		name  string
		lease *Lease
		at    time.Time
		want  bool
	}{
		{"nil", nil, now, false},
		{"before expiry", l, now, true},
		{"just before expiry", l, now.Add(time.Minute - time.Nanosecond), true},
		{"at expiry", l, now.Add(time.Minute), false},
		{"after expiry", l, now.Add(time.Hour), false},
	}
	for _, tt := range tests {
		if got := tt.lease.Live(tt.at); got != tt.want {
			t.Errorf("%s: got Live %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDependencyCreateValidate(t *testing.T) {
	tests := []struct {
		name     string
		in       DependencyCreate
		field    string
		wantKind string
	}{
		{"default kind", DependencyCreate{From: "CORE-1", To: "CORE-2"}, "", DependsOn},
		{"depends_on", DependencyCreate{From: "CORE-1", To: "CORE-2", Kind: DependsOn}, "", DependsOn},
		{"blocks", DependencyCreate{From: "CORE-1", To: "CORE-2", Kind: Blocks}, "", Blocks},
		{"relates_to", DependencyCreate{From: "CORE-1", To: "CORE-2", Kind: RelatesTo}, "", RelatesTo},
		{"no from", DependencyCreate{To: "CORE-2"}, "from", ""},
		{"no to", DependencyCreate{From: "CORE-1"}, "to", ""},
		{"unknown kind", DependencyCreate{From: "CORE-1", To: "CORE-2", Kind: "bogus"}, "kind", "bogus"},
		{"upper-case kind", DependencyCreate{From: "CORE-1", To: "CORE-2", Kind: "DEPENDS_ON"}, "kind", "DEPENDS_ON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			checkErr(t, in.Validate(), codeFor(tt.field), tt.field)
			if tt.wantKind != "" && in.Kind != tt.wantKind {
				t.Errorf("kind after Validate: got %q, want %q", in.Kind, tt.wantKind)
			}
		})
	}
}

func TestCycleError(t *testing.T) {
	err := CycleError([]string{"CORE-3", "CORE-1", "CORE-2", "CORE-3"})
	checkErr(t, err, ERULE, "to")
	if got, want := err.Message, "dependency would close a cycle: CORE-3 -> CORE-1 -> CORE-2 -> CORE-3"; got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
}

func TestClampLimit(t *testing.T) {
	tests := []struct {
		in, want int
		code     string
	}{
		{0, DefaultPageLimit, ""},
		{1, 1, ""},
		{MaxPageLimit, MaxPageLimit, ""},
		{-1, 0, EINVALID},
		{MaxPageLimit + 1, 0, EINVALID},
	}
	for _, tt := range tests {
		got, err := ClampLimit(tt.in)
		if tt.code != "" {
			if ErrorCode(err) != tt.code || ErrorField(err) != "limit" {
				t.Errorf("ClampLimit(%d): got err %v, want %s on field limit", tt.in, err, tt.code)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ClampLimit(%d): got %d, %v, want %d, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	wrapped := fmt.Errorf("context: %w", FieldErrorf("key", "bad key %q", "x"))
	if got, want := ErrorCode(wrapped), EINVALID; got != want {
		t.Errorf("ErrorCode of a wrapped *Error: got %q, want %q", got, want)
	}
	if got, want := ErrorField(wrapped), "key"; got != want {
		t.Errorf("ErrorField: got %q, want %q", got, want)
	}
	if got, want := ErrorMessage(wrapped), `bad key "x"`; got != want {
		t.Errorf("ErrorMessage: got %q, want %q", got, want)
	}
	plain := errors.New("disk on fire")
	if got, want := ErrorCode(plain), EINTERNAL; got != want {
		t.Errorf("ErrorCode of a plain error: got %q, want %q", got, want)
	}
	if got, want := ErrorMessage(plain), "internal error"; got != want {
		t.Errorf("ErrorMessage of a plain error: got %q, want %q", got, want)
	}
	if got := ErrorCode(nil); got != "" {
		t.Errorf("ErrorCode(nil): got %q, want \"\"", got)
	}
	if got, want := Errorf(ERULE, "no").Error(), "agileplus: rule: no"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	if got, want := FieldErrorf("to", "bad").Error(), "agileplus: invalid: bad (field to)"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}
