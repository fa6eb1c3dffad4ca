package centrifugo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-hub/switchboard/bridge"
	"github.com/switchboard-hub/switchboard/bridge/centrifugo"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/redistest"
)

// runQueue starts the face's queue consumer and stops it at cleanup,
// checking that Run returns nil once its context ends.
func runQueue(t *testing.T, h *centrifugo.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after its context ended")
		}
	})
}

// waitRequests collects n hub requests or fails after a timeout.
func waitRequests(t *testing.T, hub *fakeHub, n int) []proto.Message {
	t.Helper()
	var got []proto.Message
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case m := <-hub.seen:
			got = append(got, m)
		case <-timeout:
			t.Fatalf("got %d of %d hub requests: %v", len(got), n, got)
		}
	}
	return got
}

func TestRedisQueue(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := testPrefix()
	keys := centrifugo.QueueKeys(prefix, 2)
	if want := []string{prefix + ".api", prefix + ".api.0", prefix + ".api.1"}; !equalStrings(keys, want) {
		t.Fatalf("QueueKeys = %v, want %v", keys, want)
	}
	push := producer(t, addr, keys)

	// Queued before the consumer starts: nothing is lost in between. An
	// array item and undecodable JSON are logged and dropped; presence and
	// node are not queue methods and are ignored.
	push(keys[0],
		`[{"method":"publish","params":{"channel":"dropped","data":1}}]`,
		`{"method":"presence","params":{"channel":"ignored"}}`,
		`{"method":"node"}`,
		`not json`,
		`{"method":"publish","params":{"channel":"q1","data":{"n": 1}}}`,
		`{"data":[{"method":"publish","params":{"channel":"q2","data":2}},{"method":"disconnect","params":{"user":"u1"}}]}`,
	)
	hub := &fakeHub{}
	h := centrifugo.New(bridge.Deps{Hub: startFakeHub(t, hub), Logger: quietLog}, centrifugo.Options{
		RedisAPI: true, RedisAddress: addr, RedisPrefix: prefix, RedisNumShards: 2,
	})
	runQueue(t, h)
	got := waitRequests(t, hub, 3)
	want := []proto.Message{
		&pb.PublishRequest{Event: &pb.Event{Channel: "q1", Data: `{"n": 1}`}},
		&pb.PublishRequest{Event: &pb.Event{Channel: "q2", Data: `2`}},
		&pb.DisconnectRequest{User: "u1"},
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("request %d = %v, want %v (push order on one list)", i, got[i], want[i])
		}
	}

	// Shard lists, pushed while the consumer is blocked in BLPOP.
	push(keys[1], `{"method":"broadcast","params":{"channels":["a","b"],"data":true}}`)
	push(keys[2], `{"method":"unsubscribe","params":{"channel":"c","user":"u2"}}`)
	got = waitRequests(t, hub, 2)
	wantShard := []proto.Message{
		&pb.BroadcastRequest{Channels: []string{"a", "b"}, Event: &pb.Event{Data: `true`}},
		&pb.UnsubscribeRequest{Channel: "c", User: "u2"},
	}
	for _, w := range wantShard {
		if !proto.Equal(got[0], w) && !proto.Equal(got[1], w) {
			t.Fatalf("requests %v lack %v", got, w)
		}
	}
	for _, m := range hub.requests() {
		switch m.(type) {
		case *pb.PresenceRequest, *pb.NodeRequest:
			t.Fatalf("queue ran an ignored method: %v", m)
		}
		if p, ok := m.(*pb.PublishRequest); ok && p.GetEvent().GetChannel() == "dropped" {
			t.Fatalf("queue ran an array item")
		}
	}
}

func TestRedisQueueDisabled(t *testing.T) {
	h := centrifugo.New(bridge.Deps{Logger: quietLog}, centrifugo.Options{})
	if err := h.Run(context.Background()); err != nil {
		t.Fatalf("Run without RedisAPI = %v, want nil", err)
	}
}

func TestRedisQueueUnreachable(t *testing.T) {
	// A Redis that is not there is retried, not fatal; the consumer still
	// ends with its context.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close() // nothing listens there now
	h := centrifugo.New(bridge.Deps{Logger: quietLog}, centrifugo.Options{RedisAPI: true, RedisAddress: addr})
	runQueue(t, h)
}

// testPrefix is a queue prefix of its own for one test, so tests sharing a
// Redis never pop each other's items.
func testPrefix() string {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return "switchboard-test-" + hex.EncodeToString(rnd[:])
}

// producer returns a function that RPUSHes items to a list, as a v1
// application does; keys are deleted at cleanup.
func producer(t *testing.T, addr string, keys []string) func(key string, items ...string) {
	t.Helper()
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Do(context.Background(), client.B().Del().Key(keys...).Build())
		client.Close()
	})
	return func(key string, items ...string) {
		t.Helper()
		if err := client.Do(context.Background(), client.B().Rpush().Key(key).Element(items...).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
