package wsconn_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hub/switchboard/bridge/wsconn"
)

// waitTimeout bounds every wait in these tests; nothing should come close.
const waitTimeout = 15 * time.Second

// testServer accepts websockets with fixed options and hands each Conn to
// the test. Like a face, its handler keeps reading until the socket ends.
type testServer struct {
	url   string
	conns chan *wsconn.Conn
	reads chan []byte // messages the handler read, in order
}

func startServer(t testing.TB, opts wsconn.AcceptOptions) *testServer {
	t.Helper()
	s := &testServer{conns: make(chan *wsconn.Conn, 16), reads: make(chan []byte, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Accept(w, r, opts)
		if err != nil {
			return
		}
		s.conns <- c
		for {
			msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			s.reads <- msg
		}
	}))
	t.Cleanup(srv.Close)
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return s
}

// dial connects a client and returns it with the server side of the socket.
func (s *testServer) dial(t testing.TB, dopts *websocket.DialOptions) (*websocket.Conn, *wsconn.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cc, _, err := websocket.Dial(ctx, s.url, dopts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	cc.SetReadLimit(-1)
	t.Cleanup(func() { cc.CloseNow() })
	select {
	case c := <-s.conns:
		return cc, c
	case <-time.After(waitTimeout):
		t.Fatalf("server never accepted")
		return nil, nil
	}
}

func readMsg(t *testing.T, cc *websocket.Conn) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, b, err := cc.Read(ctx)
	return b, err
}

func waitDone(t *testing.T, c *wsconn.Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("connection did not end")
	}
}

// metricValue reads one labelled series from the default registry, where
// wsconn registers its metrics.
func metricValue(t *testing.T, name, face string) float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "face" && l.GetValue() == face {
					if g := m.GetGauge(); g != nil {
						return g.GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
