package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/boltstore"
)

// BenchmarkPush measures one push of one body, as a publish with one
// endpoint makes it, without a reader.
func BenchmarkPush(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "q.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	items := []engine.WebhookPush{{Endpoint: "e", Body: make([]byte, 300)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.WebhookPush(context.Background(), items, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}
