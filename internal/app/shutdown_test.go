package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// closeCode reads from ws until it ends and returns the close code the
// server sent; -1 means the connection ended without a close frame.
func closeCode(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("socket still open after shutdown")
		}
		return websocket.CloseStatus(err)
	}
}

// Shutdown ends every face its one documented way (README "Operations"):
// DRP sockets get a close frame 1001, comet sockets are dropped without
// one (the JS client reconnects only then), gRPC streams end
// UNAVAILABLE, and a REST stream's last line is an UNAVAILABLE error.
// Several rounds, since the faces' closes and the streams' ends race.
func TestShutdownClosesEachFaceOneWay(t *testing.T) {
	for round := range 3 {
		srv := apptest.Start(t, nil)
		drp := drpSocket(t, srv, "alice", "news.*.*")
		comet, _ := cometSocket(t, srv, "c0", "news")
		grpcStream, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.HTTPURL+"/v1/subscribe", strings.NewReader(`{"filters":[{"channels":["news"]}]}`))
		req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		lines := bufio.NewScanner(resp.Body)
		if !lines.Scan() || !strings.Contains(lines.Text(), "subscribed") {
			t.Fatalf("REST stream did not start: %q", lines.Text())
		}

		done := make(chan error, 1)
		go func() {
			sctx, scancel := context.WithTimeout(context.Background(), 3*wait)
			defer scancel()
			done <- srv.App.Shutdown(sctx)
		}()

		if code := closeCode(t, drp); code != websocket.StatusGoingAway {
			t.Errorf("round %d: DRP close %d, want 1001", round, code)
		}
		if code := closeCode(t, comet); code != -1 {
			t.Errorf("round %d: comet close %d, want none (-1: no close frame; the JS client reconnects only then)", round, code)
		}
		if s := streamErr(t, grpcStream); s.Code() != codes.Unavailable {
			t.Errorf("round %d: gRPC stream ended %v, want Unavailable", round, s)
		}
		var last string
		for lines.Scan() {
			if l := lines.Text(); strings.TrimSpace(l) != "" && !strings.Contains(l, "heartbeat") {
				last = l
			}
		}
		var end struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(last), &end); err != nil || end.Error.Code != int(codes.Unavailable) {
			t.Errorf("round %d: REST stream's last line %q, want an UNAVAILABLE error", round, last)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("shutdown: %v", err)
			}
		case <-time.After(4 * wait):
			t.Fatal("shutdown did not return")
		}
	}
}
