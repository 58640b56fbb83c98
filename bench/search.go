package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

// targetSearchP99 is the search goal at 100,000 WPs, embedded, in ms.
const targetSearchP99 = 10.0

const searchProject = "SRCH"

// searchVocab makes n pronounceable words from syllables, the same on every
// run: a text's words follow a Zipf law over them, as prose does.
func searchVocab(n int) []string {
	syl := []string{"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ber", "dan", "gor", "lin", "mas", "pet", "sol", "tur"}
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		var b strings.Builder
		for x := i + len(syl); x > 0; x /= len(syl) {
			b.WriteString(syl[x%len(syl)])
		}
		out = append(out, b.String())
	}
	return out
}

// search imports a project of b.sz.loadWPs WPs whose titles (4-8 words)
// and descriptions (15-40 words) are drawn from a 5,000-word Zipf
// vocabulary, then times Service.Search and GET /v1/search on queries of
// every kind: a rare word, a common one, two words, a short prefix, a key.
func (b *bench) search(ctx context.Context) error {
	dir, err := b.dir("search")
	if err != nil {
		return err
	}
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(dir, "agileplus.db")})
	if err != nil {
		return err
	}
	defer store.Close()
	svc := agileplus.NewService(store)
	sb := struct {
		vocab []string
		wps   int
	}{searchVocab(5000), b.sz.loadWPs}
	rng := rand.New(rand.NewPCG(3, 4))
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(sb.vocab)-1))
	words := func(lo, hi int) string {
		n := lo + rng.IntN(hi-lo+1)
		ws := make([]string, n)
		for i := range ws {
			ws[i] = sb.vocab[zipf.Uint64()]
		}
		return strings.Join(ws, " ")
	}
	var file bytes.Buffer
	enc := json.NewEncoder(&file)
	enc.Encode(agileplus.Record{Type: agileplus.RecProject, Key: searchProject, Name: "Search"})
	feats := b.sz.loadFeats
	for i := range feats {
		enc.Encode(agileplus.Record{Type: agileplus.RecFeature, Project: searchProject, Slug: fmt.Sprintf("search-%d", i), Title: words(2, 4), Description: words(15, 40)})
	}
	for i := range sb.wps {
		enc.Encode(agileplus.Record{Type: agileplus.RecWP, Key: fmt.Sprintf("%s-%d", searchProject, i+1), Feature: fmt.Sprintf("search-%d", i%feats),
			Title: words(4, 8), Description: words(15, 40)})
	}
	t0 := time.Now()
	if _, err := svc.BulkImport(ctx, &file, agileplus.ImportOptions{}); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	importTook := time.Since(t0)
	b.logf("search: imported %s WPs with their words in %s", fmtInt(sb.wps), importTook.Round(time.Millisecond))

	srv := httpapi.NewServer(svc, nil, nil, "bench")
	queries := []struct{ name, q string }{
		{"rare word (rank 3,000)", sb.vocab[3000]},
		{"mid word (rank 300)", sb.vocab[300]},
		{"common word (rank 20)", sb.vocab[20]},
		{"most common word (rank 2)", sb.vocab[2]},
		{"two words (ranks 20, 300)", sb.vocab[20] + " " + sb.vocab[300]},
		{"prefix (3 letters)", sb.vocab[500][:3]},
		{"a WP key", fmt.Sprintf("%s-%d", searchProject, sb.wps/2)},
	}
	s := b.rep.section(fmt.Sprintf("10. Search on a %s-WP project, in process (sequential calls after %d warm-up, first page of 100)", fmtInt(sb.wps), readWarmup),
		"query", "hits", "Service p50", "Service p99", "HTTP p50", "HTTP p99", "p99<10ms")
	var all []time.Duration
	for _, q := range queries {
		hits := 0
		sv, err := timeCalls(b.sz.readCalls/10, func() error {
			hs, err := svc.Search(ctx, agileplus.SearchQuery{Q: q.q})
			hits = len(hs)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		h, err := timeCalls(b.sz.readCalls/10, func() error {
			req := httptest.NewRequest(http.MethodGet, "/v1/search?q="+url.QueryEscape(q.q), nil)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET %s: %d %s", req.URL, rec.Code, rec.Body.Bytes())
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		all = append(all, sv.lat...)
		b.logf("search: %-28s %3d hits  p50 %s  p99 %s", q.name, hits, fmtDur(sv.pct(50)), fmtDur(sv.pct(99)))
		s.row(q.name, fmt.Sprint(hits), fmtDur(sv.pct(50)), fmtDur(sv.pct(99)), fmtDur(h.pct(50)), fmtDur(h.pct(99)), metOrMissed(ms(sv.pct(99)) < targetSearchP99))
	}
	slices.Sort(all)
	mix := result{lat: all}
	s.note("words: titles of 4-8 and descriptions of 15-40 words drawn from %d made-up words by a Zipf law (s=1.1); %s WPs in %d features imported in %s (FTS5 index built by the triggers)",
		len(sb.vocab), fmtInt(sb.wps), feats, importTook.Round(time.Millisecond))
	s.note("every query ranks all of its matches (key, title, text, then key order) before the first page")
	b.rep.below("Service search p99, all queries ("+fmtInt(sb.wps)+" WPs)", ms(mix.pct(99)), targetSearchP99, fmtMS)
	return nil
}
