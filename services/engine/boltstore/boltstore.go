// Package boltstore keeps the records of a single node that must outlive the
// process — webhook queues — in one embedded bbolt file. It stands beside the
// memory engine; with the Redis engine those records live in Redis instead.
//
// Writes are not fsynced by default: a record survives the process being
// killed (the kernel still holds the written pages) but not the machine
// losing power. Options.Sync makes every write durable against that too.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
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

// Store is an engine.Webhooks on a bbolt file. Leases are held in memory:
// only this process uses the file.
type Store struct {
	db *bolt.DB

	mu     sync.Mutex
	leases map[string]lease
}

type lease struct {
	owner   string
	expires time.Time
}

var _ engine.Webhooks = (*Store)(nil)

// The file holds two buckets: "webhooks" with one sub-bucket of items per
// endpoint (key: big-endian id), and "counts" with each endpoint's number of
// items, so that bounding a queue does not walk it.
var (
	webhooksBucket = []byte("webhooks")
	countsBucket   = []byte("counts")
)

func count(tx *bolt.Tx, endpoint string) int {
	v := tx.Bucket(countsBucket).Get([]byte(endpoint))
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func setCount(tx *bolt.Tx, endpoint string, n int) error {
	if n <= 0 {
		return tx.Bucket(countsBucket).Delete([]byte(endpoint))
	}
	return tx.Bucket(countsBucket).Put([]byte(endpoint), key(uint64(n)))
}

// Open opens or creates the store file at path. A file held by another
// process is an error after a second.
func Open(path string, opts Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: !opts.Sync, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(webhooksBucket); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(countsBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{db: db, leases: make(map[string]lease)}, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.db.Path() }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func key(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

// WebhookPush appends items in one transaction.
func (s *Store) WebhookPush(_ context.Context, items []engine.WebhookPush, max int) (map[string]int, error) {
	dropped := map[string]int{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(webhooksBucket)
		type queue struct {
			b *bolt.Bucket
			n int
		}
		touched := map[string]*queue{}
		for _, it := range items {
			q := touched[it.Endpoint]
			if q == nil {
				b, err := root.CreateBucketIfNotExists([]byte(it.Endpoint))
				if err != nil {
					return err
				}
				q = &queue{b: b, n: count(tx, it.Endpoint)}
				touched[it.Endpoint] = q
			}
			id, err := q.b.NextSequence()
			if err != nil {
				return err
			}
			if err := q.b.Put(key(id), bytes.Clone(it.Body)); err != nil {
				return err
			}
			q.n++
		}
		for ep, q := range touched {
			if max > 0 && q.n > max {
				c := q.b.Cursor()
				for k, _ := c.First(); k != nil && q.n > max; k, _ = c.First() {
					if err := c.Delete(); err != nil {
						return err
					}
					q.n--
					dropped[ep]++
				}
			}
			if err := setCount(tx, ep, q.n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webhook queue: push: %w", err)
	}
	return dropped, nil
}

// WebhookPeek returns up to n of the oldest items.
func (s *Store) WebhookPeek(_ context.Context, endpoint string, n int) ([]engine.WebhookItem, error) {
	var items []engine.WebhookItem
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(webhooksBucket).Bucket([]byte(endpoint))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(items) < n; k, v = c.Next() {
			items = append(items, engine.WebhookItem{ID: binary.BigEndian.Uint64(k), Body: bytes.Clone(v)})
		}
		return nil
	})
	return items, err
}

// WebhookAck removes the items up to and including id.
func (s *Store) WebhookAck(_ context.Context, endpoint string, id uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(webhooksBucket).Bucket([]byte(endpoint))
		if b == nil {
			return nil
		}
		n := count(tx, endpoint)
		c := b.Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= id; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n--
		}
		return setCount(tx, endpoint, n)
	})
}

// WebhookLen counts the endpoint's waiting items.
func (s *Store) WebhookLen(_ context.Context, endpoint string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = count(tx, endpoint)
		return nil
	})
	return n, err
}

// WebhookLease takes or renews the in-memory lease.
func (s *Store) WebhookLease(_ context.Context, endpoint, owner string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if l, ok := s.leases[endpoint]; ok && l.owner != owner && now.Before(l.expires) {
		return false, nil
	}
	s.leases[endpoint] = lease{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// WebhookRelease gives the lease up.
func (s *Store) WebhookRelease(_ context.Context, endpoint, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[endpoint].owner == owner {
		delete(s.leases, endpoint)
	}
	return nil
}

// WebhookRemove drops the endpoint's queue and lease.
func (s *Store) WebhookRemove(_ context.Context, endpoint string) error {
	s.mu.Lock()
	delete(s.leases, endpoint)
	s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		// The bucket stays, with its sequence, so that ids never repeat.
		if b := tx.Bucket(webhooksBucket).Bucket([]byte(endpoint)); b != nil {
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return setCount(tx, endpoint, 0)
	})
}
