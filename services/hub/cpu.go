package hub

import (
	"sync"
	"time"
)

// cpuWindow is the shortest span over which CPU usage is measured anew;
// reads within it repeat the last figure.
const cpuWindow = time.Second

// cpuMeter measures the process's CPU usage from its CPU time (user +
// system), in percent of one CPU over the span since the previous
// measurement.
type cpuMeter struct {
	mu       sync.Mutex
	lastWall time.Time
	lastCPU  time.Duration
	percent  uint64
	measured bool
}

func newCPUMeter(now time.Time) *cpuMeter {
	cpu, _ := processCPUTime()
	return &cpuMeter{lastWall: now, lastCPU: cpu}
}

// usage returns the CPU usage in percent (0 where the platform cannot tell).
func (m *cpuMeter) usage(now time.Time) uint64 {
	cpu, ok := processCPUTime()
	if !ok {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	wall := now.Sub(m.lastWall)
	if wall <= 0 || (m.measured && wall < cpuWindow) {
		return m.percent
	}
	m.percent = uint64(float64(cpu-m.lastCPU) / float64(wall) * 100)
	if wall >= cpuWindow {
		// A full window: the next one starts here. Until the first, every
		// read measures from the start.
		m.lastWall, m.lastCPU, m.measured = now, cpu, true
	}
	return m.percent
}
