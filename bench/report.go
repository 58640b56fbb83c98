package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report collects the tables of each benchmark and the summary figures.
type report struct {
	sections []*section
	figures  []figure
}

// section is one benchmark's table and notes.
type section struct {
	title  string
	header []string
	rows   [][]string
	notes  []string
}

func (r *report) section(title string, header ...string) *section {
	s := &section{title: title, header: header}
	r.sections = append(r.sections, s)
	return s
}

func (s *section) row(cells ...string) { s.rows = append(s.rows, cells) }

func (s *section) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// figure is one line of the summary: a measurement against its target.
type figure struct {
	name, value, target, ratio, status string
}

// atLeast adds a figure whose target is a minimum.
func (r *report) atLeast(name string, v, target float64, format func(float64) string) {
	st := "MISSED"
	if v >= target {
		st = "MET"
	}
	r.figures = append(r.figures, figure{name, format(v), ">= " + format(target), fmt.Sprintf("%.2fx", v/target), st})
}

// below adds a figure whose target is a maximum.
func (r *report) below(name string, v, target float64, format func(float64) string) {
	st := "MISSED"
	if v < target {
		st = "MET"
	}
	r.figures = append(r.figures, figure{name, format(v), "< " + format(target), fmt.Sprintf("%.2fx", v/target), st})
}

// atMost adds a figure whose target is a maximum it may reach.
func (r *report) atMost(name string, v, target float64, format func(float64) string) {
	st := "MISSED"
	if v <= target {
		st = "MET"
	}
	r.figures = append(r.figures, figure{name, format(v), "<= " + format(target), fmt.Sprintf("%.2fx", v/target), st})
}

// info adds a figure without a target.
func (r *report) info(name, value string) {
	r.figures = append(r.figures, figure{name, value, "-", "-", "-"})
}

func (r *report) print(w io.Writer, header string) {
	fmt.Fprintln(w, header)
	for _, s := range r.sections {
		fmt.Fprintf(w, "\n== %s ==\n", s.title)
		table(w, s.header, s.rows)
		for _, n := range s.notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	fmt.Fprintf(w, "\n== Summary (ratio = measured / target) ==\n")
	rows := make([][]string, len(r.figures))
	met, missed := 0, 0
	for i, f := range r.figures {
		rows[i] = []string{f.name, f.value, f.target, f.ratio, f.status}
		switch f.status {
		case "MET":
			met++
		case "MISSED":
			missed++
		}
	}
	table(w, []string{"figure", "measured", "target", "ratio", "status"}, rows)
	fmt.Fprintf(w, "  %d targets met, %d missed\n", met, missed)
}

func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
}

// Formats.

func fmtRate(v float64) string { return commas(int64(v+0.5)) + "/s" }

func fmtInt(n int) string { return commas(int64(n)) }

func fmtMS(v float64) string { return fmtDur(time.Duration(v * float64(time.Millisecond))) }

func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.3f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f s", ms/1000)
	}
}

func fmtMB(v float64) string { return fmt.Sprintf("%.1f MB", v) }

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
