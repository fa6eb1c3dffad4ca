package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ErrNoRSS: the resident set size could not be read (no /proc, or no such
// process).
var ErrNoRSS = errors.New("bench: VmRSS not available")

// readRSS returns the resident set size of process pid in bytes, from the
// VmRSS line of /proc/<pid>/status.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoRSS, err)
	}
	return parseVmRSS(b)
}

// parseVmRSS finds "VmRSS:   12345 kB" in a /proc status file.
func parseVmRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%w: malformed line %q", ErrNoRSS, bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("%w: malformed value %q", ErrNoRSS, f[0])
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%w: no VmRSS line", ErrNoRSS)
}
