package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agileplus/agileplus"
)

// printJSON writes v as indented JSON: the exact encoding of the domain
// values, for scripts and agents.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listJSON makes an empty list print as [] rather than null.
func listJSON[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

// pageJSON is the --json answer of every list command: the items, and
// the cursor of the next page when this one came back full (there may
// be more; pass it as --after). A list the API does not page has no next.
// A script thus never takes a full page for all there is.
type pageJSON[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// printPage prints a page of a list as pageJSON.
func printPage[T any](w io.Writer, items []T, next string) error {
	return printJSON(w, pageJSON[T]{Items: listJSON(items), Next: next})
}

// nextCursor is the cursor of the page after items, a page asked for
// with limit (0: the default): the cursor of the last item when the page
// is full, else "".
func nextCursor[T any](items []T, limit int, cursor func(T) string) string {
	if limit == 0 {
		limit = agileplus.DefaultPageLimit
	}
	if n := len(items); n > 0 && n >= limit {
		return cursor(items[n-1])
	}
	return ""
}

// table prints aligned columns for people.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(anys(headers)...)
	return t
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// row adds a line; tabs and newlines inside a cell would break the columns.
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, cell(fmt.Sprint(c)))
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() error { return t.tw.Flush() }

var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func cell(s string) string { return cellReplacer.Replace(s) }

// fields prints "Label: value" lines with the values aligned.
func fields(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], cell(kv[i+1]))
	}
	return tw.Flush()
}

// hours formats an estimate in hours: "4h", "0.5h".
func hours(h float64) string {
	return strconv.FormatFloat(h, 'f', -1, 64) + "h"
}

// when formats a time for people, in the local zone.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// untilNow says how far ahead t is: "in 14m59s", or "expired".
func untilNow(t time.Time) string {
	d := time.Until(t).Round(time.Second)
	if d <= 0 {
		return "expired"
	}
	return "in " + d.String()
}

// claimedBy describes the live lease of a WP for a table cell.
func claimedBy(l *agileplus.Lease) string {
	if l == nil {
		return "-"
	}
	return l.Agent
}

// orDash shows empty values as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// relation says how the other end of an edge relates to the WP or feature
// asked about, in words.
func relation(direction string) string {
	switch direction {
	case agileplus.DependsOn:
		return "waits on"
	case agileplus.Blocks:
		return "blocks"
	case agileplus.RelatesTo:
		return "relates to"
	}
	return direction
}

// printEdges prints the dependencies of one WP or feature.
func printEdges(w io.Writer, edges []*agileplus.Edge) error {
	t := newTable(w, "RELATION", "OTHER", "STATE", "ID")
	for _, e := range edges {
		state := e.OtherState
		if e.OtherArchived {
			state += " (archived)"
		}
		t.row(relation(e.Direction), e.OtherKey, state, e.ID)
	}
	return t.flush()
}

// printWPs prints work packages; slugs maps feature ids to slugs.
func printWPs(w io.Writer, ws []*agileplus.WP, slugs map[string]string) error {
	t := newTable(w, "KEY", "STATE", "PRIORITY", "EST", "FEATURE", "OWNER", "CLAIMED BY", "TITLE")
	for _, wp := range ws {
		feature := wp.FeatureID
		if s, ok := slugs[wp.FeatureID]; ok {
			feature = s
		}
		t.row(wp.Key, wp.State, wp.Priority, hours(wp.Estimate), feature, orDash(wp.Owner), claimedBy(wp.Lease), wp.Title)
	}
	return t.flush()
}

// printFeatures prints features.
func printFeatures(w io.Writer, fs []*agileplus.Feature) error {
	t := newTable(w, "SLUG", "PROJECT", "STATE", "PRIORITY", "VERSION", "TITLE")
	for _, f := range fs {
		t.row(f.Slug, f.ProjectKey, f.State, f.Priority, f.Version, f.Title)
	}
	return t.flush()
}

// moreHint tells people how to get the next page, when there may be one.
func moreHint(w io.Writer, next string) {
	if next != "" {
		fmt.Fprintf(w, "(more: pass --after %s)\n", next)
	}
}

// eventLabel names the entity an event is about for people: the key or
// slug found in its data, else its id.
func eventLabel(e *agileplus.Event) string {
	var d struct {
		Key     string `json:"key"`
		Slug    string `json:"slug"`
		FromKey string `json:"from_key"`
		Kind    string `json:"kind"`
		ToKey   string `json:"to_key"`
		WP      *struct {
			Key string `json:"key"`
		} `json:"wp"`
		Feature *struct {
			Slug string `json:"slug"`
		} `json:"feature"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return e.EntityID
	}
	switch {
	case d.Key != "":
		return d.Key
	case d.Slug != "":
		return d.Slug
	case d.WP != nil && d.WP.Key != "":
		return d.WP.Key
	case d.Feature != nil && d.Feature.Slug != "":
		return d.Feature.Slug
	case d.FromKey != "":
		return d.FromKey + " " + d.Kind + " " + d.ToKey
	}
	return e.EntityID
}
