package agileplus

import (
	"regexp"
	"strings"
	"time"
)

// LabelDef describes a label in a project: its colour and what it means.
// Labels on WPs and features need no definition; a definition only adds
// to one. Name is unique within the project.
type LabelDef struct {
	ID          string    `json:"id"`
	ProjectID   string    `json:"project_id"`
	ProjectKey  string    `json:"project_key"`
	Name        string    `json:"name"`
	Color       string    `json:"color,omitempty"` // "#rrggbb", lower case
	Description string    `json:"description,omitempty"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ColorPattern is a colour as "#rrggbb" (stored in lower case).
const ColorPattern = `^#[0-9A-Fa-f]{6}$`

var colorRE = regexp.MustCompile(ColorPattern)

// LabelCreate is the input of CreateLabel.
type LabelCreate struct {
	Name        string `json:"name" pattern:"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,39}$" doc:"the label, stored in lower case"`
	Color       string `json:"color,omitempty" pattern:"^#[0-9A-Fa-f]{6}$" doc:"#rrggbb"`
	Description string `json:"description,omitempty" maxLength:"2000" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"`
}

// LabelUpdate is the input of UpdateLabel; nil fields are left alone.
type LabelUpdate struct {
	Color       *string `json:"color,omitempty" pattern:"^$|^#[0-9A-Fa-f]{6}$" doc:"#rrggbb; empty removes the colour"`
	Description *string `json:"description,omitempty" maxLength:"2000" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"`
}

// MaxLabelDescription bounds a label definition's description.
const MaxLabelDescription = 2000

func validateColor(field string, c *string, optional bool) error {
	if *c == "" && optional {
		return nil
	}
	if !colorRE.MatchString(*c) {
		return FieldErrorf(field, "colour %s must be #rrggbb, six hexadecimal digits", QuoteRef(*c))
	}
	*c = strings.ToLower(*c)
	return nil
}

func validateLabelDescription(field, d string) error {
	if len([]rune(d)) > MaxLabelDescription {
		return FieldErrorf(field, "%s is longer than %d characters", field, MaxLabelDescription)
	}
	return checkPrintable(field, d, true)
}

// Validate checks a LabelCreate and lower-cases its name and colour.
func (c *LabelCreate) Validate() error {
	n, err := NormalizeLabel("name", c.Name)
	if err != nil {
		return err
	}
	if HasIDForm(PrefixLabel, n) {
		// Routes name a label by its name or its id: one cannot be both.
		return FieldErrorf("name", "label %s has the form of a label id (lbl_ and 26 characters); choose another name", QuoteRef(n))
	}
	c.Name = n
	if err := validateColor("color", &c.Color, true); err != nil {
		return err
	}
	return validateLabelDescription("description", c.Description)
}

// Validate checks a LabelUpdate and lower-cases its colour.
func (u *LabelUpdate) Validate() error {
	if u.Color != nil {
		if err := validateColor("color", u.Color, true); err != nil {
			return err
		}
	}
	if u.Description != nil {
		return validateLabelDescription("description", *u.Description)
	}
	return nil
}
