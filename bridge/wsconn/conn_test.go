package wsconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/bridge/wsconn"
)

func TestFramesArriveInOrder(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{Face: "test-order"})
	cc, c := s.dial(t, nil)

	const n = 500
	for i := range n {
		if !c.Send([]byte(strconv.Itoa(i))) {
			t.Fatalf("Send %d refused", i)
		}
	}
	for i := range n {
		b, err := readMsg(t, cc)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if string(b) != strconv.Itoa(i) {
			t.Fatalf("frame %d = %q", i, b)
		}
	}
}

func TestMessageTypes(t *testing.T) {
	tests := []struct {
		name   string
		binary bool
		want   websocket.MessageType
	}{
		{"text by default", false, websocket.MessageText},
		{"binary on request", true, websocket.MessageBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, wsconn.AcceptOptions{Binary: tt.binary})
			cc, c := s.dial(t, nil)
			c.Send([]byte("x"))
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			typ, _, err := cc.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if typ != tt.want {
				t.Fatalf("type = %v, want %v", typ, tt.want)
			}
		})
	}
}

func TestReadReturnsClientMessages(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{})
	cc, _ := s.dial(t, nil)
	ctx := context.Background()
	if err := cc.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := cc.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2}); err != nil {
		t.Fatalf("write: %v", err)
	}
	for _, want := range [][]byte{[]byte("hello"), {0, 1, 2}} {
		select {
		case got := <-s.reads:
			if !bytes.Equal(got, want) {
				t.Fatalf("read %q, want %q", got, want)
			}
		case <-ctxTimeout(t).Done():
			t.Fatalf("server read nothing")
		}
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// TestSlowConsumerIsCutOff: one client stops reading while another keeps up;
// both get the same shared frames. The stalled one is closed with
// "slow consumer"; the other receives every frame, in order.
func TestSlowConsumerIsCutOff(t *testing.T) {
	face := "test-slow"
	before := metricValue(t, "switchboard_bridge_slow_consumers_total", face)

	slowSrv := startServer(t, wsconn.AcceptOptions{Face: face, QueueSize: 4})
	fastSrv := startServer(t, wsconn.AcceptOptions{Face: face + "-fast", QueueBytes: 1 << 30})
	slowClient, slow := slowSrv.dial(t, nil)
	fastClient, fast := fastSrv.dial(t, nil)

	// The fast client reads everything in the background.
	type result struct {
		frames int
		err    error
	}
	fastDone := make(chan result, 1)
	go func() {
		n := 0
		for {
			b, err := readMsg(t, fastClient)
			if err != nil {
				fastDone <- result{n, err}
				return
			}
			if string(b) == "end" {
				fastDone <- result{n, nil}
				return
			}
			if got, want := seqOf(b), n; got != want {
				fastDone <- result{n, fmt.Errorf("frame %d carries %d", want, got)}
				return
			}
			n++
		}
	}()

	// Big frames fill the stalled socket's kernel buffers quickly; after that
	// its queue (4 frames) overflows. Every frame is one shared slice.
	const maxFrames = 100000
	sent := 0
	for ; sent < maxFrames; sent++ {
		frame := makeFrame(sent, 64<<10)
		if !fast.Send(frame) {
			t.Fatalf("fast socket refused frame %d", sent)
		}
		if !slow.Send(frame) {
			break
		}
	}
	if sent == maxFrames {
		t.Fatalf("slow socket was never cut off")
	}
	if slow.Send([]byte("late")) {
		t.Fatalf("Send after slow-consumer close was accepted")
	}
	// The producer was never held back; the other socket still gets all.
	sent++
	fast.Send([]byte("end"))
	res := <-fastDone
	if res.err != nil || res.frames != sent {
		t.Fatalf("fast client got %d of %d frames, err %v", res.frames, sent, res.err)
	}

	// The stalled client resumes: it reads what was already in flight, then
	// the close frame with the reason.
	var err error
	for {
		if _, err = readMsg(t, slowClient); err != nil {
			break
		}
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != wsconn.ReasonSlowConsumer {
		t.Fatalf("slow client ended with %v, want policy violation %q", err, wsconn.ReasonSlowConsumer)
	}
	waitDone(t, slow)
	if got := metricValue(t, "switchboard_bridge_slow_consumers_total", face); got != before+1 {
		t.Fatalf("slow consumer counter = %v, want %v", got, before+1)
	}
}

func makeFrame(seq, size int) []byte {
	b := make([]byte, size)
	copy(b, strconv.Itoa(seq)+" ")
	return b
}

func seqOf(b []byte) int {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(string(b[:i]))
	if err != nil {
		return -1
	}
	return n
}

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		origin   string
		ok       bool
	}{
		{"no origin header", nil, "", true},
		{"foreign origin refused by default", nil, "http://evil.example", false},
		{"listed origin", []string{"app.example"}, "http://app.example", true},
		{"listed pattern", []string{"*.example"}, "https://x.example", true},
		{"unlisted origin", []string{"app.example"}, "http://evil.example", false},
		{"star allows any", []string{"*"}, "http://anything.example", true},
		{"scheme pattern", []string{"https://app.example"}, "https://app.example", true},
		{"scheme pattern, other scheme", []string{"https://app.example"}, "http://app.example", false},
		{"not a URL", []string{"app.example"}, "app.example", false},
		{"filter narrows", []string{"*"}, "http://blocked.example", false},
		{"filter passes", []string{"*"}, "http://app.example", true},
		{"filter never widens", nil, "http://app.example", false},
	}
	// The filter stands for a face's own narrowing (cppcomet.origin_allow).
	filter := func(origin string) bool { return origin != "http://blocked.example" }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := wsconn.AcceptOptions{OriginPatterns: tt.patterns}
			if strings.HasPrefix(tt.name, "filter") {
				opts.OriginFilter = filter
			}
			s := startServer(t, opts)
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			cc, resp, err := websocket.Dial(ctxTimeout(t), s.url, &websocket.DialOptions{HTTPHeader: h})
			if tt.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				cc.CloseNow()
				return
			}
			if err == nil {
				cc.CloseNow()
				t.Fatalf("dial succeeded, want refusal")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("response %v, want 403", resp)
			}
		})
	}
}

// TestOriginRefusedInProtocol: with RefuseOriginInProtocol a refused page
// is upgraded and the face gets the connection with an *OriginError.
func TestOriginRefusedInProtocol(t *testing.T) {
	errs := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Accept(w, r, wsconn.AcceptOptions{RefuseOriginInProtocol: true})
		errs <- err
		if c != nil {
			c.Send([]byte("refused"))
			c.CloseAfterFlush(websocket.StatusPolicyViolation, "origin")
			for {
				if _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	h := http.Header{"Origin": {"http://evil.example"}}
	cc, _, err := websocket.Dial(ctxTimeout(t), "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer cc.CloseNow()
	if err := <-errs; !errors.Is(err, wsconn.ErrOriginRefused) {
		t.Fatalf("Accept error %v, want an origin refusal", err)
	}
	if _, b, err := cc.Read(ctxTimeout(t)); err != nil || string(b) != "refused" {
		t.Fatalf("read %q %v", b, err)
	}
}

func TestReadLimit(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{ReadLimit: 16})
	cc, c := s.dial(t, nil)
	ctx := context.Background()

	if err := cc.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("a"), 16)); err != nil {
		t.Fatalf("write: %v", err)
	}
	select {
	case got := <-s.reads:
		if len(got) != 16 {
			t.Fatalf("read %d bytes", len(got))
		}
	case <-ctxTimeout(t).Done():
		t.Fatalf("message at the limit not read")
	}

	if err := cc.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("a"), 17)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_, err := readMsg(t, cc)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("client got %v, want close %v", err, websocket.StatusMessageTooBig)
	}
	waitDone(t, c)
}

func TestCloseSendsCodeAndDropsQueue(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{})
	cc, c := s.dial(t, nil)
	c.Close(websocket.StatusGoingAway, "bye")
	if c.Send([]byte("after")) {
		t.Fatalf("Send after Close accepted")
	}
	c.Close(websocket.StatusInternalError, "second close ignored")
	_, err := readMsg(t, cc)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "bye" {
		t.Fatalf("client got %v", err)
	}
	waitDone(t, c)
	if c.Context().Err() == nil {
		t.Fatalf("context not cancelled after the end")
	}
}

func TestCloseAfterFlushWritesQueuedFrames(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{})
	cc, c := s.dial(t, nil)
	const n = 100
	for i := range n {
		c.Send([]byte(strconv.Itoa(i)))
	}
	c.CloseAfterFlush(websocket.StatusNormalClosure, "done")
	for i := range n {
		b, err := readMsg(t, cc)
		if err != nil || string(b) != strconv.Itoa(i) {
			t.Fatalf("frame %d = %q, %v", i, b, err)
		}
	}
	_, err := readMsg(t, cc)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusNormalClosure || ce.Reason != "done" {
		t.Fatalf("client got %v", err)
	}
	waitDone(t, c)
}

// TestCloseNowFlushesThenDrops: the comet-server way of refusing a client
// after the upgrade — an error message, then the TCP connection is dropped
// without a close frame.
func TestCloseNowFlushesThenDrops(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{})
	cc, c := s.dial(t, nil)
	c.Send([]byte("error message"))
	c.CloseNow()
	b, err := readMsg(t, cc)
	if err != nil || string(b) != "error message" {
		t.Fatalf("got %q, %v", b, err)
	}
	_, err = readMsg(t, cc)
	if err == nil || websocket.CloseStatus(err) != -1 {
		t.Fatalf("client got %v, want a dropped connection without close frame", err)
	}
	waitDone(t, c)
}

func TestPeerGoneEndsConnection(t *testing.T) {
	face := "test-gone"
	s := startServer(t, wsconn.AcceptOptions{Face: face})
	cc, c := s.dial(t, nil)
	if got := metricValue(t, "switchboard_bridge_connections", face); got != 1 {
		t.Fatalf("connections gauge = %v, want 1", got)
	}
	cc.Close(websocket.StatusNormalClosure, "")
	waitDone(t, c)
	if c.Send([]byte("x")) {
		t.Fatalf("Send on an ended connection accepted")
	}
	if got := metricValue(t, "switchboard_bridge_connections", face); got != 0 {
		t.Fatalf("connections gauge = %v, want 0", got)
	}
}

func TestSubprotocol(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{Subprotocols: []string{"v2", "v1"}})
	cc, c := s.dial(t, &websocket.DialOptions{Subprotocols: []string{"v1"}})
	if cc.Subprotocol() != "v1" || c.Subprotocol() != "v1" {
		t.Fatalf("subprotocol client %q server %q", cc.Subprotocol(), c.Subprotocol())
	}
}

// Data frames are framed by this package, not the library: every header
// length form (7-bit, 16-bit, 64-bit) must reach a real client intact, also
// when frames of different forms leave in one write.
func TestFrameLengthForms(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{Face: "test-lengths", QueueBytes: 1 << 20})
	cc, c := s.dial(t, nil)
	cc.SetReadLimit(1 << 20)
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 200000}
	for _, n := range sizes {
		if !c.Send(bytes.Repeat([]byte{byte('a' + n%26)}, n)) {
			t.Fatalf("Send of %d bytes refused", n)
		}
	}
	for _, n := range sizes {
		b, err := readMsg(t, cc)
		if err != nil {
			t.Fatalf("read %d-byte frame: %v", n, err)
		}
		if len(b) != n || (n > 0 && (b[0] != byte('a'+n%26) || b[n-1] != byte('a'+n%26))) {
			t.Fatalf("frame of %d bytes arrived as %d bytes", n, len(b))
		}
	}
}

// A peer that stops reading while the socket's buffers are full is cut off
// by the write timeout, even though its queue never fills.
func TestWriteTimeoutCutsOffStalledPeer(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{Face: "test-write-timeout", WriteTimeout: 200 * time.Millisecond, QueueSize: 10_000, QueueBytes: 1 << 30})
	_, c := s.dial(t, nil) // the client never reads
	frame := bytes.Repeat([]byte("x"), 1<<20)
	for range 64 { // far more than loopback socket buffers hold
		if !c.Send(frame) {
			t.Fatal("Send refused; the queue was meant to be roomy")
		}
	}
	waitDone(t, c)
}

// TestWrittenCountsFramesOnTheSocket: SendSeq numbers the frames as they
// are queued; OnWritten reports them only once the writer has put them on
// the socket, so frames held back by a stalled reader are not counted.
func TestWrittenCountsFramesOnTheSocket(t *testing.T) {
	s := startServer(t, wsconn.AcceptOptions{Face: "test-written", QueueSize: 10_000, QueueBytes: 1 << 30})
	cc, c := s.dial(t, nil) // the client reads only later
	var written atomic.Uint64
	reports := make(chan uint64, 1024)
	c.OnWritten(func(n uint64) {
		if n <= written.Load() {
			t.Errorf("written count went from %d to %d", written.Load(), n)
		}
		written.Store(n)
		select {
		case reports <- n:
		default:
		}
	})
	frame := bytes.Repeat([]byte("x"), 1<<20)
	const n = 64 // far more than loopback socket buffers hold
	for i := range n {
		seq, ok := c.SendSeq(frame)
		if !ok || seq != uint64(i+1) {
			t.Fatalf("SendSeq %d = %d, %v", i, seq, ok)
		}
	}
	// The client has read nothing: the last frames cannot have been
	// written yet.
	if w := written.Load(); w >= n {
		t.Fatalf("%d of %d frames counted written while the client reads nothing", w, n)
	}
	for i := range n {
		if _, err := readMsg(t, cc); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	for written.Load() < n {
		select {
		case <-reports:
		case <-time.After(waitTimeout):
			t.Fatalf("written count stuck at %d of %d", written.Load(), n)
		}
	}
	if seq, ok := c.SendSeq([]byte("after")); !ok || seq != n+1 {
		t.Fatalf("SendSeq after = %d, %v", seq, ok)
	}
}
