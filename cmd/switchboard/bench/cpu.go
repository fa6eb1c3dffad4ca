package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ErrNoCPU: the CPU time of the server could not be read.
var ErrNoCPU = errors.New("bench: process CPU time not available")

// userHZ is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture the bench runs on).
const userHZ = 100

// readCPU returns the user and system CPU time process pid has used so far
// (all its threads, living and ended), from /proc/<pid>/stat.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoCPU, err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc stat
// line. The command name (field 2) is in parentheses and may hold spaces
// and parentheses itself, so fields are counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: malformed stat", ErrNoCPU)
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: short stat", ErrNoCPU)
	}
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: malformed time %q", ErrNoCPU, s)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
