package status

import "net/http"

// HTTPError is an answer sent instead of serving a request, in the API
// server's shape: the Status the client sees (code, reason, message) and,
// kept apart, the cause for the log and the audit record. The node, the
// gateway and serve all answer with it.
type HTTPError struct {
	Status *Status
	Cause  error
}

// NewHTTPError is an HTTPError with a Status of code, reason and message.
func NewHTTPError(code int, reason, message string, cause error) *HTTPError {
	return &HTTPError{Status: NewHTTP(code, reason, message, nil), Cause: cause}
}

func (e *HTTPError) Error() string {
	if e.Cause != nil {
		return e.Status.Message + ": " + e.Cause.Error()
	}
	return e.Status.Message
}

func (e *HTTPError) Unwrap() error { return e.Cause }

// Code is the HTTP status code.
func (e *HTTPError) Code() int { return int(e.Status.Code) }

// Write answers with the Status document, as JSON, with its code.
func (e *HTTPError) Write(w http.ResponseWriter) { Write(w, e.Status) }

// Write answers st as JSON with its code.
func Write(w http.ResponseWriter, st *Status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(st.Marshal())
}
