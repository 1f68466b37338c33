// Package machine reads facts of the machine porthole runs on that both
// the node's status and its containers' environment report.
package machine

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// MemTotalKiB is MemTotal of /proc/meminfo: the memory a node reports as
// its capacity, and a container without limits may use. 0 when unknown
// (not Linux).
func MemTotalKiB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
