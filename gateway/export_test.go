package gateway

import "time"

// SetCloseLinger replaces closeLinger for a test and returns the restore.
func SetCloseLinger(d time.Duration) (restore func()) {
	old := closeLinger
	closeLinger = d
	return func() { closeLinger = old }
}

// SpliceBuffersInUse is how many splice buffers are lent out now, and
// SpliceBufferGets how many were ever taken.
func SpliceBuffersInUse() int64 { return splicePool.InUse() + spliceBulkPool.InUse() }
func SpliceBufferGets() int64   { return splicePool.Gets() + spliceBulkPool.Gets() }

// SetImpersonationTimeout replaces impersonationTimeout for a test and
// returns the restore.
func SetImpersonationTimeout(d time.Duration) (restore func()) {
	old := impersonationTimeout
	impersonationTimeout = d
	return func() { impersonationTimeout = old }
}
