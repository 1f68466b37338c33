//go:build !linux

package localrt

import (
	"errors"
	"os/exec"
)

// The spawn helper (spawnhelper_linux.go) keeps fork cheap for a server
// holding many descriptors; elsewhere every process starts directly.

var (
	errHelperGone = errors.New("spawn helper gone")
	errTooBig     = errors.New("spawn request too large")
)

type spawnHelper struct{ onIdle func() }

func startSpawnHelper(func(*exec.Cmd) error) (*spawnHelper, error) {
	return nil, errors.ErrUnsupported
}

func (*spawnHelper) spawn(*exec.Cmd) (spawned, error) { return spawned{}, errHelperGone }
func (*spawnHelper) close()                           {}
func (*spawnHelper) acquire()                         {}
func (*spawnHelper) release()                         {}
func (*spawnHelper) idle() bool                       { return false }

func highestStdioFD(*exec.Cmd) int { return -1 }
