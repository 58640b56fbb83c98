package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/agileplus/agileplus"
)

// Artifacts are uploaded and downloaded as raw bodies, streamed: neither
// way holds an artifact in memory.

const artifactIDPattern = "^" + agileplus.PrefixArtifact + "[0-9a-hjkmnp-tv-z]{26}$"

var artifactListParams = append([]param{
	{name: "prefix", typ: "string", doc: "only artifacts whose names start with this", schema: map[string]any{"minLength": 1, "maxLength": agileplus.MaxArtifactName, "pattern": `^[^\x00]*$`}},
	boolParam("deleted", "list the deleted artifacts (which can be restored) instead of the live ones"),
}, cursorParams(artifactIDPattern)...)

// artifactNamePattern is a file name (CheckArtifactName): no slash or
// control character, and not . or .. (spelt out: no lookahead).
const (
	nameChar            = `[^/\\\x00-\x1f\x7f-\x9f]`
	nameCharNoDot       = `[^/\\\x00-\x1f\x7f-\x9f.]`
	artifactNamePattern = `^(` + nameCharNoDot + nameChar + `*|\.` + nameCharNoDot + nameChar + `*|\.\.` + nameChar + `+)$`
)

var artifactUploadParams = []param{
	{name: "name", typ: "string", required: true, doc: "the file name: 1-255 bytes of UTF-8 (format file-name), no control characters, no slash, not . or ..; only shown (the object key comes from the artifact's id)",
		schema: map[string]any{"minLength": 1, "maxLength": agileplus.MaxArtifactName, "pattern": artifactNamePattern, "format": "file-name"}},
	{name: "label", typ: "string", repeat: true, maxItems: agileplus.MaxLabels, doc: "labels of the artifact (repeat for several)", schema: map[string]any{"pattern": agileplus.LabelPattern}},
}

// The checksum headers' forms: a SHA-256 in base64 (32 bytes: 43
// characters and one '='), or in hex; Digest is a list of algorithm=value
// (RFC 3230), of which sha-256 is checked and the others are not.
const (
	sha256Base64    = `[A-Za-z0-9+/]{43}=`
	digestPattern   = `^\s*([A-Za-z0-9-]+=[^,]*,\s*)*[Ss][Hh][Aa]-256=` + sha256Base64 + `(\s*,\s*[A-Za-z0-9-]+=[^,]*)*\s*$`
	checksumHexOr64 = `^\s*([0-9A-Fa-f]{64}|` + sha256Base64 + `)\s*$`
)

var artifactUploadHeaders = []param{
	{name: "Digest", typ: "string", doc: "sha-256=<base64 of the SHA-256 of the body>: the upload is refused (400, field sha256) when the body's differs",
		schema: map[string]any{"pattern": digestPattern}},
	{name: "X-Checksum-Sha256", typ: "string", doc: "the SHA-256 of the body, in hex or base64: as Digest",
		schema: map[string]any{"pattern": checksumHexOr64}},
}

var artifactDownloadHeaders = []param{
	{name: "Range", typ: "string", doc: "bytes=start-end: a part of the artifact (206)"},
	{name: "If-None-Match", typ: "string", doc: "the ETag last seen: 304 when the artifact is the same"},
}

const noArtifacts = "this server keeps no artifacts, or its blob store is unavailable"

func (s *Server) artifactRoutes() []route {
	upload := func(kind, param string) route {
		return route{scope: agileplus.ScopeWrite, method: "POST", path: "/v1/" + kind + "s/{" + param + "}/artifacts", id: "add" + map[string]string{agileplus.KindWP: "WP", agileplus.KindFeature: "Feature"}[kind] + "Artifact",
			summary: "Upload an artifact onto a " + kind + ": the raw body, streamed, with its Content-Type kept; size and SHA-256 are computed on the way", status: 201,
			query: artifactUploadParams, headers: artifactUploadHeaders, consumes: "application/octet-stream",
			consumesDoc:    "the artifact's bytes, of any content type (the Content-Type header is kept with it)",
			consumesSchema: func(*schemaGen) map[string]any { return map[string]any{"type": "string", "format": "binary"} },
			out:            reflect.TypeFor[agileplus.Artifact](), handler: s.handleArtifactUpload(kind, param),
			errs: map[string]string{"413": "the body is larger than the server's artifact limit (--artifact-max-size)", "503": noArtifacts}}
	}
	lister := func(kind, param string) route {
		return op(s, "GET", "/v1/"+kind+"s/{"+param+"}/artifacts", "List a "+kind+"'s artifacts by id", 200, artifactListParams,
			func(r *http.Request, _ *noBody) (*List[*agileplus.Artifact], error) {
				pg, err := idPage(r, agileplus.PrefixArtifact)
				if err != nil {
					return nil, err
				}
				deleted, err := queryBool(r, "deleted")
				if err != nil {
					return nil, err
				}
				a, err := s.artifacts()
				if err != nil {
					return nil, err
				}
				as, err := a.ListArtifacts(r.Context(), kind, r.PathValue(param), agileplus.ArtifactFilter{Prefix: r.URL.Query().Get("prefix"), Deleted: deleted, Page: pg})
				return list(as, pg.Limit, func(a *agileplus.Artifact) string { return a.ID }), err
			}).needs(agileplus.ScopeRead)
	}
	// HEAD is served by the GET handler (see mux), headers and all.
	download := func(method string) route {
		return route{scope: agileplus.ScopeRead, method: method, path: "/v1/artifacts/{artifact}", summary: "An artifact's bytes, with ETag (its SHA-256), Range (206) and If-None-Match (304); HEAD answers the same headers",
			status: 200, headers: artifactDownloadHeaders, produceTypes: []string{"application/octet-stream"}, ranges: true, handler: s.handleArtifactDownload,
			errs: map[string]string{"404": "no such artifact, or it is deleted", "416": "the range is outside the artifact", "503": noArtifacts}}
	}
	change := func(method, path, summary string, fn func(agileplus.Artifacts, context.Context, string) (*agileplus.Artifact, error)) route {
		return op(s, method, path, summary, 200, nil, func(r *http.Request, _ *noBody) (*agileplus.Artifact, error) {
			a, err := s.artifacts()
			if err != nil {
				return nil, err
			}
			return fn(a, r.Context(), r.PathValue("artifact"))
		}).needs(agileplus.ScopeWrite)
	}
	rs := []route{
		upload(agileplus.KindWP, "wp"), lister(agileplus.KindWP, "wp"),
		upload(agileplus.KindFeature, "feature"), lister(agileplus.KindFeature, "feature"),
		download("GET"),
		op(s, "GET", "/v1/artifacts/{artifact}/meta", "An artifact's description, deleted or not", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.Artifact, error) {
			a, err := s.artifacts()
			if err != nil {
				return nil, err
			}
			return a.Artifact(r.Context(), r.PathValue("artifact"))
		}).needs(agileplus.ScopeRead),
		change("DELETE", "/v1/artifacts/{artifact}", "Delete an artifact softly: it can be restored; deleting one deleted records nothing", agileplus.Artifacts.DeleteArtifact),
		change("POST", "/v1/artifacts/{artifact}/restore", "Restore a deleted artifact", agileplus.Artifacts.RestoreArtifact),
	}
	for i := range rs {
		if rs[i].errs == nil {
			rs[i].errs = map[string]string{"503": noArtifacts}
		}
	}
	return rs
}

func (s *Server) artifacts() (agileplus.Artifacts, error) {
	if s.Artifacts == nil {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "this server keeps no artifacts")
	}
	return s.Artifacts, nil
}

// bodySHA256 reads the checksum headers, hex (or base64) into hex.
func bodySHA256(r *http.Request) (string, error) {
	var sum string
	if d := r.Header.Get("Digest"); d != "" {
		for part := range strings.SplitSeq(d, ",") {
			alg, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(alg, "sha-256") {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil || len(b) != 32 {
					return "", agileplus.FieldErrorf("Digest", "Digest sha-256= must be the base64 of 32 bytes")
				}
				sum = hex.EncodeToString(b)
			}
		}
		if sum == "" {
			return "", agileplus.FieldErrorf("Digest", "Digest has no sha-256=: it is the only algorithm checked")
		}
	}
	if x := strings.TrimSpace(r.Header.Get("X-Checksum-Sha256")); x != "" {
		v := strings.ToLower(x)
		if _, err := hex.DecodeString(v); err != nil || len(v) != 64 {
			b, err := base64.StdEncoding.DecodeString(x)
			if err != nil || len(b) != 32 {
				return "", agileplus.FieldErrorf("X-Checksum-Sha256", "X-Checksum-Sha256 must be 64 hex digits or the base64 of 32 bytes")
			}
			v = hex.EncodeToString(b)
		}
		if sum != "" && sum != v {
			return "", agileplus.FieldErrorf("X-Checksum-Sha256", "Digest and X-Checksum-Sha256 disagree")
		}
		sum = v
	}
	return sum, nil
}

func (s *Server) handleArtifactUpload(kind, param string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = withActor(r)
		a, err := s.artifacts()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sum, err := bodySHA256(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ct := r.Header.Get("Content-Type")
		if ct != "" {
			if _, _, err := mime.ParseMediaType(ct); err != nil {
				s.fail(w, r, agileplus.FieldErrorf("Content-Type", "Content-Type %s is not a media type", agileplus.QuoteRef(ct)))
				return
			}
		}
		q := r.URL.Query()
		in := agileplus.ArtifactAdd{Name: q.Get("name"), ContentType: ct, Labels: q["label"], Size: r.ContentLength, SHA256: sum}
		art, err := a.AddArtifact(r.Context(), kind, r.PathValue(param), in, r.Body)
		var big *agileplus.ArtifactTooLarge
		if errors.As(err, &big) {
			// The rest of the body is not read: close the connection
			// rather than drain it.
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, ErrorDetail{Code: agileplus.EINVALID, Field: "size", Message: big.Error()})
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Location", "/v1/artifacts/"+art.ID)
		w.Header().Set("ETag", `"`+art.SHA256+`"`)
		writeJSON(w, http.StatusCreated, art)
	}
}

func (s *Server) handleArtifactDownload(w http.ResponseWriter, r *http.Request) {
	a, err := s.artifacts()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := refuseBody(w, r, nil); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	art, err := a.Artifact(ctx, r.PathValue("artifact"))
	if err == nil && art.DeletedAt != nil {
		err = &agileplus.Error{Code: agileplus.ENOTFOUND, Field: "artifact", Message: fmt.Sprintf("artifact %s is deleted; restore it to read it", art.ID)}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("ETag", `"`+art.SHA256+`"`)
	h.Set("Content-Type", art.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": art.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	rs := &artifactSeeker{ctx: ctx, a: a, id: art.ID, size: art.Size}
	defer rs.Close()
	http.ServeContent(&rangeErrorWriter{ResponseWriter: w}, r, "", art.CreatedAt, rs)
}

// rangeErrorWriter answers http.ServeContent's 416 (a Range outside the
// artifact) as the API's other errors are, in JSON, keeping the
// Content-Range header that gives the artifact's size.
type rangeErrorWriter struct {
	http.ResponseWriter
	refused bool
}

func (w *rangeErrorWriter) WriteHeader(code int) {
	if code != http.StatusRequestedRangeNotSatisfiable {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.refused = true
	w.Header().Del("Content-Disposition")
	writeError(w.ResponseWriter, code, ErrorDetail{Code: agileplus.EINVALID, Field: "Range",
		Message: "the range is outside the artifact: Content-Range gives its size (bytes */SIZE)"})
}

// Write drops ServeContent's plain-text message after a 416.
func (w *rangeErrorWriter) Write(b []byte) (int, error) {
	if w.refused {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// artifactSeeker is an io.ReadSeeker over an artifact for
// http.ServeContent: each seek drops the open read, and a read opens the
// range from the offset to the end.
type artifactSeeker struct {
	ctx  context.Context
	a    agileplus.Artifacts
	id   string
	size int64
	off  int64
	rc   io.ReadCloser
}

func (s *artifactSeeker) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if s.rc == nil {
		rc, _, err := s.a.OpenArtifact(s.ctx, s.id, &agileplus.BlobRange{Start: s.off, Length: -1})
		if err != nil {
			return 0, err
		}
		s.rc = rc
	}
	n, err := s.rc.Read(p)
	s.off += int64(n)
	return n, err
}

func (s *artifactSeeker) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.size
	}
	if offset < 0 {
		return 0, errors.New("seek before the start")
	}
	if offset != s.off {
		s.Close()
		s.off = offset
	}
	return offset, nil
}

func (s *artifactSeeker) Close() error {
	if s.rc == nil {
		return nil
	}
	err := s.rc.Close()
	s.rc = nil
	return err
}
