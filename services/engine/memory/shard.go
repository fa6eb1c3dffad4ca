package memory

import (
	"hash/maphash"
	"sync"
)

// numShards spreads channels over independent locks so that publishes on
// different channels rarely touch the same mutex.
const numShards = 64

// key names one channel of one tenant.
type key struct{ tenant, channel string }

var shardSeed = maphash.MakeSeed()

func (e *Engine) shard(k key) *shard {
	var h maphash.Hash
	h.SetSeed(shardSeed)
	h.WriteString(k.tenant)
	h.WriteByte(0) // ("ab","c") and ("a","bc") must not collide by construction
	h.WriteString(k.channel)
	return &e.shards[h.Sum64()%numShards]
}

// shard holds the streams of its channels and this node's exact-channel
// subscription counts. The shard lock guards the maps only; a stream has
// its own lock for its history and delivery order.
type shard struct {
	mu      sync.RWMutex
	streams map[key]*stream
	subs    map[key]int // Subscribe reference counts
}

func (s *shard) init() {
	s.streams = map[key]*stream{}
	s.subs = map[key]int{}
}

// stream returns the channel's live stream, creating it (with a new epoch)
// when there is none, and whether this node subscribed to the channel.
func (s *shard) stream(k key) (*stream, bool) {
	s.mu.RLock()
	st := s.streams[k]
	subscribed := s.subs[k] > 0
	s.mu.RUnlock()
	if st != nil && !st.removed.Load() {
		return st, subscribed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st = s.streams[k]
	if st == nil || st.removed.Load() {
		// A removed stream is one the sweeper retired; its replacement
		// gets a new epoch so that no old position passes for a new one.
		st = newStream()
		s.streams[k] = st
	}
	return st, s.subs[k] > 0
}

// sweep retires streams that hold no events and whose meta has expired.
// The stream lock is never taken while the shard lock is held, so a handler
// running under a stream lock may still call Subscribe.
func (s *shard) sweep(now int64) {
	s.mu.RLock()
	all := make([]*stream, 0, len(s.streams))
	keys := make([]key, 0, len(s.streams))
	for k, st := range s.streams {
		all = append(all, st)
		keys = append(keys, k)
	}
	s.mu.RUnlock()

	var dead []int
	for i, st := range all {
		if st.retireIfIdle(now) {
			dead = append(dead, i)
		}
	}
	if len(dead) == 0 {
		return
	}
	s.mu.Lock()
	for _, i := range dead {
		if s.streams[keys[i]] == all[i] {
			delete(s.streams, keys[i])
		}
	}
	s.mu.Unlock()
}

func (s *shard) subscribe(k key) {
	s.mu.Lock()
	s.subs[k]++
	s.mu.Unlock()
}

func (s *shard) unsubscribe(k key) {
	s.mu.Lock()
	if n := s.subs[k]; n <= 1 {
		delete(s.subs, k)
	} else {
		s.subs[k] = n - 1
	}
	s.mu.Unlock()
}
