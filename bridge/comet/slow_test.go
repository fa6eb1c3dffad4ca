package comet_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

// A stream whose reader stops is dropped as a slow consumer and counted;
// the other streams go on, and the dropped client can reconnect (§4).
func TestSlowStreamDropped(t *testing.T) {
	s := start(t, func(c *app.Config) { c.ClientQueueSize = 16 })
	slow := openSmallBuffer(t, s, "allowList=4900")
	fast := open(t, s, "allowList=4900")
	before := slowConsumers(t, s)

	payload := `"` + strings.Repeat("x", 60<<10) + `"`
	const batch = 16
	seq := 0
	for round := 0; slowConsumers(t, s) == before; round++ {
		if round == 300 {
			t.Fatal("the stream that never reads was not dropped")
		}
		// Publish a batch and wait until the fast reader has it, so that
		// only the stream that does not read can fall behind.
		for range batch {
			publish(t, s, &pb.Event{Channel: "bulk", Name: strconv.Itoa(seq), Data: payload})
			seq++
		}
		want := fmt.Sprintf(`"Name":"%d"`, seq-1)
		readUntil(t, fast, func(e streamable.Event) bool { return contains(e.Data, want) })
	}

	t.Logf("dropped after %d events", seq)

	// The slow client finds its stream closed with the slow-consumer reason
	// after the frames that were already on their way.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, _, err := slow.Read(ctx)
		if err == nil {
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("slow stream still open")
		}
		if st := websocket.CloseStatus(err); st != websocket.StatusPolicyViolation {
			t.Fatalf("slow stream ended with %v, want close %d slow consumer", err, websocket.StatusPolicyViolation)
		}
		break
	}

	// The fast stream goes on; the slow client reconnects.
	publish(t, s, &pb.Event{Channel: "bulk", Name: "after", Data: `1`})
	readUntil(t, fast, func(e streamable.Event) bool { return contains(e.Data, `"Name":"after"`) })
	again := open(t, s, "allowList=4900")
	publish(t, s, &pb.Event{Channel: "bulk", Name: "again", Data: `2`})
	readUntil(t, again, func(e streamable.Event) bool { return contains(e.Data, `"Name":"again"`) })
}

// openSmallBuffer is open with a small socket receive buffer, so that a
// reader that stops makes the server's queue fill after a few frames
// rather than after megabytes of kernel buffers.
func openSmallBuffer(t *testing.T, s *apptest.Server, query string) *websocket.Conn {
	t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10)
		}); err != nil {
			return err
		}
		return serr
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.WSURL+"/api/v1/events/stream?"+query, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	if got := login(t, c, adminUser, "Password", adminPass, "", ""); got != "200 OK" {
		t.Fatalf("login answered %q", got)
	}
	if ev := readEvent(t, c); ev.Type != streamable.MetaHello {
		t.Fatalf("first event %+v", ev)
	}
	return c
}

// slowConsumers reads switchboard_bridge_slow_consumers_total{face="comet"}.
func slowConsumers(t *testing.T, s *apptest.Server) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), `switchboard_bridge_slow_consumers_total{face="comet"} `); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	return 0
}
