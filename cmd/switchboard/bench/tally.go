package bench

import (
	"sync"
	"sync/atomic"
	"time"
)

// numShards spreads the shared counters of many reader goroutines over
// separate cache lines and histograms.
const numShards = 32

// collector gathers what every subscriber receives during one run.
type collector struct {
	messages int64        // sequence numbers run from 0 to messages-1
	lanes    int64        // independently ordered streams per subscriber (plan.lanes)
	expected atomic.Int64 // unique deliveries that make the run complete

	unique atomic.Int64 // first deliveries of a (subscriber, seq)

	// firstPublish is when publishing began; written before the first
	// message goes out, read after every reader has returned.
	firstPublish time.Time
	done         chan struct{}
	once         sync.Once

	shards [numShards]shard
}

type shard struct {
	hist histogram
	_    [64]byte // keep neighbours' hot counters apart
}

func newCollector(messages int64, lanes int) *collector {
	return &collector{messages: messages, lanes: int64(max(lanes, 1)), done: make(chan struct{})}
}

// expect sets how many unique deliveries complete the run; reaching it
// closes done.
func (c *collector) expect(n int64) {
	c.expected.Store(n)
	if n <= 0 || c.unique.Load() >= n {
		c.once.Do(func() { close(c.done) })
	}
}

func (c *collector) latencies() latencies {
	var h histogram
	for i := range c.shards {
		h.merge(&c.shards[i].hist)
	}
	return h.summary()
}

// tally is one subscriber's account. Only its reader goroutine writes it;
// the run reads it after that goroutine has ended.
type tally struct {
	c    *collector
	hist *histogram

	seen      []uint64 // one bit per sequence number, allocated on first use
	unique    int64
	dups      int64
	reordered int64
	stray     int64     // stamped frames with a sequence number out of range
	maxSeq    []int64   // highest sequence number seen, per lane (seq mod lanes)
	last      time.Time // when the last unique delivery arrived

	// stopping is set when the run ends the connection on purpose, so
	// that the reader does not count the end as a drop by the server.
	stopping atomic.Bool
	ended    error // why the connection ended before the run stopped it
}

// end records why the reader stopped, unless the run stopped it.
func (t *tally) end(err error) {
	if !t.stopping.Load() {
		t.ended = err
	}
}

func newTally(c *collector, id int) *tally {
	t := &tally{c: c, hist: &c.shards[id%numShards].hist, maxSeq: make([]int64, c.lanes)}
	for i := range t.maxSeq {
		t.maxSeq[i] = -1
	}
	return t
}

// frame accounts for one received frame; now is when it was read.
func (t *tally) frame(b []byte, now time.Time) {
	ts, seq, ok := parseStamp(b)
	if !ok {
		return
	}
	if seq < 0 || seq >= t.c.messages {
		t.stray++
		return
	}
	if t.seen == nil {
		t.seen = make([]uint64, (t.c.messages+63)/64)
	}
	w, bit := seq/64, uint64(1)<<(seq%64)
	if t.seen[w]&bit != 0 {
		t.dups++
		return
	}
	t.seen[w] |= bit
	if lane := seq % t.c.lanes; seq < t.maxSeq[lane] {
		t.reordered++
	} else {
		t.maxSeq[lane] = seq
	}
	t.unique++
	t.last = now
	t.hist.record(now.Sub(time.Unix(0, ts)))
	if t.c.unique.Add(1) == t.c.expected.Load() {
		t.c.once.Do(func() { close(t.c.done) })
	}
}
