package httpapi

import (
	"net/http"

	"github.com/agileplus/agileplus"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the error code, a message for people, and the request
// field at fault when there is one.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Problems lists every reason a bulk import was refused.
	Problems []agileplus.ImportProblem `json:"problems,omitempty"`
}

// statusOf maps domain error codes to HTTP status codes, in one place.
func statusOf(code string) int {
	switch code {
	case agileplus.EINVALID:
		return http.StatusBadRequest
	case agileplus.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case agileplus.EFORBIDDEN:
		return http.StatusForbidden
	case agileplus.ENOTFOUND:
		return http.StatusNotFound
	case agileplus.ECONFLICT:
		return http.StatusConflict
	case agileplus.ERULE:
		// A rule refuses the change for the entity's current state (its
		// state machine, the graph's cycles, open dependencies): a conflict
		// with that state, not a malformed request. The body's code, rule,
		// tells it from other conflicts.
		return http.StatusConflict
	case agileplus.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// codeOf maps an HTTP status back to a domain code for the client.
func codeOf(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return agileplus.EUNAUTHORIZED
	case status == http.StatusForbidden:
		return agileplus.EFORBIDDEN
	case status == http.StatusNotFound:
		return agileplus.ENOTFOUND
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		return agileplus.ECONFLICT
	case status == http.StatusUnprocessableEntity:
		return agileplus.ERULE
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests || status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return agileplus.EUNAVAILABLE
	case status >= 400 && status < 500:
		return agileplus.EINVALID
	default:
		return agileplus.EINTERNAL
	}
}
