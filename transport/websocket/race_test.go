//go:build race

package websocket

// raceEnabled: the race detector grows stacks, so memory budgets do not apply.
const raceEnabled = true
