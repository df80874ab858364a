// Package hostload reads what the benchmark tools report about the machine
// they ran on: other processes share it, and the figures are only as quiet
// as it was.
package hostload

import (
	"os"
	"strings"
)

// Average returns the 1, 5 and 15 minute load averages ("0.52 0.58 0.59"),
// or "unknown" where /proc/loadavg cannot be read.
func Average() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
