package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/agileplus/agileplus"
)

var _ agileplus.Artifacts = (*Client)(nil)

// ownerPath is the path of a WP's or feature's artifacts.
func ownerPath(kind, ref string) (string, error) {
	switch kind {
	case agileplus.KindWP, agileplus.KindFeature:
		return "/v1/" + kind + "s/" + esc(ref) + "/artifacts", nil
	}
	return "", agileplus.FieldErrorf("owner", "artifacts belong to a wp or a feature, not %s", agileplus.QuoteRef(kind))
}

// stream sends a request with a raw body (or none) and returns the
// response of a success; the caller closes its body.
func (c *Client) stream(ctx context.Context, method, path string, q url.Values, hdr http.Header, body io.Reader, size int64) (*http.Response, error) {
	if c.bad != nil {
		return nil, c.bad
	}
	u := c.base + path
	if q = nonEmpty(q); len(q) > 0 {
		u += "?" + q.Encode()
	}
	var br *bodyReader
	if body != nil {
		br = &bodyReader{r: body}
		body = br
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %s %s: make the request: %w", method, path, err)
	}
	if body != nil {
		// Unknown (-1) is sent chunked; a known size as Content-Length.
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	c.authorize(req)
	setTraceParent(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.sendError(ctx, method, path, err, br)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}

// AddArtifact implements agileplus.Artifacts: body is streamed, with
// in.Size as its Content-Length when known.
func (c *Client) AddArtifact(ctx context.Context, ownerKind, ownerRef string, in agileplus.ArtifactAdd, body io.Reader) (*agileplus.Artifact, error) {
	path, err := ownerPath(ownerKind, ownerRef)
	if err != nil {
		return nil, err
	}
	q := url.Values{"name": {in.Name}, "label": in.Labels}
	hdr := http.Header{}
	if in.ContentType != "" {
		hdr.Set("Content-Type", in.ContentType)
	}
	if in.SHA256 != "" {
		hdr.Set("X-Checksum-Sha256", in.SHA256)
	}
	resp, err := c.stream(ctx, "POST", path, q, hdr, body, in.Size)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return decodeArtifact(c, resp, "POST", path)
}

func decodeArtifact(c *Client, resp *http.Response, method, path string) (*agileplus.Artifact, error) {
	var a *agileplus.Artifact
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, c.notAgilePlus(method, path, err.Error())
	}
	if p := answerProblem(&a); p != "" {
		return nil, c.notAgilePlus(method, path, p)
	}
	return a, nil
}

// Artifact implements agileplus.Artifacts.
func (c *Client) Artifact(ctx context.Context, id string) (a *agileplus.Artifact, err error) {
	err = c.do(ctx, "GET", "/v1/artifacts/"+esc(id)+"/meta", nil, 0, nil, &a)
	return a, err
}

// OpenArtifact implements agileplus.Artifacts.
func (c *Client) OpenArtifact(ctx context.Context, id string, rng *agileplus.BlobRange) (io.ReadCloser, *agileplus.Artifact, error) {
	a, err := c.Artifact(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	hdr := http.Header{}
	// The download must be the bytes described: If-Match on its ETag.
	hdr.Set("If-Match", `"`+a.SHA256+`"`)
	if rng != nil {
		end := ""
		if rng.Length > 0 {
			end = strconv.FormatInt(rng.Start+rng.Length-1, 10)
		}
		hdr.Set("Range", "bytes="+strconv.FormatInt(rng.Start, 10)+"-"+end)
	}
	resp, err := c.stream(ctx, "GET", "/v1/artifacts/"+esc(id), nil, hdr, nil, 0)
	if err != nil {
		return nil, nil, err
	}
	return resp.Body, a, nil
}

// ListArtifacts implements agileplus.Artifacts.
func (c *Client) ListArtifacts(ctx context.Context, ownerKind, ownerRef string, f agileplus.ArtifactFilter) ([]*agileplus.Artifact, error) {
	path, err := ownerPath(ownerKind, ownerRef)
	if err != nil {
		return nil, err
	}
	q := pageQuery(f.Page)
	q.Set("prefix", f.Prefix)
	if f.Deleted {
		q.Set("deleted", "true")
	}
	var l List[*agileplus.Artifact]
	err = c.do(ctx, "GET", path, q, 0, nil, &l)
	return l.Items, err
}

// DeleteArtifact implements agileplus.Artifacts.
func (c *Client) DeleteArtifact(ctx context.Context, id string) (a *agileplus.Artifact, err error) {
	err = c.do(ctx, "DELETE", "/v1/artifacts/"+esc(id), nil, 0, nil, &a)
	return a, err
}

// RestoreArtifact implements agileplus.Artifacts.
func (c *Client) RestoreArtifact(ctx context.Context, id string) (a *agileplus.Artifact, err error) {
	err = c.do(ctx, "POST", "/v1/artifacts/"+esc(id)+"/restore", nil, 0, nil, &a)
	return a, err
}
