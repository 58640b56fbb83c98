package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newGraphCmd(e *env) *cobra.Command {
	return group("graph", "Ask the dependency graph of work packages and features: layers, blockers, paths, critical path, impact, cycles, export",
		newGraphLayersCmd(e), newGraphFeaturesCmd(e), newGraphReachCmd(e, "blockers"), newGraphReachCmd(e, "dependents"), newGraphPathCmd(e),
		newGraphCriticalCmd(e), newGraphImpactCmd(e), newGraphCyclesCmd(e), newGraphExportCmd(e))
}

func nodeRow(t *table, n agileplus.GraphNode, extra ...any) {
	t.row(append([]any{n.Key, n.State, hours(n.Estimate)}, extra...)...)
}

func newGraphLayersCmd(e *env) *cobra.Command {
	var order string
	cmd := &cobra.Command{
		Use:   "layers PROJECT [--order key|priority]",
		Short: "The project's open work by layer: layer 0 waits on nothing open, layer 1 on layer 0, ...",
		Long: `The project's open work (every state but done) by layer: layer 0 waits on
nothing open, layer 1 only on layer 0, and so on. Layer 0 holds work in
progress too (doing, review, blocked) and claimed work; the STATE column
tells them apart, and "agileplus ready" lists what can start now.`,
		Args: argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := e.tracker().Layers(cmd.Context(), args[0], order)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, l)
			}
			t := newTable(e.stdout, "LAYER", "KEY", "STATE", "PRIORITY", "EST")
			for i, layer := range l.Layers {
				for _, n := range layer {
					t.row(i, n.Key, n.State, n.Priority, hours(n.Estimate))
				}
			}
			for _, n := range l.Cyclic {
				t.row("cycle", n.Key, n.State, n.Priority, hours(n.Estimate))
			}
			return t.flush()
		},
	}
	orderVar(cmd, &order)
	return cmd
}

func newGraphReachCmd(e *env, which string) *cobra.Command {
	var transitive bool
	var depth int
	short := "What a work package or feature waits on"
	if which == "dependents" {
		short = "What waits on a work package or feature"
	}
	cmd := &cobra.Command{
		Use:   which + " (WP | FEATURE) [--transitive] [--depth N]",
		Short: short + ", directly or transitively",
		Long: short + ", directly or transitively.\n\n" +
			"A work package key or id (CORE-12) asks about work packages. A feature slug or id\n" +
			"asks about features, across projects: feature F waits on feature G when a work\n" +
			"package of F depends on one of G, or F depends_on G itself; relates_to never counts.",
		Example: "  agileplus graph " + which + " CORE-12 --transitive\n  agileplus graph " + which + " login-flow --transitive --depth 2",
		Args:    argNames("WP|FEATURE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if depth != 0 && !transitive {
				return usagef(cmd, "--depth needs --transitive")
			}
			if !agileplus.IsWPRef(args[0]) {
				q := e.tracker().FeatureBlockers
				if which == "dependents" {
					q = e.tracker().FeatureDependents
				}
				r, err := q(cmd.Context(), args[0], transitive, depth)
				if err != nil {
					return err
				}
				if e.asJSON {
					return printJSON(e.stdout, r)
				}
				if err := featureHops(e, r.Features); err != nil {
					return err
				}
				if r.Truncated {
					fmt.Fprintf(e.stderr, "(more beyond depth %d: pass a larger --depth)\n", r.Depth)
				}
				return nil
			}
			q := e.tracker().Blockers
			if which == "dependents" {
				q = e.tracker().Dependents
			}
			r, err := q(cmd.Context(), args[0], transitive, depth)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, r)
			}
			t := newTable(e.stdout, "DEPTH", "KEY", "STATE", "EST")
			for _, h := range r.WPs {
				t.row(h.Depth, h.Key, h.State, hours(h.Estimate))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if r.Truncated {
				fmt.Fprintf(e.stderr, "(more beyond depth %d: pass a larger --depth)\n", r.Depth)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&transitive, "transitive", false, "follow the chain beyond direct dependencies")
	cmd.Flags().IntVar(&depth, "depth", 0, "with --transitive: how far (1-100, default 100)")
	return cmd
}

// featureHops prints features found by a search.
func featureHops(e *env, hs []agileplus.GraphFeatureHop) error {
	t := newTable(e.stdout, "DEPTH", "FEATURE", "OPEN", "OPEN EST")
	for _, h := range hs {
		t.row(h.Depth, h.Slug, h.Open, hours(h.OpenEstimate))
	}
	return t.flush()
}

func newGraphPathCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "path FROM TO",
		Short: "The shortest chain FROM depends_on ... depends_on TO, between work packages or features",
		Long: "The shortest chain FROM depends_on ... depends_on TO. FROM and TO are two work\n" +
			"packages (keys or ids) or two features (slugs or ids); between features a step\n" +
			"is \"waits on\": through their work packages' dependencies or a feature-level one.",
		Example: "  agileplus graph path WEB-4 CORE-1\n  agileplus graph path login-flow auth-service",
		Args:    argNames("FROM", "TO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if agileplus.IsWPRef(args[0]) != agileplus.IsWPRef(args[1]) {
				return usagef(cmd, "FROM and TO must be two work packages or two features")
			}
			var names []string
			if !agileplus.IsWPRef(args[0]) {
				p, err := e.tracker().FeaturePath(cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				if e.asJSON {
					return printJSON(e.stdout, p)
				}
				for _, f := range p {
					names = append(names, fmt.Sprintf("%s (%d open)", f.Slug, f.Open))
				}
			} else {
				p, err := e.tracker().Path(cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				if e.asJSON {
					return printJSON(e.stdout, p)
				}
				for _, n := range p {
					names = append(names, n.Key+" ("+n.State+")")
				}
			}
			hops := "hops"
			if len(names) == 2 {
				hops = "hop"
			}
			_, err := fmt.Fprintf(e.stdout, "%s\n%d %s\n", strings.Join(names, " -> "), len(names)-1, hops)
			return err
		},
	}
}

func newGraphCriticalCmd(e *env) *cobra.Command {
	var project, feature string
	var pg agileplus.Page
	var all bool
	cmd := &cobra.Command{
		Use:   "critical (--project P | --feature F) [--limit N] [--after KEY | --all]",
		Short: "Critical path by estimate, with earliest and latest start and slack of the open work packages",
		Long: "Critical path by estimate, with earliest and latest start and slack of the open\n" +
			"work packages. The path is always whole; the schedule comes a page at a time in\n" +
			"key order: --limit work packages (default 100), after --after KEY, or every page\n" +
			"with --all (one JSON object with --json).",
		Example: "  agileplus graph critical --project CORE\n  agileplus graph critical --project CORE --after CORE-100\n  agileplus graph critical --feature login-flow --all --json",
		Args:    argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (project == "") == (feature == "") {
				return usagef(cmd, "pass exactly one of --project and --feature")
			}
			if all && pg.After != "" {
				return usagef(cmd, "pass --after or --all, not both")
			}
			cp, err := criticalPath(cmd.Context(), e.tracker(), project, feature, pg, all)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, cp)
			}
			keys := make([]string, len(cp.Path))
			for i, n := range cp.Path {
				keys[i] = n.Key
			}
			fmt.Fprintf(e.stdout, "critical path (%s): %s\n\n", hours(cp.Length), strings.Join(keys, " -> "))
			t := newTable(e.stdout, "KEY", "STATE", "EST", "EARLIEST START", "LATEST START", "SLACK")
			for _, s := range cp.WPs {
				t.row(s.Key, s.State, hours(s.Estimate), hours(s.EarliestStart), hours(s.LatestStart), hours(s.Slack))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if cp.Next != "" {
				fmt.Fprintf(e.stderr, "showing %s of %s open WPs; --all or --after %s for more\n", thousands(len(cp.WPs)), thousands(cp.Total), cp.Next)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "project id or key")
	cmd.Flags().StringVar(&feature, "feature", "", "feature id or slug")
	limitVar(cmd, &pg.Limit, "work packages per page")
	cmd.Flags().StringVar(&pg.After, "after", "", "work packages after this cursor: the next of the previous page (a WP key)")
	cmd.Flags().BoolVar(&all, "all", false, "every work package, a page at a time")
	return cmd
}

// criticalPath asks for one page of the schedule, or with all for every
// page, merged into one answer.
func criticalPath(ctx context.Context, t agileplus.Tracker, project, feature string, pg agileplus.Page, all bool) (*agileplus.GraphCriticalPath, error) {
	if !all {
		return t.CriticalPath(ctx, project, feature, pg)
	}
	if pg.Limit == 0 {
		pg.Limit = agileplus.MaxPageLimit
	}
	var res *agileplus.GraphCriticalPath
	for {
		cp, err := t.CriticalPath(ctx, project, feature, pg)
		if err != nil {
			return nil, err
		}
		if res == nil {
			res = cp
		} else {
			res.WPs = append(res.WPs, cp.WPs...)
		}
		if cp.Next == "" {
			res.Next = ""
			return res, nil
		}
		pg.After = cp.Next
	}
}

// thousands writes a count with commas: 65,130.
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func newGraphImpactCmd(e *env) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "impact (WP | FEATURE) [--limit N]",
		Short: "Everything that transitively waits on a work package or feature, and the estimate that slips",
		Long: "Everything that transitively waits on a work package or feature, and the estimate\n" +
			"that slips. For a feature (slug or id): the features that wait on it, across\n" +
			"projects, how many have open work packages, and those work packages' hours.",
		Example: "  agileplus graph impact CORE-3\n  agileplus graph impact login-flow",
		Args:    argNames("WP|FEATURE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !agileplus.IsWPRef(args[0]) {
				im, err := e.tracker().FeatureImpact(cmd.Context(), args[0], limit)
				if err != nil {
					return err
				}
				if e.asJSON {
					return printJSON(e.stdout, im)
				}
				fmt.Fprintf(e.stdout, "%s: %d features wait on it, %d with open work, %s of open work slips\n", im.Feature.Slug, im.Count, im.Open, hours(im.Estimate))
				if len(im.Features) == 0 {
					return nil
				}
				if err := featureHops(e, im.Features); err != nil {
					return err
				}
				if im.Truncated {
					fmt.Fprintf(e.stderr, "(%d listed of %d: pass --limit up to 1000)\n", len(im.Features), im.Count)
				}
				return nil
			}
			im, err := e.tracker().Impact(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, im)
			}
			fmt.Fprintf(e.stdout, "%s: %d work packages wait on it, %d open, %s of open work slips\n", im.WP.Key, im.Count, im.Open, hours(im.Estimate))
			if len(im.WPs) == 0 {
				return nil
			}
			t := newTable(e.stdout, "DEPTH", "KEY", "STATE", "EST")
			for _, h := range im.WPs {
				t.row(h.Depth, h.Key, h.State, hours(h.Estimate))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if im.Truncated {
				fmt.Fprintf(e.stderr, "(%d listed of %d: pass --limit up to 1000)\n", len(im.WPs), im.Count)
			}
			return nil
		},
	}
	limitVar(cmd, &limit, "work packages or features listed (the counts cover all)")
	return cmd
}

func newGraphCyclesCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "cycles PROJECT",
		Short: "Dependency cycles among the project's work packages (only imported data can have one)",
		Args:  argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cy, err := e.tracker().Cycles(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, cy)
			}
			if len(cy.Cycles) == 0 {
				_, err := fmt.Fprintf(e.stdout, "no cycles in %s\n", args[0])
				return err
			}
			for _, c := range cy.Cycles {
				fmt.Fprintln(e.stdout, strings.Join(c, " -> "))
			}
			return nil
		},
	}
}

func newGraphExportCmd(e *env) *cobra.Command {
	format := agileplus.ExportCompact
	cmd := &cobra.Command{
		Use:   "export PROJECT [--format json|dot|mermaid|compact]",
		Short: "The project's graph as JSON, Graphviz DOT, Mermaid, or compact text for an LLM",
		Example: `  agileplus graph export CORE --format dot | dot -Tsvg > core.svg
  agileplus graph export CORE   # one line per work package: key, state, what it waits on`,
		Args: argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.asJSON {
				if cmd.Flags().Changed("format") && format != agileplus.ExportJSON {
					return usagef(cmd, "--json and --format %s do not go together: pass --format %s or drop --json", format, agileplus.ExportJSON)
				}
				format = agileplus.ExportJSON
			}
			out, err := e.tracker().Export(cmd.Context(), args[0], format)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", format, "json, dot, mermaid or compact")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json", "dot", "mermaid", "compact"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newGraphFeaturesCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "features PROJECT",
		Short: "The project's features rolled up from their work packages, and what each waits on",
		Args:  argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fg, err := e.tracker().FeatureGraph(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, fg)
			}
			t := newTable(e.stdout, "FEATURE", "WPS", "OPEN", "OPEN EST", "WAITS ON")
			for _, f := range fg.Features {
				var waits []string
				for _, d := range f.DependsOn {
					switch {
					case d.Explicit:
						waits = append(waits, d.Slug+" (feature)")
					case d.Open > 0:
						waits = append(waits, fmt.Sprintf("%s (%d open)", d.Slug, d.Open))
					}
				}
				t.row(f.Slug, f.WPs, f.Open, hours(f.OpenEstimate), orDash(strings.Join(waits, ", ")))
			}
			if err := t.flush(); err != nil {
				return err
			}
			for i, l := range fg.Layers {
				fmt.Fprintf(e.stdout, "layer %d: %s\n", i, strings.Join(l, ", "))
			}
			if len(fg.Cyclic) > 0 {
				fmt.Fprintf(e.stdout, "waiting on each other: %s\n", strings.Join(fg.Cyclic, ", "))
			}
			return nil
		},
	}
}
