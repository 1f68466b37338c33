package serve

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/porthole/porthole/protocol/status"
)

func notFound(resource, name string) *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusNotFound, status.ReasonNotFound,
		resource+` "`+name+`" not found`, &status.Details{Name: name, Kind: resource})}
}

// errNoRoute is what the API server answers for a path it does not serve.
var errNoRoute = &status.HTTPError{Status: status.NewHTTP(http.StatusNotFound, status.ReasonNotFound,
	"the server could not find the requested resource", &status.Details{})}

var errMethod = &status.HTTPError{Status: status.NewHTTP(http.StatusMethodNotAllowed, status.ReasonMethodNotAllowed,
	"the server does not allow this method on the requested resource", &status.Details{})}

// invalid is the API server's 422 for an object of kind (in group) that
// fails validation with msg, "field: reason", or with several causes,
// each "field: reason", msg their aggregate: kubectl prints the causes,
// not the message, after `The Kind "name" is invalid`.
func invalid(group, kind, name, msg string, causes ...string) *status.HTTPError {
	qualified := kind
	if group != "" {
		qualified += "." + group
	}
	if len(causes) == 0 {
		causes = []string{msg}
	}
	d := &status.Details{Name: name, Group: group, Kind: kind}
	for _, c := range causes {
		cause := status.Cause{Type: "FieldValueInvalid", Message: c}
		if field, reason, ok := strings.Cut(c, ": "); ok {
			cause.Field, cause.Message = field, reason
			cause.Type = causeType(reason)
		}
		d.Causes = append(d.Causes, cause)
	}
	return &status.HTTPError{Status: status.NewHTTP(http.StatusUnprocessableEntity, "Invalid",
		fmt.Sprintf("%s %q is invalid: %s", qualified, name, msg), d)}
}

// causeType is the API server's type of a cause whose reason is reason.
func causeType(reason string) string {
	for prefix, typ := range map[string]string{"Required value": "FieldValueRequired", "Forbidden": "FieldValueForbidden",
		"Too long": "FieldValueTooLong", "Unsupported value": "FieldValueNotSupported", "Duplicate value": "FieldValueDuplicate"} {
		if strings.HasPrefix(reason, prefix) {
			return typ
		}
	}
	return "FieldValueInvalid"
}

func badRequest(msg string) *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusBadRequest, status.ReasonBadRequest, msg, nil)}
}

func notAcceptable() *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusNotAcceptable, "NotAcceptable",
		"the server was unable to respond with a content type that the client supports", nil)}
}

func internalError(err error) *status.HTTPError {
	s := status.NewHTTP(http.StatusInternalServerError, status.ReasonInternalError,
		"Internal error occurred: "+err.Error(), &status.Details{Causes: []status.Cause{{Message: err.Error()}}})
	return &status.HTTPError{Status: s, Cause: err}
}

// writeError answers with e's Status document and logs its cause.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, e *status.HTTPError) {
	if e.Cause != nil {
		log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", e.Cause)
	}
	if d := e.Status.Details; d != nil && d.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfterSeconds)))
	}
	writeJSON(w, int(e.Status.Code), e.Status)
}

// writeJSON answers with v as JSON, as the API server does (one line, with
// a trailing newline).
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only the kube shapes pass through here
		code = http.StatusInternalServerError
		b, _ = json.Marshal(internalError(err).Status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
