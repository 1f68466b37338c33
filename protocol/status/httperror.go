package status

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

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
	setHeader(w.Header())
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(st.Marshal())
}

// Response is the answer Write gives, as an *http.Response: for a caller
// that relays an in-process server's refusal as a dialled one's.
func Response(st *Status) *http.Response {
	body := st.Marshal()
	code := int(st.Code)
	h := http.Header{}
	setHeader(h)
	return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
}

// setHeader is the head of every Status answer.
func setHeader(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
}
