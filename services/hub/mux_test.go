package hub_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/inproc"
	"github.com/switchboard-hub/switchboard/services/auth"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/hub"
)

// muxTransports are the two ways a bridge reaches the hub: over gRPC, and
// in process (internal/inproc, which shares messages instead of copying).
func muxTransports(t *testing.T, c *core) map[string]pb.HubServiceClient {
	t.Helper()
	ac := auth.Config{APIKeys: []string{testAPIKey}, TokenSecret: []byte(testTokenSecret)}
	local := inproc.New(nil, metadata.Pairs("authorization", "apikey "+testAPIKey),
		[]grpc.UnaryServerInterceptor{ac.UnaryInterceptor()}, []grpc.StreamServerInterceptor{ac.StreamInterceptor()})
	pb.RegisterHubServiceServer(local, c.hub.HubService())
	t.Cleanup(local.Close)
	return map[string]pb.HubServiceClient{"grpc": c.Hub, "inproc": pb.NewHubServiceClient(local)}
}

// openMux opens a multiplexed stream and returns it with its id.
func openMux(t *testing.T, c pb.HubServiceClient) (pb.HubService_SubscribeMuxClient, string) {
	t.Helper()
	st, err := c.SubscribeMux(ctxFor(t), &pb.SubscribeMuxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil || m.GetOpened().GetMuxId() == "" {
		t.Fatalf("first message %v %v, want opened", m, err)
	}
	return st, m.GetOpened().GetMuxId()
}

// nextItem returns the next item of a multiplexed stream.
func nextItem(t *testing.T, st pb.HubService_SubscribeMuxClient, pending *[]*pb.MuxItem) *pb.MuxItem {
	t.Helper()
	for len(*pending) == 0 {
		m, err := st.Recv()
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		*pending = m.GetBatch().GetItems()
	}
	it := (*pending)[0]
	*pending = (*pending)[1:]
	return it
}

func channelFilter(chs ...string) []*pb.Filter { return []*pb.Filter{{Channels: chs}} }

func muxAdd(t *testing.T, c pb.HubServiceClient, id string, sub uint64, filters []*pb.Filter) {
	t.Helper()
	if _, err := c.MuxAdd(ctxFor(t), &pb.MuxAddRequest{MuxId: id, Subscription: sub, Filters: filters}); err != nil {
		t.Fatalf("add %d: %v", sub, err)
	}
}

// expectEvent reads the next item and checks it is the event with data
// for exactly the subscriptions subs.
func expectEvent(t *testing.T, st pb.HubService_SubscribeMuxClient, pending *[]*pb.MuxItem, data string, subs ...uint64) {
	t.Helper()
	it := nextItem(t, st, pending)
	got := slices.Sorted(slices.Values(it.GetSubscriptions()))
	if it.GetEvent().GetData() != data || !slices.Equal(got, subs) {
		t.Fatalf("item %v, want event %s for %v", it, data, subs)
	}
}

// TestMuxAddRemove: subscriptions added to a live stream get every event
// published after MuxAdd returned, each event once with the ids of all the
// subscriptions it matches; after MuxRemove returned, none.
func TestMuxAddRemove(t *testing.T) {
	c := start(t, hub.Options{})
	for name, client := range muxTransports(t, c) {
		t.Run(name, func(t *testing.T) {
			st, id := openMux(t, client)
			var pending []*pb.MuxItem
			a, b := "a-"+name, "b-"+name
			muxAdd(t, client, id, 1, channelFilter(a))
			// Published right after the add returned: not missed.
			publish(t, c.Hub, &pb.Event{Channel: a, Data: `1`})
			expectEvent(t, st, &pending, `1`, 1)

			muxAdd(t, client, id, 2, channelFilter(b))
			muxAdd(t, client, id, 3, []*pb.Filter{{Channels: []string{a}, Names: []string{"x"}}})
			publish(t, c.Hub, &pb.Event{Channel: a, Name: "x", Data: `2`})
			publish(t, c.Hub, &pb.Event{Channel: b, Data: `3`})
			publish(t, c.Hub, &pb.Event{Channel: a, Name: "y", Data: `4`})
			expectEvent(t, st, &pending, `2`, 1, 3)
			expectEvent(t, st, &pending, `3`, 2)
			expectEvent(t, st, &pending, `4`, 1)

			if _, err := client.MuxRemove(ctxFor(t), &pb.MuxRemoveRequest{MuxId: id, Subscriptions: []uint64{1, 99}}); err != nil {
				t.Fatal(err)
			}
			publish(t, c.Hub, &pb.Event{Channel: a, Data: `5`})            // no one
			publish(t, c.Hub, &pb.Event{Channel: a, Name: "x", Data: `6`}) // 3 only
			expectEvent(t, st, &pending, `6`, 3)
		})
	}
}

func TestMuxErrors(t *testing.T) {
	c := start(t, hub.Options{})
	_, id := openMux(t, c.Hub)
	muxAdd(t, c.Hub, id, 1, channelFilter("a"))
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"unknown stream", func() error {
			_, err := c.Hub.MuxAdd(ctxFor(t), &pb.MuxAddRequest{MuxId: "nope", Subscription: 1, Filters: channelFilter("a")})
			return err
		}, codes.NotFound},
		{"id in use", func() error {
			_, err := c.Hub.MuxAdd(ctxFor(t), &pb.MuxAddRequest{MuxId: id, Subscription: 1, Filters: channelFilter("b")})
			return err
		}, codes.InvalidArgument},
		{"no filters", func() error {
			_, err := c.Hub.MuxAdd(ctxFor(t), &pb.MuxAddRequest{MuxId: id, Subscription: 2})
			return err
		}, codes.InvalidArgument},
		{"unknown namespace", func() error {
			_, err := c.Hub.MuxAdd(ctxFor(t), &pb.MuxAddRequest{MuxId: id, Subscription: 3, Filters: channelFilter("nons:x")})
			return err
		}, codes.NotFound},
		{"user token: stream", func() error {
			st, err := c.asUser(t, "bob").SubscribeMux(ctxFor(t), &pb.SubscribeMuxRequest{})
			if err != nil {
				return err
			}
			_, err = st.Recv()
			return err
		}, codes.PermissionDenied},
		{"user token: add", func() error {
			_, err := c.asUser(t, "bob").MuxAdd(ctxFor(t), &pb.MuxAddRequest{MuxId: id, Subscription: 4, Filters: channelFilter("a")})
			return err
		}, codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); status.Code(err) != tt.want {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestMuxGap: a gap on a channel ends exactly the subscriptions that could
// have received its events, after the events queued before; the stream and
// its other subscriptions go on.
func TestMuxGap(t *testing.T) {
	c := start(t, hub.Options{})
	for name, client := range muxTransports(t, c) {
		t.Run(name, func(t *testing.T) {
			st, id := openMux(t, client)
			var pending []*pb.MuxItem
			a, b := "ga-"+name, "gb-"+name
			muxAdd(t, client, id, 1, channelFilter(a))
			muxAdd(t, client, id, 2, channelFilter(b))
			muxAdd(t, client, id, 3, channelFilter(a, b))
			publish(t, c.Hub, &pb.Event{Channel: a, Data: `1`})
			from := &pb.StreamPosition{Offset: 1, Epoch: "e"}
			c.hub.HandleGap(&engine.Gap{Channel: a, From: from, To: &pb.StreamPosition{Offset: 9, Epoch: "e"}})
			expectEvent(t, st, &pending, `1`, 1, 3)
			ended := map[uint64]bool{}
			for len(ended) < 2 {
				it := nextItem(t, st, &pending)
				e := it.GetEnded()
				if e == nil || codes.Code(e.GetCode()) != codes.DataLoss || e.GetGap().GetChannel() != a || e.GetGap().GetFrom().GetOffset() != 1 {
					t.Fatalf("item %v, want a gap end of %s", it, a)
				}
				for _, s := range it.GetSubscriptions() {
					ended[s] = true
				}
			}
			if !ended[1] || !ended[3] {
				t.Fatalf("ended %v, want 1 and 3", ended)
			}
			publish(t, c.Hub, &pb.Event{Channel: a, Data: `2`}) // no one left
			publish(t, c.Hub, &pb.Event{Channel: b, Data: `3`})
			expectEvent(t, st, &pending, `3`, 2)
		})
	}
}

// TestMuxEndRemovesSubscriptions: when the stream ends, its subscriptions
// leave the index; the channels count no subscriber on this node.
func TestMuxEndRemovesSubscriptions(t *testing.T) {
	c := start(t, hub.Options{})
	ctx, cancel := context.WithCancel(ctxFor(t))
	st, err := c.Hub.SubscribeMux(ctx, &pb.SubscribeMuxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	id := m.GetOpened().GetMuxId()
	for i := range 10 {
		muxAdd(t, c.Hub, id, uint64(i+1), channelFilter(fmt.Sprintf("end-%d", i)))
	}
	if n := nodeSubscriptions(t, c); n != 10 {
		t.Fatalf("%d subscriptions, want 10", n)
	}
	cancel()
	// MuxAdd fails once the hub has closed the stream, which removes its
	// subscriptions first.
	for {
		_, err := c.Hub.MuxAdd(ctxFor(t), &pb.MuxAddRequest{MuxId: id, Subscription: 100, Filters: channelFilter("end-x")})
		if status.Code(err) == codes.NotFound {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Hub.MuxRemove(ctxFor(t), &pb.MuxRemoveRequest{MuxId: id, Subscriptions: []uint64{100}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := nodeSubscriptions(t, c); n != 0 {
		t.Fatalf("%d subscriptions left, want 0", n)
	}
}

func nodeSubscriptions(t *testing.T, c *core) uint64 {
	t.Helper()
	r, err := c.Hub.Node(ctxFor(t), &pb.NodeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetNode().GetNumSubscriptions()
}
