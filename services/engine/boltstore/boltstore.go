// Package boltstore keeps the records of a single node that must outlive the
// process — webhook queues — in one embedded bbolt file. It stands beside the
// memory engine; with the Redis engine those records live in Redis instead.
//
// A push does not wait for a bbolt transaction: it is appended to a log
// beside the file (<file>.wal.<n>) with one write(2), shared by the pushes
// that arrive together, and moved into bbolt in batches a little later (at
// once when a worker reads the queue). Opening the store moves what the log
// still holds, so a push that returned survives the process being killed.
//
// Neither is fsynced by default: a push survives the process being killed
// (the kernel holds the written pages) but not the machine losing power.
// Options.Sync makes every write durable against that too.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// Options configure a Store.
type Options struct {
	// Sync fsyncs every write (slower; survives power loss).
	Sync bool
}

// How long pushed items may wait in the log before they are moved into
// bbolt when no worker asks for them, and how large a log segment grows
// before the next move starts a new one.
var (
	moveDelay         = 50 * time.Millisecond
	moveBytes         = 1 << 20
	segmentSize int64 = 4 << 20
)

// Store is an engine.Webhooks on a bbolt file and its log. Leases are held
// in memory: only this process uses the file.
type Store struct {
	db   *bolt.DB
	path string
	sync bool

	// mu guards the log writer, the queue ends and what waits to be moved.
	mu       sync.Mutex
	written  *sync.Cond // signalled when a write ends
	seg      *os.File   // the segment being appended to
	segNo    int
	segLen   int64
	old      []string // older segments, deleted once moved
	buf      []byte   // records not yet written
	bufRecs  []*walRecord
	writing  bool   // a write(2) is under way, outside mu
	lastLSN  uint64 // the last record numbered
	wroteLSN uint64 // the last record written
	werr     error  // a failed write: the log is unusable
	pending  []*walRecord
	pendLen  int
	ends     map[string]*ends
	timer    *time.Timer // the background move
	timerSet bool        // and it is due
	closed   bool

	moveMu sync.Mutex // one move at a time, in order

	leaseMu sync.Mutex
	leases  map[string]lease
}

// ends are the ids an endpoint's queue holds: head..tail (empty when head
// is past tail). tail only grows, so that ids never repeat.
type ends struct{ head, tail uint64 }

func (e *ends) len() int {
	if e == nil || e.tail < e.head {
		return 0
	}
	return int(e.tail - e.head + 1)
}

type lease struct {
	owner   string
	expires time.Time
}

var _ engine.Webhooks = (*Store)(nil)

// The file holds "webhooks", one sub-bucket of items per endpoint (key:
// big-endian id; the bucket's sequence is the last id given out), and
// "meta" with the number of the last log record moved in.
var (
	webhooksBucket = []byte("webhooks")
	metaBucket     = []byte("meta")
	appliedKey     = []byte("wal_applied")
)

// Open opens or creates the store file at path and moves in what its log
// holds. A file held by another process is an error after a second.
func Open(path string, opts Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: !opts.Sync, NoGrowSync: !opts.Sync, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, sync: opts.Sync, ends: map[string]*ends{}, leases: map[string]lease{}}
	s.written = sync.NewCond(&s.mu)
	if err := s.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// segments lists the log segments beside the file, oldest first.
func (s *Store) segments() ([]int, error) {
	names, err := filepath.Glob(s.path + ".wal.*")
	if err != nil {
		return nil, err
	}
	var nums []int
	for _, name := range names {
		if n, err := strconv.Atoi(strings.TrimPrefix(name, s.path+".wal.")); err == nil && n > 0 {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	return nums, nil
}

func (s *Store) segmentPath(n int) string { return s.path + ".wal." + strconv.Itoa(n) }

// recover moves the log into bbolt, removes it, starts a new segment and
// reads every queue's ends.
func (s *Store) recover() error {
	nums, err := s.segments()
	if err != nil {
		return err
	}
	var applied uint64
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(webhooksBucket); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if v := meta.Get(appliedKey); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		return err
	}
	last := applied
	var recs []*walRecord
	for _, n := range nums {
		data, err := os.ReadFile(s.segmentPath(n))
		if err != nil {
			return err
		}
		got, _ := readRecords(data) // a torn tail ends the segment
		for _, r := range got {
			if r.lsn > last {
				recs = append(recs, r)
				last = r.lsn
			}
		}
	}
	if len(recs) > 0 {
		if err := s.apply(recs); err != nil {
			return err
		}
	}
	for _, n := range nums {
		if err := os.Remove(s.segmentPath(n)); err != nil {
			return err
		}
	}
	s.lastLSN, s.wroteLSN = last, last
	next := 1
	if len(nums) > 0 {
		next = nums[len(nums)-1] + 1
	}
	if err := s.startSegment(next); err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(webhooksBucket).ForEachBucket(func(k []byte) error {
			b := tx.Bucket(webhooksBucket).Bucket(k)
			e := &ends{tail: b.Sequence(), head: b.Sequence() + 1}
			if first, _ := b.Cursor().First(); first != nil {
				e.head = binary.BigEndian.Uint64(first)
			}
			s.ends[string(k)] = e
			return nil
		})
	})
}

// startSegment makes segment n the one appended to.
func (s *Store) startSegment(n int) error {
	f, err := os.OpenFile(s.segmentPath(n), os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if s.seg != nil {
		s.old = append(s.old, s.seg.Name())
		s.seg.Close()
	}
	s.seg, s.segNo, s.segLen = f, n, 0
	return nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close moves what the log holds into the file, removes the log and closes
// the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	// Pushes still waiting for their write get it.
	_ = s.waitWritten(s.lastLSN)
	s.mu.Unlock()
	err := s.move()
	s.moveMu.Lock()
	defer s.moveMu.Unlock()
	s.mu.Lock()
	seg := s.seg
	s.seg = nil
	s.mu.Unlock()
	if seg != nil {
		seg.Close()
		if err == nil && s.werr == nil {
			os.Remove(seg.Name()) // everything is in the file
		}
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

func key(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

var errClosed = errors.New("webhook queue: store closed")

// WebhookPush numbers the items, bounds their queues and appends them to
// the log as one record; it returns once the record is written.
func (s *Store) WebhookPush(_ context.Context, items []engine.WebhookPush, max int) (map[string]int, error) {
	if len(items) == 0 {
		return map[string]int{}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if s.werr != nil {
		return nil, fmt.Errorf("webhook queue: push: %w", s.werr)
	}
	s.lastLSN++
	r := &walRecord{lsn: s.lastLSN, items: make([]walItem, len(items))}
	var touched []string
	for i, it := range items {
		e := s.ends[it.Endpoint]
		if e == nil {
			e = &ends{head: 1}
			s.ends[it.Endpoint] = e
		}
		if e.len() == 0 {
			e.head = e.tail + 1
		}
		e.tail++
		r.items[i] = walItem{endpoint: it.Endpoint, id: e.tail, body: bytes.Clone(it.Body)}
		if !containsString(touched, it.Endpoint) {
			touched = append(touched, it.Endpoint)
		}
	}
	dropped := map[string]int{}
	for _, ep := range touched {
		e := s.ends[ep]
		if max > 0 && e.len() > max {
			dropped[ep] = e.len() - max
			e.head = e.tail - uint64(max) + 1
		}
		r.heads = append(r.heads, walHead{endpoint: ep, head: e.head})
	}
	s.buf = appendRecord(s.buf, r)
	s.bufRecs = append(s.bufRecs, r)
	if err := s.waitWritten(r.lsn); err != nil {
		return nil, fmt.Errorf("webhook queue: push: %w", err)
	}
	return dropped, nil
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// waitWritten returns once record lsn is written. The first pusher to find
// no write under way writes everything buffered, outside mu; the others
// wait for it (group commit). s.mu is held.
func (s *Store) waitWritten(lsn uint64) error {
	for s.wroteLSN < lsn && s.werr == nil {
		if s.writing {
			s.written.Wait()
			continue
		}
		buf, recs, f := s.buf, s.bufRecs, s.seg
		s.buf, s.bufRecs = nil, nil
		s.writing = true
		s.mu.Unlock()
		_, err := f.Write(buf)
		if err == nil && s.sync {
			err = f.Sync()
		}
		s.mu.Lock()
		s.writing = false
		s.written.Broadcast()
		if err != nil {
			s.werr = err
			break
		}
		s.wroteLSN = recs[len(recs)-1].lsn
		s.segLen += int64(len(buf))
		s.pending = append(s.pending, recs...)
		s.pendLen += len(buf)
		if s.buf == nil {
			s.buf = buf[:0] // reuse
		}
		s.scheduleMove()
	}
	return s.werr
}

// scheduleMove arranges for what was written to reach bbolt soon; s.mu is
// held.
func (s *Store) scheduleMove() {
	if s.closed {
		return
	}
	delay := moveDelay
	if s.pendLen >= moveBytes {
		delay = 0
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(delay, s.backgroundMove)
		return
	}
	if delay == 0 || !s.timerSet {
		s.timer.Reset(delay)
	}
	s.timerSet = true
}

func (s *Store) backgroundMove() {
	s.mu.Lock()
	s.timerSet = false
	closed := s.closed
	s.mu.Unlock()
	if !closed {
		_ = s.move() // an error stays for the next move or a read to report
	}
}

// move writes what the log holds into bbolt, in order, in one transaction;
// once a full segment's records are all in, the segment is removed.
func (s *Store) move() error {
	s.moveMu.Lock()
	defer s.moveMu.Unlock()
	s.mu.Lock()
	recs := s.pending
	s.pending, s.pendLen = nil, 0
	var drop []string
	if s.segLen >= segmentSize && !s.writing && s.werr == nil && !s.closed {
		if err := s.startSegment(s.segNo + 1); err == nil {
			drop, s.old = s.old, nil
		}
	}
	s.mu.Unlock()
	if len(recs) > 0 {
		if err := s.apply(recs); err != nil {
			s.mu.Lock()
			s.pending = append(recs, s.pending...)
			s.old = append(drop, s.old...)
			s.mu.Unlock()
			return fmt.Errorf("webhook queue: move log into store: %w", err)
		}
	}
	for _, name := range drop {
		os.Remove(name)
	}
	return nil
}

// apply writes records into bbolt in one transaction.
func (s *Store) apply(recs []*walRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(webhooksBucket)
		for _, r := range recs {
			for _, it := range r.items {
				b, err := root.CreateBucketIfNotExists([]byte(it.endpoint))
				if err != nil {
					return err
				}
				if err := b.Put(key(it.id), it.body); err != nil {
					return err
				}
				if b.Sequence() < it.id {
					if err := b.SetSequence(it.id); err != nil {
						return err
					}
				}
			}
			for _, h := range r.heads {
				if err := trim(root.Bucket([]byte(h.endpoint)), h.head); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(metaBucket).Put(appliedKey, key(recs[len(recs)-1].lsn))
	})
}

// trim deletes b's items below head.
func trim(b *bolt.Bucket, head uint64) error {
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < head; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// WebhookPeek returns up to n of the oldest items.
func (s *Store) WebhookPeek(_ context.Context, endpoint string, n int) ([]engine.WebhookItem, error) {
	if err := s.move(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	e := s.ends[endpoint]
	var head uint64
	if e != nil {
		head = e.head
	}
	s.mu.Unlock()
	var items []engine.WebhookItem
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(webhooksBucket).Bucket([]byte(endpoint))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(key(head)); k != nil && len(items) < n; k, v = c.Next() {
			items = append(items, engine.WebhookItem{ID: binary.BigEndian.Uint64(k), Body: bytes.Clone(v)})
		}
		return nil
	})
	return items, err
}

// WebhookAck removes the items up to and including id.
func (s *Store) WebhookAck(_ context.Context, endpoint string, id uint64) error {
	s.mu.Lock()
	e := s.ends[endpoint]
	if e != nil && id >= e.head {
		e.head = min(id, e.tail) + 1
	}
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	if err := s.move(); err != nil {
		return err
	}
	s.moveMu.Lock()
	defer s.moveMu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		return trim(tx.Bucket(webhooksBucket).Bucket([]byte(endpoint)), id+1)
	})
}

// WebhookLen counts the endpoint's waiting items.
func (s *Store) WebhookLen(_ context.Context, endpoint string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ends[endpoint].len(), nil
}

// WebhookLease takes or renews the in-memory lease.
func (s *Store) WebhookLease(_ context.Context, endpoint, owner string, ttl time.Duration) (bool, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	now := time.Now()
	if l, ok := s.leases[endpoint]; ok && l.owner != owner && now.Before(l.expires) {
		return false, nil
	}
	s.leases[endpoint] = lease{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// WebhookRelease gives the lease up.
func (s *Store) WebhookRelease(_ context.Context, endpoint, owner string) error {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.leases[endpoint].owner == owner {
		delete(s.leases, endpoint)
	}
	return nil
}

// WebhookRemove drops the endpoint's queue and lease.
func (s *Store) WebhookRemove(_ context.Context, endpoint string) error {
	s.leaseMu.Lock()
	delete(s.leases, endpoint)
	s.leaseMu.Unlock()
	s.mu.Lock()
	e := s.ends[endpoint]
	var tail uint64
	if e != nil {
		e.head = e.tail + 1
		tail = e.tail
	}
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	if err := s.move(); err != nil {
		return err
	}
	s.moveMu.Lock()
	defer s.moveMu.Unlock()
	// The bucket stays, with its sequence, so that ids never repeat.
	return s.db.Update(func(tx *bolt.Tx) error {
		return trim(tx.Bucket(webhooksBucket).Bucket([]byte(endpoint)), tail+1)
	})
}
