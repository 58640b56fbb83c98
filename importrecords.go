package agileplus

import "math/bits"

// importRecords holds an import's records compactly. A Record is some 300
// bytes, mostly the headers of string fields its type does not use; a
// packedRecord keeps only the fields its line sets, so that the records an
// import holds until it commits take about a third of that.
type importRecords struct {
	recs []packedRecord
}

type packedRecord struct {
	typ  string   // interned for the known types
	strs []string // the string fields set, in the order of their bits
	est  float64  // with fEstimate in set
	desc spooled
	key  *KeyFields // a key record's own fields; nil on the others
	// history is a comment's earlier bodies.
	history []CommentRevision
	line    int32
	set     uint32 // fields set (f* bits)
}

// stringFields returns pointers to r's string fields, at the index of their
// bit; nil at the others' (fEstimate, fLabels, fKeyFields, fArchived,
// fHistory).
func (r *Record) stringFields() [25]*string {
	return [25]*string{&r.Key, &r.Name, &r.Project, &r.Slug, &r.Feature, &r.Title, &r.Description, &r.State, nil,
		&r.From, &r.To, &r.Kind, &r.WP, &r.Repo, &r.SHA, &r.URL, &r.Priority, &r.Owner, &r.Color, nil, nil, &r.Author, &r.Body, nil, nil}
}

// internType returns the record type's constant when it is a known one,
// so that the records share it.
func internType(t string) string {
	for _, k := range [...]string{RecProject, RecFeature, RecWP, RecDependency, RecReference, RecKey, RecLabel, RecComment} {
		if t == k {
			return k
		}
	}
	return t
}

// pack returns r packed.
func pack(r *Record) packedRecord {
	p := packedRecord{typ: internType(r.Type), desc: r.desc, key: r.KeyFields, line: int32(r.Line), history: r.History}
	if r.Archived {
		p.set |= fArchived
	}
	fs := r.stringFields()
	n := 0
	for _, f := range fs {
		if f != nil && *f != "" {
			n++
		}
	}
	// Labels go after the string fields: what is left of strs.
	if n += len(r.Labels); n > 0 {
		p.strs = make([]string, 0, n)
	}
	for b, f := range fs {
		if f != nil && *f != "" {
			p.set |= 1 << b
			s := *f
			if 1<<b == fKind {
				s = internKind(s)
			}
			p.strs = append(p.strs, s)
		}
	}
	if r.Estimate != nil {
		p.set |= fEstimate
		p.est = *r.Estimate
	}
	if len(r.Labels) > 0 {
		p.set |= fLabels
		p.strs = append(p.strs, r.Labels...)
	}
	return p
}

// internKind returns a dependency or reference kind's constant when it is
// a known one.
func internKind(k string) string {
	for _, c := range [...]string{DependsOn, RelatesTo, "commit", "pull_request"} {
		if k == c {
			return c
		}
	}
	return k
}

// unpack sets *r to the record p packs.
func (p *packedRecord) unpack(r *Record) {
	*r = Record{Type: p.typ, Line: int(p.line), desc: p.desc, KeyFields: p.key, History: p.history, Archived: p.set&fArchived != 0}
	fs := r.stringFields()
	i := 0
	for set := uint(p.set &^ (fEstimate | fLabels | fArchived)); set != 0; set &= set - 1 {
		*fs[bits.TrailingZeros(set)] = p.strs[i]
		i++
	}
	if p.set&fLabels != 0 {
		r.Labels = p.strs[i:]
	}
	if p.set&fEstimate != 0 {
		est := p.est
		r.Estimate = &est
	}
}

// len returns how many records there are.
func (rs *importRecords) len() int { return len(rs.recs) }

// get returns record i, unpacked.
func (rs *importRecords) get(i int) *Record {
	r := new(Record)
	rs.recs[i].unpack(r)
	return r
}

// set replaces record i.
func (rs *importRecords) set(i int, r *Record) { rs.recs[i] = pack(r) }

// sort puts the records in the canonical export order, as SortRecords does.
func (rs *importRecords) sort() {
	var a, b Record
	pos := recordOrder(len(rs.recs), func(i int32, second bool) *Record {
		r := &a
		if second {
			r = &b
		}
		rs.recs[i].unpack(r)
		return r
	})
	permute(rs.recs, pos)
}
