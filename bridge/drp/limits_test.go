package drp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/drp"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// countingHub counts the subscriptions a face asks a real core for: its
// Subscribe streams and the subscriptions it adds to a multiplexed stream.
type countingHub struct {
	pb.HubServiceClient
	subscribes atomic.Int64
}

func (h *countingHub) Subscribe(ctx context.Context, in *pb.SubscribeRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[pb.SubscribeResponse], error) {
	h.subscribes.Add(1)
	return h.HubServiceClient.Subscribe(ctx, in, opts...)
}

func (h *countingHub) MuxAdd(ctx context.Context, in *pb.MuxAddRequest, opts ...grpc.CallOption) (*pb.MuxAddResponse, error) {
	h.subscribes.Add(1)
	return h.HubServiceClient.MuxAdd(ctx, in, opts...)
}

// logRecorder keeps the messages of records at Info and above.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

// TestRegisterFloodIsBounded: a token user's socket sends 1,100 distinct
// register frames. Past the hub's limits for one subscription the face
// filters locally without asking the hub, so the socket costs at most one
// Subscribe call per filter up to that limit plus one for the catch-all
// group; the refusal is logged once; the socket is closed at the face's own
// limit of filters, after acknowledging every frame before it.
func TestRegisterFloodIsBounded(t *testing.T) {
	srv := apptest.Start(t, nil)
	hub := &countingHub{HubServiceClient: srv.Hub}
	logs := &logRecorder{}
	h := drp.New(bridge.Deps{Hub: hub, Logger: slog.New(logs)}, drp.Options{TokenSecret: []byte(apptest.TestTokenSecret)})
	web := httptest.NewServer(h)
	t.Cleanup(web.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(web.URL, "http")+drp.PathWS, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + srv.Token(t, "bob")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()

	const frames, limit = 1100, 1024
	start := time.Now()
	send := func(i int) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf("register t%d.save.*", i))); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	// The first limit frames, written while the acks are read.
	writeErr := make(chan error, 1)
	go func() {
		for i := range limit {
			if err := c.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf("register t%d.save.*", i))); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	acks := 0
	for acks < limit {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("after %d acks: %v", acks, err)
		}
		if !strings.Contains(string(b), `"Type":"websocket","Action":"register"`) {
			t.Fatalf("frame %s, want an ack", b)
		}
		acks++
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	// One more distinct filter closes the socket; the rest are not read.
	for i := limit; i < frames; i++ {
		send(i)
	}
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "too many filters" {
		t.Fatalf("after %d acks: %v; want close 1008 too many filters", acks, err)
	}
	elapsed := time.Since(start)
	// One call per filter set up to the hub's 128 filters, then one for
	// the catch-all group; nothing per frame after that.
	if n := hub.subscribes.Load(); n > 129 {
		t.Errorf("%d Subscribe calls for %d frames; want at most 129", n, frames)
	}
	if n := logs.count("filtering locally"); n != 1 {
		t.Errorf("the local-filtering notice was logged %d times; want once", n)
	}
	t.Logf("%d frames: %d acks, %d Subscribe calls, %v", frames, acks, hub.subscribes.Load(), elapsed)
}
