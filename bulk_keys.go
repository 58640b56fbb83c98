package agileplus

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// RecKey is the record type of an API key, keyed by its prefix.
const RecKey = "key"

// KeyFields are the fields only a key record has. The key's name is the
// record's Name. Hash is the hex SHA-256 of the key's secret: an export
// writes it only when asked (ExportOptions.KeyHashes), and an import
// recreates only keys that have it, for a key without its secret cannot
// be used.
type KeyFields struct {
	Prefix    string     `json:"prefix,omitempty"`
	Scope     string     `json:"scope,omitempty"`
	Projects  []string   `json:"projects,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	CreatedBy string     `json:"created_by,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Hash      string     `json:"hash,omitempty"`
}

// setNames returns the JSON names of the fields set in k.
func (k *KeyFields) setNames() []string {
	if k == nil {
		return nil
	}
	var out []string
	for _, f := range [...]struct {
		name string
		set  bool
	}{
		{"prefix", k.Prefix != ""}, {"scope", k.Scope != ""}, {"projects", k.Projects != nil}, {"created_at", k.CreatedAt != nil},
		{"created_by", k.CreatedBy != ""}, {"expires_at", k.ExpiresAt != nil}, {"revoked_at", k.RevokedAt != nil}, {"hash", k.Hash != ""},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// keyPrefix is a record's key prefix, "" if it has none.
func (r *Record) keyPrefix() string {
	if r.KeyFields == nil {
		return ""
	}
	return r.Prefix
}

// ExportOptions control an export.
type ExportOptions struct {
	// KeyHashes writes the hash of each API key's secret, so that an
	// import elsewhere recreates keys whose tokens keep working. Without
	// it, key records say which keys exist and the import skips them.
	KeyHashes bool
}

// keyRecords returns a record for every API key, revoked ones too.
func keyRecords(ctx context.Context, tx ReadTx, opts ExportOptions) ([]Record, error) {
	var recs []Record
	for pg := (Page{Limit: MaxPageLimit}); ; {
		ks, err := tx.APIKeys(ctx, pg)
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			created := k.CreatedAt.UTC()
			kf := &KeyFields{Prefix: k.Prefix, Scope: k.Scope, Projects: k.Projects, CreatedAt: &created, CreatedBy: k.CreatedBy,
				ExpiresAt: utcPtr(k.ExpiresAt), RevokedAt: utcPtr(k.RevokedAt)}
			if opts.KeyHashes {
				kf.Hash = k.Hash
			}
			recs = append(recs, Record{Type: RecKey, Name: k.Name, KeyFields: kf})
		}
		if len(ks) < pg.Limit {
			return recs, nil
		}
		pg.After = ks[len(ks)-1].ID
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// isHexHash reports whether s is a hex SHA-256 as HashSecret writes it.
func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isKeyPrefix reports whether s is a prefix as NewKeyToken makes them.
func isKeyPrefix(s string) bool {
	if len(s) != tokenPrefixLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(crockford, s[i]) < 0 {
			return false
		}
	}
	return true
}

// key plans key record i: recreated with its prefix and hash, unchanged if
// the same key exists, skipped without a hash. A record without a hash is
// checked all the same, as far as it can be without the store: a file is
// refused for a malformed record whether or not the import would use it.
func (pl *importPlanner) key(ctx context.Context, i int) error {
	rec := pl.recs.get(i)
	kf := rec.KeyFields
	if kf == nil {
		kf = &KeyFields{}
	}
	if !isKeyPrefix(kf.Prefix) {
		pl.problem(i, "prefix", "key prefix %s must be the 8 characters after ap_ in its tokens, as export writes it", QuoteRef(kf.Prefix))
		return nil
	}
	if kf.Hash != "" && !isHexHash(kf.Hash) {
		pl.problem(i, "hash", "key %s: hash must be 64 lower-case hex digits, as export --with-key-hashes writes it", kf.Prefix)
		return nil
	}
	// Checked as CreateKey checks them, but for the expiry: an expired
	// key is recreated expired.
	c := KeyCreate{Name: rec.Name, Scope: kf.Scope, Projects: kf.Projects}
	if err := c.Validate(pl.now); err != nil {
		pl.problem(i, ErrorField(err), "key %s: %s", kf.Prefix, ErrorMessage(err))
		return nil
	}
	if kf.Hash == "" {
		if pl.result.Skipped == nil {
			pl.result.Skipped = map[string]int{}
		}
		pl.result.Skipped[RecKey]++
		return nil
	}
	if pl.keys == nil {
		pl.keys = map[string]*APIKey{}
	}
	if _, dup := pl.keys[kf.Prefix]; dup {
		pl.conflict(i, "prefix", "key %s appears twice", kf.Prefix)
		return nil
	}
	var projects []string
	for _, p := range kf.Projects {
		if slices.Contains(projects, p) {
			continue
		}
		projects = append(projects, p)
		if pl.projects[p] != nil {
			continue
		}
		if pr, err := pl.tx.Project(ctx, p); err == nil {
			pl.projects[p] = pr
		} else if ok, err := found(err); err != nil {
			return err
		} else if !ok {
			pl.conflict(i, "projects", "key %s: no project %q in the file or the store", kf.Prefix, p)
			return nil
		}
	}
	k := &APIKey{Prefix: kf.Prefix, Name: strings.TrimSpace(rec.Name), Scope: kf.Scope, Projects: projects,
		CreatedAt: pl.now, CreatedBy: cmp.Or(kf.CreatedBy, ActorFrom(ctx)), ExpiresAt: utcPtr(kf.ExpiresAt), RevokedAt: utcPtr(kf.RevokedAt),
		Version: 1, Hash: kf.Hash}
	if kf.CreatedAt != nil {
		k.CreatedAt = kf.CreatedAt.UTC()
	}
	pl.keys[kf.Prefix] = k
	old, err := pl.tx.APIKey(ctx, kf.Prefix)
	if ok, err := found(err); err != nil {
		return err
	} else if ok {
		if !sameImportedKey(old, k) {
			pl.conflict(i, "prefix", "key %s exists with other content (another secret, name, scope, projects, expiry or revocation)", kf.Prefix)
		}
		pl.result.Unchanged[RecKey]++
		return nil
	}
	k.ID = pl.s.IDs.New(PrefixKey)
	pl.newRecord[i] = true
	return nil
}

// sameImportedKey reports whether a stored key is the one a record
// describes: its creation and last use are not compared.
func sameImportedKey(old, k *APIKey) bool {
	sameTime := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
	return old.Hash == k.Hash && old.Name == k.Name && old.Scope == k.Scope && slices.Equal(old.Projects, k.Projects) &&
		sameTime(old.ExpiresAt, k.ExpiresAt) && sameTime(old.RevokedAt, k.RevokedAt)
}

// writeImportedKey stores the key of record rec with its event.
func (s *Service) writeImportedKey(ctx context.Context, tx Tx, p *importPlan, rec *Record) error {
	k := p.keys[rec.Prefix]
	if err := tx.InsertAPIKey(ctx, k); err != nil {
		return err
	}
	if _, err := s.record(ctx, tx, change{kind: KindKey, entityID: k.ID, projectKey: SystemProject, action: "imported", created: true, data: k}); err != nil {
		return err
	}
	p.result.Events++
	return nil
}
