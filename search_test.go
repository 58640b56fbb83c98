package agileplus_test

import (
	"context"
	"slices"
	"testing"

	"github.com/agileplus/agileplus"
)

// A key limited to projects finds only their WPs and features.
func TestSearchLimitedToProjects(t *testing.T) {
	f := newScopeFixture(t)
	ctx := context.Background()
	keys := func(ctx context.Context, q string) []string {
		t.Helper()
		hs, err := f.s.Search(ctx, agileplus.SearchQuery{Q: q})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range hs {
			out = append(out, h.Key)
		}
		return out
	}
	if got, want := keys(ctx, "w"), []string{"PA-1", "PA-2", "PA-3", "PB-1", "PB-2", "PB-3"}; !slices.Equal(got, want) {
		t.Errorf("unlimited: %v, want %v", got, want)
	}
	lctx := agileplus.WithPrincipal(ctx, f.onlyA)
	if got, want := keys(lctx, "w"), []string{"PA-1", "PA-2", "PA-3"}; !slices.Equal(got, want) {
		t.Errorf("limited to PA: %v, want %v", got, want)
	}
	if got, want := keys(lctx, "b"), []string(nil); !slices.Equal(got, want) {
		t.Errorf("limited to PA, PB's features: %v, want none", got)
	}
	none := agileplus.WithPrincipal(ctx, &agileplus.Principal{KeyID: "key_g", Name: "gone", Scope: agileplus.ScopeRead, Projects: []string{"GONE"}})
	if got := keys(none, "w"); got != nil {
		t.Errorf("limited to a project that does not exist: %v, want none", got)
	}
}

func TestSearchWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"CORE-12", []string{"core", "12"}},
		{`fmt.Errorf("user_id")`, []string{"fmt", "errorf", "user", "id"}},
		{`"*-:() NEAR`, []string{"near"}},
		{"Café ÜBER 日本語", []string{"café", "über", "日本語"}},
		{"  ", nil},
	} {
		if got := agileplus.SearchWords(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SearchWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
