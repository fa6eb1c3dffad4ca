package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts latencies in log-linear buckets: exact below 128 ns,
// then 64 buckets per power of two, so any quantile is within 1.6% of the
// true value. Buckets are atomic, so readers of many subscribers share one
// histogram without a lock (see collector's shards).
type histogram struct {
	counts [numBuckets]atomic.Uint64
	max    atomic.Int64
}

const (
	subBits    = 6
	subCount   = 1 << subBits // buckets per power of two
	directMax  = 2 * subCount // values below are their own bucket
	maxShift   = 40           // ~18 minutes in nanoseconds; larger values clamp
	numBuckets = directMax + maxShift*subCount
)

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < directMax {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - (subBits + 1)
	if shift > maxShift {
		return numBuckets - 1
	}
	return directMax + (shift-1)*subCount + int(v>>shift) - subCount
}

// bucketValue is the middle of a bucket's range.
func bucketValue(i int) int64 {
	if i < directMax {
		return int64(i)
	}
	shift := (i-directMax)/subCount + 1
	low := int64((i-directMax)%subCount+subCount) << shift
	return low + (int64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(int64(d))].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// merge adds o's counts into h (h is then read by one goroutine).
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n > 0 {
			h.counts[i].Add(n)
		}
	}
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

// latencies summarises a histogram.
type latencies struct {
	Count              uint64
	Mean               time.Duration
	P50, P95, P99, Max time.Duration
}

func (h *histogram) summary() latencies {
	var s latencies
	var sum float64
	for i := range h.counts {
		n := h.counts[i].Load()
		s.Count += n
		sum += float64(n) * float64(bucketValue(i))
	}
	if s.Count == 0 {
		return s
	}
	s.Mean = time.Duration(sum / float64(s.Count))
	s.P50 = h.quantile(0.50, s.Count)
	s.P95 = h.quantile(0.95, s.Count)
	s.P99 = h.quantile(0.99, s.Count)
	s.Max = time.Duration(h.max.Load())
	// A bucket's middle may lie above the exact maximum.
	s.P50, s.P95, s.P99 = min(s.P50, s.Max), min(s.P95, s.Max), min(s.P99, s.Max)
	return s
}

// quantile returns the value below which a fraction q of the samples lie.
func (h *histogram) quantile(q float64, total uint64) time.Duration {
	rank := uint64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(bucketValue(i))
		}
	}
	return time.Duration(h.max.Load())
}
