package agileplus

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Project holds features. Its Key (e.g. "CORE") prefixes the keys of its
// work packages ("CORE-12") and appears in event subjects.
type Project struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// ArchivedAt is when it was archived; nil while it is not.
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// ProjectCreate is the input of CreateProject.
type ProjectCreate struct {
	Key  string `json:"key" pattern:"^[A-Z][A-Z0-9]{1,15}$" doc:"2-16 characters: upper-case letters and digits, starting with a letter"`
	Name string `json:"name" rule:"name" doc:"display name, 1-200 characters"`
}

// ProjectUpdate is the input of UpdateProject; nil fields are left alone.
type ProjectUpdate struct {
	Name *string `json:"name,omitempty" rule:"name"`
}

var projectKeyRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,15}$`)

// Validate checks the fields of a ProjectCreate.
func (c *ProjectCreate) Validate() error { return c.validate(true) }

// validate is Validate; strict false is for imports (see checkName).
func (c *ProjectCreate) validate(strict bool) error {
	if c.Key == "" {
		return FieldErrorf("key", "key is required")
	} else if !projectKeyRE.MatchString(c.Key) {
		return FieldErrorf("key", "key %q must be 2-16 upper-case letters or digits, starting with a letter", c.Key)
	}
	return checkName("name", c.Name, true, strict)
}

// Validate checks the fields of a ProjectUpdate.
func (u *ProjectUpdate) Validate() error {
	if u.Name != nil {
		return validateName("name", *u.Name, true)
	}
	return nil
}

// validateName checks a short single-line text field: names, titles,
// agents and repos end up in table cells, log lines and terminals, where
// control characters and line separators would break or forge lines.
func validateName(field, s string, required bool) error {
	return checkName(field, s, required, true)
}

// checkName is validateName; strict false applies the rules text was
// written under before control characters were refused, which an import
// of an older export must still take.
func checkName(field, s string, required, strict bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return FieldErrorf(field, "%s is required", field)
	case utf8.RuneCountInString(s) > 200:
		return FieldErrorf(field, "%s is longer than 200 characters", field)
	case strings.ContainsAny(s, "\n\r"), strict && strings.ContainsAny(s, "\u2028\u2029"):
		return FieldErrorf(field, "%s must be a single line", field)
	}
	if !strict {
		return nil
	}
	return checkPrintable(field, s, false)
}

// validateText checks a long free-text field.
func validateText(field, s string) error { return checkText(field, s, true) }

// checkText is validateText; strict as for checkName.
func checkText(field, s string, strict bool) error {
	if utf8.RuneCountInString(s) > 64<<10 {
		return FieldErrorf(field, "%s is longer than 65536 characters", field)
	}
	if !strict {
		return nil
	}
	return checkPrintable(field, s, true)
}

// checkPrintable refuses control characters (C0, DEL, C1); multiline text
// may hold tabs and line breaks.
func checkPrintable(field, s string, multiline bool) error {
	for i, r := range s {
		if !unicode.IsControl(r) || multiline && (r == '\t' || r == '\n' || r == '\r') {
			continue
		}
		return FieldErrorf(field, "%s holds the control character %U at byte %d; only printable text is allowed", field, r, i)
	}
	return nil
}
