package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

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

func pushBodies(t *testing.T, s *boltstore.Store, ep string, bodies ...string) {
	t.Helper()
	items := make([]engine.WebhookPush, len(bodies))
	for i, b := range bodies {
		items[i] = engine.WebhookPush{Endpoint: ep, Body: []byte(b)}
	}
	if _, err := s.WebhookPush(context.Background(), items, 0); err != nil {
		t.Fatal(err)
	}
}

func bodies(t *testing.T, s engine.Webhooks, ep string) []string {
	t.Helper()
	items, err := s.WebhookPeek(context.Background(), ep, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, string(it.Body))
	}
	return out
}

// copyFiles copies the store file and its log to dir while the store is
// open and idle: the state a process killed at that moment leaves.
func copyFiles(t *testing.T, path, dir string) string {
	t.Helper()
	names, _ := filepath.Glob(path + "*")
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(path))
}

// TestPushOnlyInTheLogSurvivesACrash: pushes that returned but were not
// yet moved into bbolt are found again by the next Open, after the ones
// that were moved and acknowledged.
func TestPushOnlyInTheLogSurvivesACrash(t *testing.T) {
	defer boltstore.SetMoveDelay(boltstore.SetMoveDelay(time.Hour))
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path)
	pushBodies(t, s, "a", "1", "2")
	if got := bodies(t, s, "a"); fmt.Sprint(got) != "[1 2]" { // moves them in
		t.Fatalf("peek %v", got)
	}
	if err := s.WebhookAck(context.Background(), "a", 1); err != nil {
		t.Fatal(err)
	}
	pushBodies(t, s, "a", "3")
	pushBodies(t, s, "b", "x")
	crashed := copyFiles(t, path, t.TempDir())
	logs, _ := filepath.Glob(crashed + ".wal.*")
	if len(logs) != 1 {
		t.Fatalf("log segments %v", logs)
	}
	if st, _ := os.Stat(logs[0]); st.Size() == 0 {
		t.Fatal("the pushes are not in the log")
	}
	s2 := open(t, crashed)
	if got := bodies(t, s2, "a"); fmt.Sprint(got) != "[2 3]" {
		t.Fatalf("after the crash a holds %v, want [2 3]", got)
	}
	if got := bodies(t, s2, "b"); fmt.Sprint(got) != "[x]" {
		t.Fatalf("after the crash b holds %v", got)
	}
	// New ids follow the old ones.
	pushBodies(t, s2, "a", "4")
	items, _ := s2.WebhookPeek(context.Background(), "a", 10)
	if len(items) != 3 || items[2].ID != 4 {
		t.Fatalf("items %+v", items)
	}
}

// TestTornLogTailIsIgnored: a record cut short (a write the process did
// not finish) and what follows it are skipped; earlier records are kept.
func TestTornLogTailIsIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec := append(boltstore.Record(1, "a", 1, "one", "two"), boltstore.Record(2, "a", 3, "three")...)
	torn := boltstore.Record(3, "a", 4, "four")
	rec = append(rec, torn[:len(torn)-2]...)
	if err := os.WriteFile(path+".wal.7", rec, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, path)
	if got := bodies(t, s2, "a"); fmt.Sprint(got) != "[one two three]" {
		t.Fatalf("a holds %v", got)
	}
	if n, _ := s2.WebhookLen(context.Background(), "a"); n != 3 {
		t.Fatalf("len %d", n)
	}
	if old, _ := filepath.Glob(path + ".wal.7"); len(old) != 0 {
		t.Fatal("the moved segment was not removed")
	}
}

// TestLogStartsNewSegments: a long log is cut into segments, and the ones
// moved into bbolt are removed.
func TestLogStartsNewSegments(t *testing.T) {
	defer boltstore.SetSegmentSize(boltstore.SetSegmentSize(100))
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path)
	for i := range 50 {
		pushBodies(t, s, "a", fmt.Sprintf("body %02d", i))
		if i%10 == 9 {
			bodies(t, s, "a") // moves
		}
	}
	if logs, _ := filepath.Glob(path + ".wal.*"); len(logs) > 2 {
		t.Fatalf("%d segments left", len(logs))
	}
	got := bodies(t, s, "a")
	if len(got) != 50 || got[0] != "body 00" || got[49] != "body 49" {
		t.Fatalf("queue %v", got)
	}
}

func FuzzReadRecords(f *testing.F) {
	f.Add(boltstore.Record(1, "a", 1, "x", "y"))
	f.Add(append(boltstore.Record(1, "a", 1, "x"), 1, 2, 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, clean := boltstore.ReadRecords(data)
		if clean && len(data) > 0 && n == 0 {
			t.Fatal("a clean read of bytes found no record")
		}
	})
}
