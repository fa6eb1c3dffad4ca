package app_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// Shutdown returns only once every face has ended what it started: right
// after it, no goroutine of any face's sockets is left (each face's Close
// awaits them).
func TestShutdownAwaitsEveryFacesSockets(t *testing.T) {
	srv := apptest.Start(t, nil)
	drpSocket(t, srv, "alice", "news.*.*")
	cometSocket(t, srv, "c0", "news")
	for _, path := range []string{"/nkservice/ws", "/api/v1/events/stream"} {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		ws, _, err := websocket.Dial(ctx, srv.WSURL+path, nil)
		cancel()
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		t.Cleanup(func() { ws.CloseNow() })
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	if err := srv.App.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, fn := range []string{
			"bridge/drp.(*socket).serve",
			"bridge/cppcomet.(*socket).serve",
			"bridge/nkservice.(*socket).serve",
			"bridge/comet.(*Handler).stream",
			"bridge.(*Face).Go.func1",
		} {
			if strings.Contains(g, fn) {
				t.Errorf("after Shutdown a face's goroutine is still running:\n%s", g)
			}
		}
	}
}
