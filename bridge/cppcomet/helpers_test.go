package cppcomet_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata/golden/")

// wait bounds every read and call of these tests.
const wait = 10 * time.Second

// server is a running Switchboard with its UserService client.
type server struct {
	*apptest.Server
	users pb.UserServiceClient
}

func start(t *testing.T, tweak func(*app.Config)) *server {
	t.Helper()
	srv := apptest.Start(t, tweak)
	return &server{Server: srv, users: pb.NewUserServiceClient(srv.Conn)}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// client is one comet connection of a test.
type client struct {
	t    *testing.T
	conn *websocket.Conn
}

// cometPath is the URL the JS client builds (§2 of the notes).
func cometPath(session string, myid, devid int, version, uuid string) string {
	return fmt.Sprintf("/ws/sesion=%s&myid=%d&devid=%d&v=%s&uuid=%s&api=js", session, myid, devid, version, uuid)
}

// dialRaw opens a websocket on path without reading anything.
func (s *server) dialRaw(t *testing.T, path string, header http.Header) *client {
	t.Helper()
	conn, _, err := websocket.Dial(ctxT(t), s.WSURL+path, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &client{t: t, conn: conn}
}

// dial connects and reads serverInfo, checking the authorization it reports.
func (s *server) dial(t *testing.T, path string, wantAuthorized bool) *client {
	t.Helper()
	c := s.dialRaw(t, path, nil)
	info := c.read()
	want := fmt.Sprintf(`"authorized":%t,`, wantAuthorized)
	if !strings.HasPrefix(info, "{"+want) || !strings.Contains(info, `"event":"serverInfo"`) {
		t.Fatalf("first frame %s, want serverInfo with %s", info, want)
	}
	return c
}

// anon connects an anonymous 4.x client on dev devid.
func (s *server) anon(t *testing.T, devid int, uuid string) *client {
	t.Helper()
	return s.dial(t, cometPath("undefined", 0, devid, "4.08", uuid), false)
}

// login connects user myid on dev devid with a backend-set auth hash.
func (s *server) login(t *testing.T, myid, devid int, uuid string) *client {
	t.Helper()
	hash := fmt.Sprintf("hash-%d-%d", devid, myid)
	s.setHash(t, myid, devid, hash)
	return s.dial(t, cometPath(hash, myid, devid, "4.08", uuid), true)
}

func (s *server) setHash(t *testing.T, myid, devid int, hash string) {
	t.Helper()
	if _, err := s.users.SetAuthHash(ctxT(t), &pb.SetAuthHashRequest{Tenant: tenant(devid), User: fmt.Sprint(myid), Hash: hash}); err != nil {
		t.Fatalf("SetAuthHash: %v", err)
	}
}

func tenant(devid int) string {
	if devid == 0 {
		return ""
	}
	return fmt.Sprint(devid)
}

// send writes one text frame.
func (c *client) send(frame string) {
	c.t.Helper()
	if err := c.write(frame); err != nil {
		c.t.Fatalf("write %q: %v", short(frame), err)
	}
}

// write writes one text frame and returns the error.
func (c *client) write(frame string) error {
	return c.conn.Write(ctxT(c.t), websocket.MessageText, []byte(frame))
}

// short cuts long frames in failure messages.
func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// read returns the next frame, failing the test after wait.
func (c *client) read() string {
	c.t.Helper()
	_, b, err := c.conn.Read(ctxT(c.t))
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return string(b)
}

// readNorm returns the next frame with its time zeroed.
func (c *client) readNorm() string {
	c.t.Helper()
	return normalize(c.read())
}

// readSorted reads n frames that may arrive in any order (events of
// different pipes travel on different upstream streams) and returns them
// normalized and sorted.
func (c *client) readSorted(n int) (string, string) {
	c.t.Helper()
	frames := make([]string, n)
	for i := range frames {
		frames[i] = c.readNorm()
	}
	slices.Sort(frames)
	return frames[0], frames[len(frames)-1]
}

// expectClosed asserts the server ends the connection; dropped says
// whether it must do so without a close frame (TCP hang-up).
func (c *client) expectClosed(dropped bool) {
	c.t.Helper()
	_, b, err := c.conn.Read(ctxT(c.t))
	if err == nil {
		c.t.Fatalf("read %s, want the connection closed", b)
	}
	if code := websocket.CloseStatus(err); dropped && code != -1 {
		c.t.Fatalf("closed with a close frame %v, want a dropped connection", code)
	}
	if ctxErr := ctxT(c.t).Err(); ctxErr != nil {
		c.t.Fatalf("no close within %v", wait)
	}
}

// subscribe replaces the pipe set and waits until it is live, by a
// round trip that the subscription precedes (commands run in order).
func (c *client) subscribe(pipes ...string) {
	c.t.Helper()
	c.send("subscription\n" + strings.Join(pipes, "\n"))
	c.sync()
}

// sync waits until every command sent before it has been carried out:
// user_data always answers, after the commands before it.
func (c *client) sync() {
	c.t.Helper()
	c.send("user_data\nsync\n1")
	for {
		f := c.read()
		if strings.Contains(f, `"marker":"sync"`) {
			return
		}
		c.t.Fatalf("frame %s before the sync answer", f)
	}
}

var sendTime = regexp.MustCompile(`"message_send_time":\d+`)

// normalize zeroes message_send_time, the one field that varies by run.
func normalize(frame string) string {
	return sendTime.ReplaceAllString(frame, `"message_send_time":0`)
}

// golden compares frames with testdata/golden/<name>.txt (one frame per
// line), or rewrites the file with -update.
func golden(t *testing.T, name string, frames ...string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	got := strings.Join(frames, "\n") + "\n"
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("frames differ from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// publish publishes through gRPC, as a backend would.
func (s *server) publish(t *testing.T, ev *pb.Event) {
	t.Helper()
	if _, err := s.Hub.Publish(ctxT(t), &pb.PublishRequest{Event: ev}); err != nil {
		t.Fatalf("publish: %v", err)
	}
}
