package agileplus

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Error codes. Transports map each code to a status in one place.
const (
	EINVALID      = "invalid"      // malformed input or a bad field value
	ENOTFOUND     = "not_found"    // the referenced entity does not exist
	ECONFLICT     = "conflict"     // stale version, duplicate key, lease held, stale token
	ERULE         = "rule"         // a domain rule refuses the change (state machine, cycle, blockers)
	EUNAVAILABLE  = "unavailable"  // a dependency (store, bus) cannot be reached
	EUNAUTHORIZED = "unauthorized" // no credentials, or credentials that identify no active key
	EFORBIDDEN    = "forbidden"    // the key's scope or projects do not allow the action
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is the one error type the domain returns to its callers. Field names
// the offending input field, when there is one.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("agileplus: %s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("agileplus: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EINVALID *Error naming the offending field.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for errors that are not *Error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of err; internal errors are not
// described to callers.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the field an *Error names, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// QuoteRef quotes a reference for an error message, cut to 100 bytes (on a
// character boundary) so that a huge input is not echoed back whole.
func QuoteRef(ref string) string {
	const max = 100
	if len(ref) <= max {
		return strconv.Quote(ref)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(ref[cut]) {
		cut--
	}
	return strconv.Quote(ref[:cut]) + fmt.Sprintf("... (%d bytes)", len(ref))
}

// PrefixField puts prefix before the field a domain error names (the
// field itself when it names none), for an error about a part of a larger
// input: "wps[2]" and "title" make "wps[2].title".
func PrefixField(err error, prefix string) error {
	return mapField(err, func(f string) string {
		if f == "" || f == prefix {
			return prefix
		}
		return prefix + "." + f
	})
}

// withField names field in a domain error instead of the one it named.
func withField(err error, field string) error {
	return mapField(err, func(string) string { return field })
}

func mapField(err error, f func(string) string) error {
	e, isDomain := err.(*Error)
	if !isDomain {
		return err
	}
	c := *e
	c.Field = f(c.Field)
	return &c
}
