package fanout_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	"github.com/switchboard-hub/switchboard/bridge/wsconn"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// socketSink is how a face joins a socket to a group.
type socketSink struct {
	c       *wsconn.Conn
	refused chan struct{} // closed the first time Send refuses a frame
	once    sync.Once
}

func (s *socketSink) Deliver(_ *pb.Event, frame []byte) {
	if !s.c.Send(frame) {
		s.once.Do(func() { close(s.refused) })
	}
}

func (s *socketSink) UpstreamClosed(error) {
	s.c.Close(websocket.StatusTryAgainLater, "upstream closed")
}

// socketFace is a minimal face: each socket subscribes to one group and
// reads until it ends.
type socketFace struct {
	url   string
	sinks chan *socketSink
}

func startSocketFace(t *testing.T, f *fanout.Fanout, enc fanout.Encoder, queue func(r *http.Request) int) *socketFace {
	t.Helper()
	sf := &socketFace{sinks: make(chan *socketSink, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Accept(w, r, wsconn.AcceptOptions{Face: "sockets-test", QueueSize: queue(r), QueueBytes: 1 << 30})
		if err != nil {
			return
		}
		sink := &socketSink{c: c, refused: make(chan struct{})}
		// The channel is the last of two path segments ("/fast/k"), else "k".
		ch := "k"
		if i := strings.LastIndex(r.URL.Path, "/"); i > 0 {
			ch = r.URL.Path[i+1:]
		}
		cancel, err := f.Subscribe(r.Context(), "sockets-test", ch, subReq(ch), enc, sink)
		if err != nil {
			c.Close(websocket.StatusInternalError, "subscribe failed")
			return
		}
		defer cancel()
		sf.sinks <- sink
		for {
			if _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	sf.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return sf
}

func (sf *socketFace) dial(t *testing.T, path string) (*websocket.Conn, *socketSink) {
	t.Helper()
	cc, _, err := websocket.Dial(ctxTimeout(t), sf.url+path, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	cc.SetReadLimit(-1)
	t.Cleanup(func() { cc.CloseNow() })
	select {
	case s := <-sf.sinks:
		return cc, s
	case <-time.After(waitTimeout):
		t.Fatalf("socket never subscribed")
		return nil, nil
	}
}

// TestSlowSocketDoesNotHoldBackOthers: two sockets share one group. One
// stops reading and is cut off as a slow consumer; the other receives every
// event, in order, before and after.
func TestSlowSocketDoesNotHoldBackOthers(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	pad := strings.Repeat("x", 64<<10) // big frames fill kernel buffers fast
	enc := func(ev *pb.Event) ([]byte, error) { return []byte(ev.GetId() + " " + ev.GetData()), nil }
	face := startSocketFace(t, f, enc, func(r *http.Request) int {
		if r.URL.Path == "/slow" {
			return 4
		}
		return 0
	})
	slowClient, slow := face.dial(t, "/slow")
	fastClient, _ := face.dial(t, "/fast")
	stream := hub.nextStream(t)

	received := 0
	readFast := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_, b, err := fastClient.Read(ctx)
		if err != nil {
			t.Fatalf("fast client after %d frames: %v", received, err)
		}
		if id, _, _ := strings.Cut(string(b), " "); id != strconv.Itoa(received) {
			t.Fatalf("fast client frame %d carries id %s", received, id)
		}
		received++
	}

	// Publish until the stalled socket refuses a frame. The fast client
	// reads each event before the next is published, so its queue never
	// matters; what matters is that delivery to it never stops.
	const maxEvents = 20000
	cut := false
	for i := 0; i < maxEvents && !cut; i++ {
		stream.publish(t, &pb.Event{Id: strconv.Itoa(i), Data: pad})
		readFast()
		select {
		case <-slow.refused:
			cut = true
		default:
		}
	}
	if !cut {
		t.Fatalf("slow socket never cut off after %d events", maxEvents)
	}
	for i := range 10 {
		stream.publish(t, &pb.Event{Id: strconv.Itoa(received), Data: strconv.Itoa(i)})
		readFast()
	}

	var err error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		_, _, err = slowClient.Read(ctx)
		cancel()
		if err != nil {
			break
		}
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != wsconn.ReasonSlowConsumer {
		t.Fatalf("slow client ended with %v", err)
	}
}

// TestUpstreamEndClosesSockets: when the shared stream fails, every socket
// of the group is closed by its sink.
func TestUpstreamEndClosesSockets(t *testing.T) {
	hub, client := startHub(t)
	f := fanout.New(client, fanout.Options{})
	enc := func(ev *pb.Event) ([]byte, error) { return []byte(ev.GetId()), nil }
	face := startSocketFace(t, f, enc, func(*http.Request) int { return 0 })
	a, _ := face.dial(t, "/")
	b, _ := face.dial(t, "/")
	hub.nextStream(t).fail <- errors.New("boom")
	for _, cc := range []*websocket.Conn{a, b} {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		_, _, err := cc.Read(ctx)
		cancel()
		if websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
			t.Fatalf("client ended with %v", err)
		}
	}
}
