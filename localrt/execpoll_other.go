//go:build !linux

package localrt

import (
	"errors"
	"os"
	"time"
)

// execPoller needs epoll and pidfd (Linux): elsewhere every exec is
// supervised the older way, a goroutine per output and one for the exit.
type execPoller struct{}

// pollEvent is what wait returns.
type pollEvent struct{ Fd int32 }

const pidfdToken = -1

func newExecPoller(*spawned, []*os.File) (*execPoller, error) { return nil, errors.ErrUnsupported }

func (*execPoller) wait(time.Time) ([]pollEvent, error) { return nil, errors.ErrUnsupported }
func (*execPoller) wake()                               {}
func (*execPoller) exited()                             {}
func (*execPoller) ended(*os.File)                      {}
func (*execPoller) close()                              {}
