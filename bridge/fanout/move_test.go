package fanout_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// moverSink records what a Mover sends it.
type moverSink struct {
	mu     sync.Mutex
	frames []string
	local  map[string]bool // event id → offered with local set
	sent   chan struct{}
	closed chan error
}

func newMoverSink() *moverSink {
	return &moverSink{local: map[string]bool{}, sent: make(chan struct{}, 256), closed: make(chan error, 1)}
}

func (s *moverSink) Wants(ev *pb.Event, local bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.local[ev.GetId()] = s.local[ev.GetId()] || local
	return true
}

func (s *moverSink) Send(frame []byte) {
	s.mu.Lock()
	s.frames = append(s.frames, string(frame))
	s.mu.Unlock()
	s.sent <- struct{}{}
}

func (s *moverSink) UpstreamClosed(err error) { s.closed <- err }

// waitFrames waits until n frames were sent and returns them sorted.
func (s *moverSink) waitFrames(t *testing.T, n int) []string {
	t.Helper()
	for {
		s.mu.Lock()
		got := slices.Clone(s.frames)
		s.mu.Unlock()
		if len(got) >= n {
			slices.Sort(got)
			return got
		}
		select {
		case <-s.sent:
		case <-time.After(waitTimeout):
			t.Fatalf("sent %v, want %d frames", got, n)
		}
	}
}

func moveTo(t *testing.T, mv *fanout.Mover, key string) {
	t.Helper()
	err := mv.Move(func() (*fanout.Membership, error) {
		return mv.Subscribe(ctxTimeout(t), key, subReq(key), (&countingEncoder{}).encode, false)
	})
	if err != nil {
		t.Fatalf("move to %s: %v", key, err)
	}
}

func TestMoverMovesWithoutGapOrDuplicate(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	sink := newMoverSink()
	mv := f.NewMover("face", sink, time.Hour)

	moveTo(t, mv, "a")
	a := hub.nextStream(t)
	a.publish(t, &pb.Event{Id: "1"})
	sink.waitFrames(t, 1)

	moveTo(t, mv, "b")
	b := hub.nextStream(t)
	// In flight on both streams while a drains: sent once.
	a.publish(t, &pb.Event{Id: "2"})
	b.publish(t, &pb.Event{Id: "2"})
	// Barriers: each stream keeps its order, so once 3 (only on a) and 4
	// (only on b) are sent, both copies of 2 have been offered.
	a.publish(t, &pb.Event{Id: "3"})
	b.publish(t, &pb.Event{Id: "4"})
	got := sink.waitFrames(t, 4)
	if want := []string{"frame:1", "frame:2", "frame:3", "frame:4"}; !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	sink.mu.Lock()
	if !sink.local["3"] || sink.local["4"] || sink.local["1"] {
		t.Errorf("local flags %v: want only the draining group's events local", sink.local)
	}
	sink.mu.Unlock()

	// The draining group's end is not the socket's.
	a.fail <- status.Error(codes.Unavailable, "gone")
	a.waitDone(t)
	select {
	case err := <-sink.closed:
		t.Fatalf("UpstreamClosed(%v) for a draining group", err)
	default:
	}

	mv.Leave()
	b.waitDone(t)
}

func TestMoverDrainEndsAndLiveEndIsReported(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	sink := newMoverSink()
	mv := f.NewMover("face", sink, time.Millisecond)

	moveTo(t, mv, "a")
	a := hub.nextStream(t)
	moveTo(t, mv, "b")
	b := hub.nextStream(t)
	a.waitDone(t) // left once the drain has passed

	b.fail <- status.Error(codes.DataLoss, "lost")
	if err := <-sink.closed; status.Code(err) != codes.DataLoss {
		t.Fatalf("UpstreamClosed(%v), want DataLoss", err)
	}
}

func TestMoverStaysAndClears(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	sink := newMoverSink()
	mv := f.NewMover("face", sink, time.Hour)

	moveTo(t, mv, "a")
	a := hub.nextStream(t)
	if err := mv.Move(func() (*fanout.Membership, error) { return mv.Current(), nil }); err != nil {
		t.Fatalf("stay: %v", err)
	}
	a.publish(t, &pb.Event{Id: "1"})
	sink.waitFrames(t, 1)

	mv.Clear() // no drain without a next group
	a.waitDone(t)
	if mv.Current() != nil {
		t.Fatal("Current after Clear")
	}
	joinErr := errors.New("refused")
	if err := mv.Move(func() (*fanout.Membership, error) { return nil, joinErr }); !errors.Is(err, joinErr) {
		t.Fatalf("Move = %v, want the join's error", err)
	}
}

// A socket that left its live group (Clear) while a previous one still
// drains, and then joins that group again, holds two memberships of it
// until the drain ends: each event of the group is sent once.
func TestMoverRejoinWhileDrainingSendsOnce(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	sink := newMoverSink()
	mv := f.NewMover("face", sink, time.Hour)

	moveTo(t, mv, "a")
	a := hub.nextStream(t)
	moveTo(t, mv, "b") // a drains
	b := hub.nextStream(t)
	mv.Clear() // b is left at once; a still drains
	b.waitDone(t)
	moveTo(t, mv, "a") // the same group as the draining membership
	a.publish(t, &pb.Event{Id: "1"})
	a.publish(t, &pb.Event{Id: "2"})
	// Barrier: the group hands 2 to its sinks after 1, so once 2 was sent
	// to the socket, both memberships were offered 1.
	for {
		got := sink.waitFrames(t, 1)
		if slices.Contains(got, "frame:2") {
			if want := []string{"frame:1", "frame:2"}; !slices.Equal(got, want) {
				t.Fatalf("sent %v, want %v", got, want)
			}
			break
		}
		sink.waitFrames(t, len(got)+1)
	}
	mv.Leave()
	a.waitDone(t)
}
