// Package status encodes and decodes what travels on the error channel of a
// remote-command session (PROTOCOL.md sections 3.8 and 4.3): a Kubernetes
// Status document for v4 and v5, plain text for older versions, and nothing
// at all for success on those older versions.
//
// It also holds the Status documents servers send before an upgrade
// (HTTP error bodies), which share the same shape.
package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Values of Status.Status and of the reasons streaming uses.
const (
	Success = "Success"
	Failure = "Failure"

	ReasonNonZeroExitCode  = "NonZeroExitCode"
	ReasonExitCode         = "ExitCode"
	ReasonInternalError    = "InternalError"
	ReasonNotFound         = "NotFound"
	ReasonBadRequest       = "BadRequest"
	ReasonForbidden        = "Forbidden"
	ReasonUnauthorized     = "Unauthorized"
	ReasonMethodNotAllowed = "MethodNotAllowed"
)

// Status is the subset of metav1.Status that streaming peers read and write.
type Status struct {
	Kind       string    `json:"kind,omitempty"`
	APIVersion string    `json:"apiVersion,omitempty"`
	Metadata   *ListMeta `json:"metadata,omitempty"`
	Status     string    `json:"status,omitempty"`
	Message    string    `json:"message,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Details    *Details  `json:"details,omitempty"`
	Code       int32     `json:"code,omitempty"`
}

// Details carries the name of the object and the causes.
type Details struct {
	Name   string  `json:"name,omitempty"`
	Group  string  `json:"group,omitempty"`
	Kind   string  `json:"kind,omitempty"`
	UID    string  `json:"uid,omitempty"`
	Causes []Cause `json:"causes,omitempty"`
	// RetryAfterSeconds, when set, says when to try again (and goes in
	// a Retry-After header too).
	RetryAfterSeconds int32 `json:"retryAfterSeconds,omitempty"`
}

// Cause is one cause; its type is serialised under "reason", as Kubernetes does.
type Cause struct {
	Type    string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

var emptyMeta = &ListMeta{}

// ListMeta is a Status's metadata: empty but for a list's 410, which
// says where to go on from.
type ListMeta struct {
	Continue string `json:"continue,omitempty"`
}

// NewSuccess is the status a translator sends when the command succeeded.
func NewSuccess() *Status { return &Status{Metadata: emptyMeta, Status: Success} }

// NewExit is the status for a command that exited with a non-zero code.
// Codes outside 0-255 are not representable to client-go; callers clamp.
func NewExit(code int) *Status {
	c := strconv.Itoa(code)
	return &Status{
		Metadata: emptyMeta,
		Status:   Failure,
		Message:  "command terminated with non-zero exit code: command terminated with exit code " + c,
		Reason:   ReasonNonZeroExitCode,
		Details:  &Details{Causes: []Cause{{Type: ReasonExitCode, Message: c}}},
	}
}

// NewInternalError is the status for any other failure after the upgrade.
func NewInternalError(err error) *Status {
	return &Status{
		Metadata: emptyMeta,
		Status:   Failure,
		Message:  "Internal error occurred: " + err.Error(),
		Reason:   ReasonInternalError,
		Details:  &Details{Causes: []Cause{{Message: err.Error()}}},
		Code:     500,
	}
}

// NewHTTP is an API-server style error body: kind and apiVersion set.
func NewHTTP(code int, reason, message string, details *Details) *Status {
	return &Status{Kind: "Status", APIVersion: "v1", Metadata: emptyMeta, Status: Failure,
		Message: message, Reason: reason, Details: details, Code: int32(code)}
}

// Marshal returns the JSON form.
func (s *Status) Marshal() []byte {
	b, err := json.Marshal(s)
	if err != nil { // cannot happen: only strings and ints
		panic(err)
	}
	return b
}

// Err returns nil for success and an error otherwise: *ExitError for a
// non-zero exit code, *Error for any other failure.
func (s *Status) Err() error {
	switch s.Status {
	case Success:
		return nil
	case Failure:
	default:
		return &Error{Message: "unknown error", Status: s}
	}
	if s.Reason == ReasonNonZeroExitCode {
		if s.Details == nil {
			return &ProtocolError{Msg: "non-zero exit status without details"}
		}
		for _, c := range s.Details.Causes {
			if c.Type != ReasonExitCode {
				continue
			}
			n, err := strconv.ParseUint(c.Message, 10, 8)
			if err != nil {
				return &ProtocolError{Msg: fmt.Sprintf("invalid exit code %q", c.Message)}
			}
			return &ExitError{Code: int(n)}
		}
		return &ProtocolError{Msg: "non-zero exit status without an exit code cause"}
	}
	return &Error{Message: s.Message, Status: s}
}

// Decode interprets the whole content of an error channel for a version that
// carries Status JSON. An empty channel is success, as client-go treats it.
func Decode(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return &ProtocolError{Msg: fmt.Sprintf("error stream is not a status: %v", err)}
	}
	return s.Err()
}

// DecodeText interprets the error channel of a pre-v4 version: any text is a failure.
func DecodeText(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return &Error{Message: string(b)}
}

// UpgradeMessage is the text client-go shows for a refused upgrade or a
// failed API request: the message (or error) field of a Status-like body,
// else the trimmed body, else "empty server response".
func UpgradeMessage(body []byte) string {
	var st struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &st) == nil {
		if m := strings.TrimSpace(st.Message); m != "" {
			return m
		}
		if m := strings.TrimSpace(st.Error); m != "" {
			return m
		}
	}
	if m := strings.TrimSpace(string(body)); m != "" {
		return m
	}
	return "empty server response"
}

// ExitError is a remote command that exited with a non-zero code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string {
	return "command terminated with exit code " + strconv.Itoa(e.Code)
}

// ExitCode returns the remote exit code.
func (e *ExitError) ExitCode() int { return e.Code }

// Error is a failure reported by the remote side other than an exit code.
type Error struct {
	Message string
	Status  *Status // nil for text errors
}

func (e *Error) Error() string { return e.Message }

// ProtocolError is an error channel whose content breaks the protocol.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "protocol error: " + e.Msg }

// IsExit reports whether err carries a remote exit code, and which.
func IsExit(err error) (int, bool) {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code, true
	}
	return 0, false
}
