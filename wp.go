package agileplus

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Work package states.
const (
	WPPlanned = "planned"
	WPDoing   = "doing"
	WPReview  = "review"
	WPDone    = "done"
	WPBlocked = "blocked"
)

// WPStates lists the work package states.
var WPStates = []string{WPPlanned, WPDoing, WPReview, WPDone, WPBlocked}

// wpTransitions is the WP state machine; done is terminal.
var wpTransitions = map[string][]string{
	WPPlanned: {WPDoing, WPBlocked},
	WPDoing:   {WPReview, WPBlocked},
	WPReview:  {WPDone, WPDoing},
	WPBlocked: {WPPlanned, WPDoing},
	WPDone:    nil,
}

// WPTransitionCheck applies the WP state machine to the WP key (its key,
// for the message).
func WPTransitionCheck(key, from, to string) error {
	if !slices.Contains(WPStates, to) {
		return FieldErrorf("to", "unknown work package state %q; the states are %s", to, inWords(WPStates, "and"))
	}
	if from == WPDone {
		return &Error{Code: ERULE, Field: "to", Message: fmt.Sprintf("wp %s is done, and done is terminal: it cannot move to %s", key, to)}
	}
	if !slices.Contains(wpTransitions[from], to) {
		return &Error{Code: ERULE, Field: "to", Message: fmt.Sprintf("wp %s cannot move from %s to %s: from %s it can move to %s", key, from, to, from, inWords(wpTransitions[from], "or"))}
	}
	return nil
}

// inWords lists words as a sentence does: "a, b or c".
func inWords(words []string, and string) string {
	switch len(words) {
	case 0:
		return "nothing"
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + and + " " + words[len(words)-1]
}

// WP is a work package: the unit of work a person or an agent claims.
type WP struct {
	ID          string  `json:"id"`
	Key         string  `json:"key"` // "<PROJECT>-<n>"
	ProjectID   string  `json:"project_id"`
	ProjectKey  string  `json:"project_key"`
	FeatureID   string  `json:"feature_id"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	State       string  `json:"state"`
	Estimate    float64 `json:"estimate"` // hours
	Priority    string  `json:"priority" enum:"urgent,high,normal,low"`
	// Labels are sorted and lower-case; Owner is who answers for the WP,
	// whoever holds its claim.
	Labels  []string `json:"labels,omitempty"`
	Owner   string   `json:"owner,omitempty"`
	Version int64    `json:"version"`
	Lease   *Lease   `json:"lease,omitempty"` // the live claim, if any
	// References are the commits and pull requests of the WP; only a
	// single-WP read fills them in.
	References []*Reference `json:"references,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	// ArchivedAt is when it was archived; nil while it is not.
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// MaxWPNumber bounds the number in a WP key (the graph index packs it into
// 40 bits).
const MaxWPNumber = 1<<40 - 1

// WPKeyPattern is a WP's key as an import file gives it: its project's
// key, a dash and its number from 1 to MaxWPNumber, written without
// leading zeros. The number's alternatives spell out 1 to 1099511627775.
const WPKeyPattern = `^[A-Z][A-Z0-9]{1,15}-([1-9][0-9]{0,11}|10[0-8][0-9]{10}|109[0-8][0-9]{9}|1099[0-4][0-9]{8}|` +
	`109950[0-9]{7}|1099510[0-9]{6}|1099511[0-5][0-9]{5}|10995116[0-1][0-9]{4}|109951162[0-6][0-9]{3}|` +
	`1099511627[0-6][0-9]{2}|10995116277[0-6][0-9]|109951162777[0-4]|1099511627775)$`

var wpKeyRE = regexp.MustCompile(WPKeyPattern)

// IsWPKey reports whether k matches WPKeyPattern.
func IsWPKey(k string) bool { return wpKeyRE.MatchString(k) }

// DefaultEstimate is the estimate, in hours, of a WP created without one.
const DefaultEstimate = 1.0

// MaxEstimate bounds estimates (hours): ten working years.
const MaxEstimate = 20000.0

// WPCreate is the input of CreateWP.
type WPCreate struct {
	Title       string   `json:"title" rule:"name"`
	Description string   `json:"description,omitempty" rule:"text"`
	Estimate    *float64 `json:"estimate,omitempty" minimum:"0" maximum:"20000" default:"1" doc:"hours, default 1"`
	Priority    string   `json:"priority,omitempty" enum:"urgent,high,normal,low" default:"normal" doc:"urgent, high, normal (default) or low"`
	Labels      []string `json:"labels,omitempty" maxItems:"20" pattern:"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,39}$" doc:"free-form labels, stored in lower case"`
	Owner       string   `json:"owner,omitempty" rule:"optname" doc:"the person or agent responsible, apart from any claim"`
}

// WPUpdate is the input of UpdateWP; nil fields are left alone.
type WPUpdate struct {
	Title       *string  `json:"title,omitempty" rule:"name"`
	Description *string  `json:"description,omitempty" rule:"text"`
	Estimate    *float64 `json:"estimate,omitempty" minimum:"0" maximum:"20000" doc:"hours"`
	Priority    *string  `json:"priority,omitempty" enum:"urgent,high,normal,low"`
	// Labels replaces the WP's labels; an empty list removes them all.
	Labels *[]string `json:"labels,omitempty" maxItems:"20" pattern:"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,39}$" doc:"the new set of labels, replacing the old; [] removes them"`
	Owner  *string   `json:"owner,omitempty" rule:"optname" doc:"the new owner; empty for none"`
}

// validateEstimate checks an estimate and turns -0 into 0, which JSON
// would otherwise echo back as -0.
func validateEstimate(e *float64) error {
	if e != nil && (math.IsNaN(*e) || *e < 0 || *e > MaxEstimate) {
		return FieldErrorf("estimate", "estimate must be a number of hours between 0 and %g", MaxEstimate)
	}
	if e != nil && *e == 0 {
		*e = 0
	}
	return nil
}

// Validate checks the fields of a WPCreate.
func (c *WPCreate) Validate() error { return c.validate(true) }

// validate is Validate; strict false is for imports (see checkName).
func (c *WPCreate) validate(strict bool) error {
	if err := checkName("title", c.Title, true, strict); err != nil {
		return err
	}
	if err := checkText("description", c.Description, strict); err != nil {
		return err
	}
	if err := validateEstimate(c.Estimate); err != nil {
		return err
	}
	if c.Priority == "" {
		c.Priority = DefaultPriority
	} else if err := validatePriority("priority", c.Priority); err != nil {
		return err
	}
	if c.Labels != nil {
		if err := normalizeLabels("labels", &c.Labels); err != nil {
			return err
		}
	}
	if err := validateOwner("owner", c.Owner); err != nil {
		return err
	}
	c.Owner = strings.TrimSpace(c.Owner)
	return nil
}

// Validate checks the fields of a WPUpdate.
func (u *WPUpdate) Validate() error {
	if u.Title != nil {
		if err := validateName("title", *u.Title, true); err != nil {
			return err
		}
	}
	if u.Description != nil {
		if err := validateText("description", *u.Description); err != nil {
			return err
		}
	}
	if err := validateEstimate(u.Estimate); err != nil {
		return err
	}
	if u.Priority != nil {
		if err := validatePriority("priority", *u.Priority); err != nil {
			return err
		}
	}
	if err := normalizeLabels("labels", u.Labels); err != nil {
		return err
	}
	if u.Owner != nil {
		if err := validateOwner("owner", *u.Owner); err != nil {
			return err
		}
		o := strings.TrimSpace(*u.Owner)
		u.Owner = &o
	}
	return nil
}

// Transition is the input of a state change of a feature or a WP.
type Transition struct {
	To string `json:"to"`
	// Force starts a WP whose dependencies are not all done; Reason is
	// then required and recorded in the audit trail.
	Force  bool   `json:"force,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Token is the fencing token of the caller's lease. While a WP is
	// claimed, a transition must carry the live lease's token.
	Token int64 `json:"token,omitempty"`
}

// Validate checks the fields of a Transition.
func (t *Transition) Validate() error {
	if t.To == "" {
		return FieldErrorf("to", "to is required")
	}
	if t.Force && t.Reason == "" {
		return FieldErrorf("reason", "reason is required when force is true")
	}
	if utf8.RuneCountInString(t.Reason) > 2000 {
		return FieldErrorf("reason", "reason is longer than 2000 characters")
	}
	if err := checkPrintable("reason", t.Reason, true); err != nil {
		return err
	}
	if t.Token < 0 {
		return FieldErrorf("token", "token must be positive")
	}
	return nil
}
