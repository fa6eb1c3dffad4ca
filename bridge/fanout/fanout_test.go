package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// countingEncoder encodes the event id and counts its calls.
type countingEncoder struct{ calls atomic.Int64 }

func (e *countingEncoder) encode(ev *pb.Event) ([]byte, error) {
	e.calls.Add(1)
	if ev.GetName() == "unencodable" {
		return nil, errors.New("cannot encode")
	}
	return []byte("frame:" + ev.GetId()), nil
}

func subReq(channel string) *pb.SubscribeRequest {
	return &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{channel}}}}
}

func subscribe(t *testing.T, f *fanout.Fanout, face, key string, enc fanout.Encoder, sink fanout.Sink) func() {
	t.Helper()
	cancel, err := f.Subscribe(ctxTimeout(t), face, key, subReq(key), enc, sink)
	if err != nil {
		t.Fatalf("subscribe %s/%s: %v", face, key, err)
	}
	t.Cleanup(cancel)
	return cancel
}

func TestSinksOfOneKeyShareOneUpstream(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}

	const sinks = 50
	recs := make([]*recSink, sinks)
	for i := range recs {
		recs[i] = newRecSink()
		subscribe(t, f, "face", "news", enc.encode, recs[i])
	}
	stream := hub.nextStream(t)
	if got := hub.subscribeCalls(); got != 1 {
		t.Fatalf("upstream Subscribe calls = %d, want 1", got)
	}
	if got := stream.req.GetFilters()[0].GetChannels(); len(got) != 1 || got[0] != "news" {
		t.Fatalf("upstream request filters = %v", stream.req.GetFilters())
	}

	const events = 5
	for i := range events {
		stream.publish(t, &pb.Event{Id: strconv.Itoa(i), Channel: "news"})
	}
	for _, r := range recs {
		for i := range events {
			ev, frame := r.next(t)
			if ev.GetId() != strconv.Itoa(i) || string(frame) != "frame:"+strconv.Itoa(i) {
				t.Fatalf("event %d: got %v %q", i, ev, frame)
			}
		}
	}
	if got := enc.calls.Load(); got != events {
		t.Fatalf("encoder called %d times for %d events and %d sinks, want %d", got, events, sinks, events)
	}
}

// TestFrameIsShared: every sink gets the very same frame bytes, not a copy.
func TestFrameIsShared(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}
	a, b := newRecSink(), newRecSink()
	subscribe(t, f, "face", "k", enc.encode, a)
	subscribe(t, f, "face", "k", enc.encode, b)
	hub.nextStream(t).publish(t, &pb.Event{Id: "1"})
	_, fa := a.next(t)
	_, fb := b.next(t)
	if &fa[0] != &fb[0] {
		t.Fatalf("sinks got different frame buffers")
	}
}

func TestSeparateGroupsGetSeparateStreams(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}

	groups := []struct{ face, key string }{
		{"drp", "a"},
		{"drp", "b"},
		{"nk", "a"}, // same key, other face: other wire format, other stream
	}
	sinks := make([]*recSink, len(groups))
	streams := make([]*fakeStream, len(groups))
	for i, g := range groups {
		sinks[i] = newRecSink()
		subscribe(t, f, g.face, g.key, enc.encode, sinks[i])
		streams[i] = hub.nextStream(t)
	}
	if got := hub.subscribeCalls(); got != len(groups) {
		t.Fatalf("upstream Subscribe calls = %d, want %d", got, len(groups))
	}
	for i, s := range streams {
		s.publish(t, &pb.Event{Id: fmt.Sprint(i)})
	}
	for i, s := range sinks {
		ev, _ := s.next(t)
		if ev.GetId() != fmt.Sprint(i) {
			t.Fatalf("sink %d got event %q", i, ev.GetId())
		}
	}
	// Barriers on every stream: once each sink has its own, no group has
	// anything left to hand to another group's sink.
	for i, s := range streams {
		s.publish(t, &pb.Event{Id: fmt.Sprint("barrier", i)})
	}
	for i, s := range sinks {
		if ev, _ := s.next(t); ev.GetId() != fmt.Sprint("barrier", i) {
			t.Fatalf("sink %d got %q, want its barrier", i, ev.GetId())
		}
	}
	for _, s := range sinks {
		s.expectNothing(t)
	}
}

func TestConcurrentFirstSubscribersShareOneStream(t *testing.T) {
	hub, client := startHub(t)
	gate := make(chan struct{})
	hub.gate = gate
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}

	const n = 20
	var wg sync.WaitGroup
	started := make(chan struct{}, n)
	errs := make(chan error, n)
	sinks := make([]*recSink, n)
	for i := range n {
		sinks[i] = newRecSink()
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			cancel, err := f.Subscribe(ctxTimeout(t), "face", "k", subReq("k"), enc.encode, sinks[i])
			if err != nil {
				errs <- err
				return
			}
			t.Cleanup(cancel)
		}()
	}
	for range n {
		<-started
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("subscribe: %v", err)
	}
	if got := hub.subscribeCalls(); got != 1 {
		t.Fatalf("upstream Subscribe calls = %d, want 1", got)
	}
	hub.nextStream(t).publish(t, &pb.Event{Id: "x"})
	for _, s := range sinks {
		if ev, _ := s.next(t); ev.GetId() != "x" {
			t.Fatalf("got %v", ev)
		}
	}
}

func TestLastCancelEndsUpstream(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}

	a, b := newRecSink(), newRecSink()
	cancelA := subscribe(t, f, "face", "k", enc.encode, a)
	cancelB := subscribe(t, f, "face", "k", enc.encode, b)
	stream := hub.nextStream(t)

	cancelA()
	cancelA() // idempotent
	stream.publish(t, &pb.Event{Id: "1"})
	stream.publish(t, &pb.Event{Id: "barrier"})
	for _, want := range []string{"1", "barrier"} {
		if ev, _ := b.next(t); ev.GetId() != want {
			t.Fatalf("remaining sink got %v, want %s", ev, want)
		}
	}
	a.expectNothing(t)

	cancelB()
	stream.waitDone(t)

	// The group is gone: the next sink opens a fresh stream.
	c := newRecSink()
	subscribe(t, f, "face", "k", enc.encode, c)
	next := hub.nextStream(t)
	next.publish(t, &pb.Event{Id: "2"})
	if ev, _ := c.next(t); ev.GetId() != "2" {
		t.Fatalf("new sink got %v", ev)
	}
	if got := hub.subscribeCalls(); got != 2 {
		t.Fatalf("upstream Subscribe calls = %d, want 2", got)
	}
}

func TestUpstreamErrorClosesEverySink(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}

	sinks := []*recSink{newRecSink(), newRecSink(), newRecSink()}
	for _, s := range sinks {
		subscribe(t, f, "face", "k", enc.encode, s)
	}
	stream := hub.nextStream(t)
	stream.fail <- status.Error(codes.Unavailable, "hub going away")
	for i, s := range sinks {
		err := s.waitClosed(t)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("sink %d closed with %v", i, err)
		}
	}

	// A later Subscribe opens a new stream rather than joining the dead one.
	d := newRecSink()
	subscribe(t, f, "face", "k", enc.encode, d)
	hub.nextStream(t).publish(t, &pb.Event{Id: "after"})
	if ev, _ := d.next(t); ev.GetId() != "after" {
		t.Fatalf("got %v", ev)
	}
}

func TestUpstreamCleanEndClosesSinks(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	s := newRecSink()
	subscribe(t, f, "face", "k", (&countingEncoder{}).encode, s)
	hub.nextStream(t).fail <- nil
	if err := s.waitClosed(t); !errors.Is(err, fanout.ErrUpstreamEnded) {
		t.Fatalf("closed with %v, want ErrUpstreamEnded", err)
	}
}

func TestOpenFailureIsReturned(t *testing.T) {
	hub, client := startHub(t)
	hub.refuse = status.Error(codes.PermissionDenied, "no")
	f := fanout.New(client, fanout.Options{})
	s := newRecSink()
	_, err := f.Subscribe(ctxTimeout(t), "face", "k", subReq("k"), (&countingEncoder{}).encode, s)
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("subscribe error %v, want PermissionDenied", err)
	}
	// The failed group is not kept: the next Subscribe asks the hub again.
	hub.mu.Lock()
	hub.refuse = nil
	hub.mu.Unlock()
	subscribe(t, f, "face", "k", (&countingEncoder{}).encode, s)
	if got := hub.subscribeCalls(); got != 2 {
		t.Fatalf("upstream Subscribe calls = %d, want 2", got)
	}
}

func TestSubscribeWaitBoundedByContext(t *testing.T) {
	hub, client := startHub(t)
	hub.gate = make(chan struct{}) // never opens: no `subscribed`
	f := fanout.New(client, fanout.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.Subscribe(ctx, "face", "k", subReq("k"), (&countingEncoder{}).encode, newRecSink())
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("subscribe error %v, want context.Canceled", err)
	}
}

func TestNonEventMessagesAndEncoderErrorsAreSkipped(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}
	s := newRecSink()
	subscribe(t, f, "face", "k", enc.encode, s)
	stream := hub.nextStream(t)
	stream.send(t, &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Heartbeat{Heartbeat: &pb.Heartbeat{}}})
	stream.send(t, &pb.SubscribeResponse{Payload: &pb.SubscribeResponse_Unsubscribed{Unsubscribed: &pb.Unsubscribed{Channel: "k"}}})
	stream.publish(t, &pb.Event{Id: "bad", Name: "unencodable"})
	stream.publish(t, &pb.Event{Id: "good"})
	if ev, _ := s.next(t); ev.GetId() != "good" {
		t.Fatalf("first delivered event %v, want good", ev)
	}
	s.expectNothing(t)
}

// TestChurn joins and leaves one group from many goroutines while events
// flow, to exercise a sink joining while the group closes. Afterwards no
// upstream stream is left open, and a new sink still gets events.
func TestChurn(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	enc := &countingEncoder{}

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				cancel, err := f.Subscribe(ctxTimeout(t), "face", "k", subReq("k"), enc.encode, discardSink{})
				if err != nil {
					t.Errorf("subscribe: %v", err)
					return
				}
				cancel()
			}
		}()
	}
	wg.Wait()

	// Every stream the churn opened has ended.
	for {
		select {
		case s := <-hub.opened:
			s.waitDone(t)
			continue
		default:
		}
		break
	}
	s := newRecSink()
	subscribe(t, f, "face", "k", enc.encode, s)
	hub.nextStream(t).publish(t, &pb.Event{Id: "last"})
	if ev, _ := s.next(t); ev.GetId() != "last" {
		t.Fatalf("got %v", ev)
	}
}

type discardSink struct{}

func (discardSink) Deliver(*pb.Event, []byte) {}
func (discardSink) UpstreamClosed(error)      {}
