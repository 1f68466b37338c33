package cp

import (
	"io/fs"
	"syscall"
)

// nlink is the file's hard-link count.
func nlink(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}
