package user_test

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/user"
)

// stores returns every Store implementation, fresh, for the same tests.
// The Redis one needs a Redis (SWITCHBOARD_TEST_REDIS, default
// 127.0.0.1:6379); it is skipped without one, except in CI.
func stores() map[string]func(t *testing.T) user.Store {
	return map[string]func(t *testing.T) user.Store{
		"memory": func(*testing.T) user.Store { return user.NewMemoryStore() },
		"redis":  newRedisStore,
	}
}

func newRedisStore(t *testing.T) user.Store {
	addr := redistest.Addr(t)
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return user.NewRedisStore(client, redistest.Prefix(t, addr))
}

func TestStores(t *testing.T) {
	for name, newStore := range stores() {
		t.Run(name, func(t *testing.T) {
			t.Run("records per tenant and user", func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
				must(t, s.SetAuthHash(ctx, "", "1", "h-default"))
				must(t, s.SetAuthHash(ctx, "7", "1", "h-dev7"))
				must(t, s.SetUserData(ctx, "7", "1", "data"))
				for _, c := range []struct{ tenant, user, hash, data string }{
					{"", "1", "h-default", ""}, {"7", "1", "h-dev7", "data"}, {"7", "2", "", ""}, {"71", "", "", ""},
				} {
					h, err := s.AuthHash(ctx, c.tenant, c.user)
					must(t, err)
					d, err := s.UserData(ctx, c.tenant, c.user)
					must(t, err)
					if h != c.hash || d != c.data {
						t.Errorf("(%q, %q): hash %q data %q, want %q %q", c.tenant, c.user, h, d, c.hash, c.data)
					}
				}
				must(t, s.SetAuthHash(ctx, "7", "1", ""))
				if h, _ := s.AuthHash(ctx, "7", "1"); h != "" {
					t.Errorf("hash after delete = %q", h)
				}
				if d, _ := s.UserData(ctx, "7", "1"); d != "data" {
					t.Errorf("deleting the hash took the data: %q", d)
				}
			})
			t.Run("last seen never moves back", func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
				if _, ok, err := s.LastSeen(ctx, "", "1"); ok || err != nil {
					t.Fatalf("never seen: ok %v err %v", ok, err)
				}
				later := time.UnixMilli(200_000)
				must(t, s.SetLastSeen(ctx, "", "1", later))
				must(t, s.SetLastSeen(ctx, "", "1", time.UnixMilli(100_000)))
				got, ok, err := s.LastSeen(ctx, "", "1")
				if err != nil || !ok || !got.Equal(later) {
					t.Fatalf("last seen = %v %v %v, want %v", got, ok, err, later)
				}
			})
			t.Run("concurrent AddAuthHash agree", func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
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
					if h != results[0] || h == "" {
						t.Fatalf("concurrent AddAuthHash disagree: %v", results)
					}
				}
				if stored, err := s.AuthHash(ctx, "t", "u"); err != nil || stored != results[0] {
					t.Fatalf("stored %q, want %q", stored, results[0])
				}
			})
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
