package agileplus

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Reference kinds: a WP points at the code that does it.
const (
	RefCommit      = "commit"
	RefPullRequest = "pull_request"
)

// Pull request states.
var PRStates = []string{"draft", "open", "merged", "closed"}

// Reference links a WP to a commit or a pull request.
type Reference struct {
	ID        string    `json:"id"`
	WPID      string    `json:"wp_id"`
	Kind      string    `json:"kind"` // commit or pull_request
	Repo      string    `json:"repo,omitempty"`
	SHA       string    `json:"sha,omitempty"`
	URL       string    `json:"url,omitempty"`
	State     string    `json:"state,omitempty"` // pull requests
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ReferenceCreate is the input of AddReference: a commit (sha and repo) or
// a pull request (url and state). Adding a pull request again updates its
// state; adding a commit again changes nothing.
type ReferenceCreate struct {
	Kind  string `json:"kind,omitempty" enum:"commit,pull_request" doc:"commit or pull_request; inferred from sha or url when empty"`
	Repo  string `json:"repo,omitempty" rule:"line" doc:"the repository of a commit, e.g. github.com/acme/api"`
	SHA   string `json:"sha,omitempty" pattern:"^[0-9a-fA-F]{7,64}$" doc:"commit hash, 7-64 hex digits"`
	URL   string `json:"url,omitempty" rule:"prurl" doc:"pull request URL, http(s)"`
	State string `json:"state,omitempty" enum:"draft,open,merged,closed" doc:"pull request state: draft, open (default), merged or closed"`
}

// PrefixReference prefixes reference ids.
const PrefixReference = "ref_"

var shaRE = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// Validate checks and normalizes a ReferenceCreate.
func (c *ReferenceCreate) Validate() error { return c.validate(true) }

// validate is Validate; strict false is for imports (see checkName).
func (c *ReferenceCreate) validate(strict bool) error {
	c.SHA = strings.ToLower(strings.TrimSpace(c.SHA))
	if !strict {
		c.URL = strings.TrimSpace(c.URL)
	}
	if !strict && utf8.RuneCountInString(c.Repo) > 200 {
		// As the file has it: the bound the document declares for it.
		return FieldErrorf("repo", "repo is longer than 200 characters")
	}
	c.Repo = strings.TrimSpace(c.Repo)
	if c.Kind == "" {
		switch {
		case c.SHA != "" && c.URL == "":
			c.Kind = RefCommit
		case c.URL != "" && c.SHA == "":
			c.Kind = RefPullRequest
		default:
			return FieldErrorf("kind", "kind is required: commit (with sha and repo) or pull_request (with url)")
		}
	}
	switch c.Kind {
	case RefCommit:
		switch {
		case c.SHA == "":
			return FieldErrorf("sha", "sha is required for a commit")
		case !shaRE.MatchString(c.SHA):
			return FieldErrorf("sha", "sha %q must be 7 to 64 hex digits", c.SHA)
		case c.Repo == "":
			return FieldErrorf("repo", "repo is required for a commit")
		case c.URL != "" || c.State != "":
			return FieldErrorf("url", "a commit takes sha and repo, not url or state")
		}
		return checkName("repo", c.Repo, true, strict)
	case RefPullRequest:
		u, err := url.Parse(c.URL)
		switch {
		case c.URL == "":
			return FieldErrorf("url", "url is required for a pull request")
		case len(c.URL) > 2000:
			return FieldErrorf("url", "url is longer than 2000 characters")
		case strict && !pullRequestURLRE.MatchString(c.URL),
			err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			// An import takes what url.Parse reads, as earlier versions
			// stored; a request, the grammar its document declares.
			return FieldErrorf("url", "url %q must be an http or https URL: a host name or IPv4 address, an optional port, and a path and query of URL characters", c.URL)
		case c.SHA != "":
			return FieldErrorf("sha", "a pull request takes url and state, not sha")
		}
		if c.State == "" {
			c.State = "open"
		} else if !slices.Contains(PRStates, c.State) {
			return FieldErrorf("state", "unknown pull request state %q; states are %v", c.State, PRStates)
		}
		if c.Repo != "" {
			return checkName("repo", c.Repo, false, strict)
		}
		return nil
	default:
		return FieldErrorf("kind", "unknown reference kind %q: commit or pull_request", c.Kind)
	}
}
