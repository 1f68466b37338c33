//go:build linux

package web

import "testing"

// TestBrowserSessions runs test/sessions.mjs: two users in Chromium
// against `porthole serve --session-join`, the second watching and joining
// the first's shell from the live sessions panel.
func TestBrowserSessions(t *testing.T) { browserScript(t, "test/sessions.mjs") }
