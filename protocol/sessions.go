package protocol

import "time"

// The sessions API of porthole's gateway: its live exec and attach
// sessions, listed as JSON and watched or joined over WebSocket
// (v5.channel.k8s.io: stdout carries the session's output from a recent
// snapshot on, stdin a joiner's keystrokes, the error channel the end).
// Authorized as the resource "sessions" of SessionsGroup, verbs list, get,
// watch, join and moderate (which also ends a session: DELETE).
const (
	SessionsGroup   = "porthole.dev"
	SessionsVersion = "v1"
	// SessionsPath is the API's root; sessions live at
	// SessionsPath+"/namespaces/NS/sessions/ID", with /watch and /join
	// below, and all of them at SessionsPath+"/sessions".
	SessionsPath = "/apis/" + SessionsGroup + "/" + SessionsVersion
)

// SessionList is the answer of a list.
type SessionList struct {
	Kind       string        `json:"kind"`       // "SessionList"
	APIVersion string        `json:"apiVersion"` // "porthole.dev/v1"
	Items      []SessionInfo `json:"items"`
}

// SessionInfo describes one live session.
type SessionInfo struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Verb      string    `json:"verb"` // exec or attach
	Namespace string    `json:"namespace"`
	Pod       string    `json:"pod"`
	Container string    `json:"container,omitempty"`
	Command   []string  `json:"command,omitempty"`
	Start     time.Time `json:"start"`
	// Wire is the client's (websocket or spdy); WireUpstream the upstream's
	// (websocket, spdy, or in-process for a node in the gateway's process).
	Wire         string `json:"wire"`
	WireUpstream string `json:"wireUpstream"`
	TTY          bool   `json:"tty"`
	Stdin        bool   `json:"stdin"`
	// Width and Height are the owner's terminal size, when known.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// Joinable: keystrokes of joiners reach it (the gateway writes its
	// stdin; a spliced session can only be watched).
	Joinable bool `json:"joinable"`
	// Moderated: its stdin waits for a moderator; WaitingForModerator
	// while none has joined.
	Moderated           bool          `json:"moderated,omitempty"`
	WaitingForModerator bool          `json:"waitingForModerator,omitempty"`
	Watchers            []WatcherInfo `json:"watchers"`
}

// WatcherInfo is one user watching or joined to a session.
type WatcherInfo struct {
	User      string    `json:"user"`
	Mode      string    `json:"mode"` // "watch" or "join"
	Moderator bool      `json:"moderator,omitempty"`
	Since     time.Time `json:"since"`
}
