package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/boltstore"
	"github.com/switchboard-hub/switchboard/services/engine/enginetest"
)

func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestWebhooks(t *testing.T) {
	enginetest.RunWebhooks(t,
		func(t *testing.T) engine.Webhooks { return open(t, filepath.Join(t.TempDir(), "store.db")) },
		func(t *testing.T, s engine.Webhooks) engine.Webhooks {
			bs := s.(*boltstore.Store)
			path := bs.Path()
			if err := bs.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, path)
		})
}

func TestOpenHeldFileFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	open(t, path)
	if _, err := boltstore.Open(path, boltstore.Options{}); err == nil {
		t.Fatal("a second Open of a held file succeeded")
	}
}
