package user_test

import (
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/services/user"
)

func TestMemoryLastSeenNeverMovesBack(t *testing.T) {
	s := user.NewMemoryStore()
	ctx := t.Context()
	later := time.Unix(200, 0)
	if err := s.SetLastSeen(ctx, "", "1", later); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLastSeen(ctx, "", "1", time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LastSeen(ctx, "", "1")
	if err != nil || !ok || !got.Equal(later) {
		t.Fatalf("last seen = %v %v %v, want %v", got, ok, err, later)
	}
}

func TestMemoryAddAuthHashAgrees(t *testing.T) {
	s := user.NewMemoryStore()
	ctx := t.Context()
	const n = 8
	results := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			h, err := s.AddAuthHash(ctx, "t", "u", string(rune('a'+i)))
			if err != nil {
				t.Error(err)
			}
			results[i] = h
		})
	}
	wg.Wait()
	for _, h := range results {
		if h != results[0] {
			t.Fatalf("concurrent AddAuthHash disagree: %v", results)
		}
	}
	stored, err := s.AuthHash(ctx, "t", "u")
	if err != nil || stored != results[0] {
		t.Fatalf("stored %q, want %q", stored, results[0])
	}
}
