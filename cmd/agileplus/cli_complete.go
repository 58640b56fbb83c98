package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

// Shell completion of the names the server knows: project keys, feature
// slugs and WP keys, for the positional arguments whose usage names them
// (PROJECT, FEATURE, WP, FROM, TO) and for the --project and --feature
// flags. It asks the server with the command's own --server and key,
// bounded: at most completeLimit names from one short request or a few,
// and nothing when the server does not answer within completeTimeout.

const (
	completeLimit   = 200
	completeTimeout = 2 * time.Second
)

// nameKinds are what a placeholder of a usage line completes to.
var nameKinds = map[string][]string{
	"PROJECT": {"project"},
	"FEATURE": {"feature"},
	"WP":      {"wp"},
	"FROM":    {"wp", "feature"},
	"TO":      {"wp", "feature"},
}

// addNameCompletion walks the command tree and completes the names of the
// server's entities wherever the usage or a flag asks for one.
func addNameCompletion(e *env, cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		addNameCompletion(e, c)
	}
	if cmd.Runnable() {
		if kinds := argKinds(cmd.Use); len(kinds) > 0 {
			prev := cmd.ValidArgsFunction
			cmd.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) < len(kinds) && len(kinds[len(args)]) > 0 {
					return e.completeNames(c.Context(), kinds[len(args)], toComplete)
				}
				if prev != nil {
					return prev(c, args, toComplete)
				}
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	for _, name := range []string{"project", "feature"} {
		if f := cmd.LocalFlags().Lookup(name); f != nil && f.Value.Type() == "string" {
			if _, ok := cmd.GetFlagCompletionFunc(name); !ok {
				kind := name
				cmd.RegisterFlagCompletionFunc(name, func(c *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return e.completeNames(c.Context(), []string{kind}, toComplete)
				})
			}
		}
	}
}

// argKinds reads the positional placeholders of a usage line ("show WP",
// "impact (WP | FEATURE)", "add FROM TO [--kind ...]", "ready [PROJECT]"): for each position,
// the kinds of names it takes, none for a placeholder of something else.
func argKinds(use string) [][]string {
	fields := strings.Fields(use)
	if len(fields) < 2 {
		return nil
	}
	var kinds [][]string
	found := false
	rest := strings.Join(fields[1:], " ")
	rest = strings.NewReplacer("(", "", ")", "", " | ", "|").Replace(rest)
	for _, tok := range strings.Fields(rest) {
		if len(tok) > 2 && tok[0] == '[' && tok[1] != '-' && strings.HasSuffix(tok, "]") {
			tok = tok[1 : len(tok)-1] // an optional argument: "ready [PROJECT]"
		}
		if strings.HasPrefix(tok, "[") || strings.HasPrefix(tok, "-") {
			break
		}
		var ks []string
		for alt := range strings.SplitSeq(tok, "|") {
			for _, k := range nameKinds[alt] {
				if !slices.Contains(ks, k) {
					ks = append(ks, k)
				}
			}
		}
		found = found || len(ks) > 0
		kinds = append(kinds, ks)
	}
	if !found {
		return nil
	}
	return kinds
}

// completeNames returns the names of the kinds that start with prefix.
func (e *env) completeNames(ctx context.Context, kinds []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	t := e.tracker()
	var out []cobra.Completion
	add := func(s string) {
		if strings.HasPrefix(s, prefix) && len(out) < completeLimit {
			out = append(out, s)
		}
	}
	directive := cobra.ShellCompDirectiveNoFileComp
	for _, k := range kinds {
		switch k {
		case "project":
			ps, err := t.Projects(ctx, agileplus.Page{Limit: completeLimit})
			if err != nil {
				return nil, directive
			}
			for _, p := range ps {
				add(p.Key)
			}
		case "feature":
			// Features are listed per project: the first projects' only.
			ps, err := t.Projects(ctx, agileplus.Page{Limit: 20})
			if err != nil {
				return nil, directive
			}
			for _, p := range ps {
				fs, err := t.Features(ctx, p.Key, agileplus.FeatureQuery{Page: agileplus.Page{Limit: completeLimit}})
				if err != nil {
					break
				}
				for _, f := range fs {
					add(f.Slug)
				}
			}
		case "wp":
			project, _, ok := strings.Cut(prefix, "-")
			if !ok {
				// No project yet: its key, then the WP's number.
				ps, err := t.Projects(ctx, agileplus.Page{Limit: completeLimit})
				if err != nil {
					return nil, directive
				}
				for _, p := range ps {
					add(p.Key + "-")
				}
				directive |= cobra.ShellCompDirectiveNoSpace
				continue
			}
			ws, err := t.WPs(ctx, agileplus.WPQuery{Project: project, Page: agileplus.Page{Limit: agileplus.MaxPageLimit}})
			if err != nil {
				continue
			}
			for _, w := range ws {
				add(w.Key)
			}
		}
	}
	return out, directive
}
