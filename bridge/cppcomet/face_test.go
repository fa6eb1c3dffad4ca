package cppcomet_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// fixedTime is the time of events published with an explicit time, so
// their frames are golden.
var fixedTime = time.Date(2019, 3, 1, 12, 0, 0, 0, time.UTC)

// jwtFor signs claims with key (HS256).
func jwtFor(t *testing.T, key string, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestHandshakeErrors(t *testing.T) {
	s := start(t, nil)
	tests := []struct {
		name, path string
	}{
		{"no_session", "/ws/nothing"},
		{"no_user", "/ws/sesion=abc"},
		{"no_dev", "/ws/sesion=abc&myid=1"},
		{"no_version", "/ws/sesion=abc&myid=1&devid=0"},
		{"bad_version", "/comet-server/ws/sesion=abc&myid=1&devid=0&v=4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.dialRaw(t, tt.path, nil)
			golden(t, "handshake_"+tt.name, c.readNorm())
			c.expectClosed(true)
		})
	}
}

// TestOrigins: the origin rule of every websocket face (allowed_origins:
// no Origin, this server's host, or a listed pattern), narrowed by
// cppcomet.origin_allow; a refused page gets error 423 and is dropped.
func TestOrigins(t *testing.T) {
	self := "self" // stands for this server's own http://host:port
	for _, tt := range []struct {
		name            string
		allowed, narrow []string
		origin          string
		ok              bool
	}{
		{"default: no Origin", nil, nil, "", true},
		{"default: same host", nil, nil, self, true},
		{"default: another site", nil, nil, "https://app.example.com", false},
		{"listed", []string{"app.example.com"}, nil, "https://app.example.com", true},
		{"listed pattern", []string{"*.example.com"}, nil, "https://x.example.com", true},
		{"not listed", []string{"app.example.com"}, nil, "https://evil.example.com", false},
		{"narrowed: allowed host", []string{"*"}, []string{"example.com"}, "https://example.com", true},
		{"narrowed: with port", []string{"*"}, []string{"example.com"}, "http://example.com:8080", true},
		{"narrowed: without scheme", []string{"*"}, []string{"example.com"}, "example.com", true},
		{"narrowed: other host", []string{"*"}, []string{"example.com"}, "https://evil.example.org", false},
		{"narrowed: no Origin", []string{"*"}, []string{"example.com"}, "", false},
		{"narrowing never widens", nil, []string{"example.com"}, "https://example.com", false},
		{"narrowing the same host", nil, []string{"http://127.0.0.1"}, self, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, func(c *app.Config) {
				c.AllowedOrigins = tt.allowed
				c.CppComet.OriginAllow = tt.narrow
			})
			header := http.Header{}
			switch tt.origin {
			case "":
			case self:
				header.Set("Origin", h.HTTPURL)
			default:
				header.Set("Origin", tt.origin)
			}
			c := h.dialRaw(t, cometPath("undefined", 0, 0, "4.08", "o"), header)
			f := c.readNorm()
			if tt.ok {
				if !strings.Contains(f, `"event":"serverInfo"`) {
					t.Fatalf("frame %s, want serverInfo", f)
				}
				return
			}
			golden(t, "handshake_origin", f)
			c.expectClosed(true)
		})
	}
}

func TestAuthentication(t *testing.T) {
	s := start(t, nil)
	secret := apptest.TestTokenSecret
	future := time.Now().Add(time.Hour).Unix()
	past := time.Now().Add(-time.Minute).Unix()
	s.setHash(t, 12, 3, "auth_hash12")
	tests := []struct {
		name       string
		session    string
		myid       int
		devid      int
		authorized bool
	}{
		{"gentoken sub", s.Token(t, "5"), 5, 0, true},
		{"user_id claim", jwtFor(t, secret, jwt.MapClaims{"user_id": 5, "exp": future}), 5, 0, true},
		{"dev suffixed secret", jwtFor(t, secret+"7", jwt.MapClaims{"user_id": 5, "exp": future}), 5, 7, true},
		{"dev suffix of another dev", jwtFor(t, secret+"7", jwt.MapClaims{"user_id": 5, "exp": future}), 5, 8, false},
		{"expired", jwtFor(t, secret, jwt.MapClaims{"user_id": 5, "exp": past}), 5, 0, false},
		{"no exp", jwtFor(t, secret, jwt.MapClaims{"user_id": 5}), 5, 0, false},
		{"wrong user", jwtFor(t, secret, jwt.MapClaims{"user_id": 6, "exp": future}), 5, 0, false},
		{"user_id as string", jwtFor(t, secret, jwt.MapClaims{"user_id": "5", "exp": future}), 5, 0, false},
		{"wrong secret", jwtFor(t, "other", jwt.MapClaims{"user_id": 5, "exp": future}), 5, 0, false},
		{"HS512", func() string {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"user_id": 5, "exp": future}).SignedString([]byte(secret))
			return tok
		}(), 5, 0, false},
		{"auth hash", "auth_hash12", 12, 3, true},
		{"auth hash of another dev", "auth_hash12", 12, 4, false},
		{"wrong auth hash", "auth_hash13", 12, 3, false},
		{"anonymous token user", s.Token(t, "5"), 0, 0, false},
		{"undefined", "undefined", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.dial(t, cometPath(tt.session, tt.myid, tt.devid, "4.08", "a"), tt.authorized)
			// Bad credentials leave the socket open as anonymous: it still
			// answers commands.
			c.sync()
		})
	}
}

func TestServerInfo(t *testing.T) {
	s := start(t, nil)
	s.setHash(t, 12, 0, "auth_hash12")
	anon := s.dialRaw(t, cometPath("undefined", 0, 0, "4.08", "a"), nil)
	hashed := s.dialRaw(t, cometPath("auth_hash12", 12, 0, "4.08", "b"), nil)
	golden(t, "server_info", anon.readNorm(), hashed.readNorm())

	// After a JWT login serverInfo carries an issued hash, which logs the
	// user in by itself later (the JS client reconnects with it).
	jwtConn := s.dialRaw(t, cometPath(s.Token(t, "13"), 13, 0, "4.08", "c"), nil)
	info := jwtConn.read()
	i := strings.Index(info, `"data":"`)
	if i < 0 {
		t.Fatalf("serverInfo %s has no string data", info)
	}
	hash, _, _ := strings.Cut(info[i+len(`"data":"`):], `"`)
	if len(hash) != 32 {
		t.Fatalf("issued hash %q, want 32 characters", hash)
	}
	s.dial(t, cometPath(hash, 13, 0, "4.08", "d"), true)
}

func TestSubscriptionReplaces(t *testing.T) {
	s := start(t, nil)
	c := s.anon(t, 0, "sub")
	c.subscribe("web_a", "web_b")
	s.publish(t, &pb.Event{Channel: "web_a", Name: "e", Data: `"1"`})
	s.publish(t, &pb.Event{Channel: "web_b", Name: "e", Data: `"2"`})
	// Each pipe has its own upstream stream: no order across pipes.
	first, second := c.readSorted(2)

	c.subscribe("web_b", "web_c")
	s.publish(t, &pb.Event{Channel: "web_a", Name: "e", Data: `"dropped"`})
	s.publish(t, &pb.Event{Channel: "web_b", Name: "e", Data: `"3"`})
	s.publish(t, &pb.Event{Channel: "web_c", Name: "e", Data: `"4"`})
	third, fourth := c.readSorted(2)
	golden(t, "subscription_replace", first, second, third, fourth)

	// Presence follows the set.
	c.send("pipe_count\nweb_a\nm1\n")
	c.send("pipe_count\nweb_b\nm2\n")
	golden(t, "subscription_presence", c.readNorm(), c.readNorm())

	// An empty list unsubscribes from everything.
	c.subscribe()
	s.publish(t, &pb.Event{Channel: "web_b", Name: "e", Data: `"gone"`})
	c.send("pipe_count\nweb_b\nm3\n")
	if f := c.readNorm(); !strings.Contains(f, `"user_in_pipe":0`) {
		t.Fatalf("after unsubscribing: %s", f)
	}
}

func TestPrivatePipesNeedAuthorization(t *testing.T) {
	s := start(t, nil)
	anon := s.anon(t, 0, "anon")
	user := s.login(t, 5, 0, "user")
	// The anonymous client lists a private pipe first: it is skipped and
	// the pipes after it still count (unlike comet-server's loop bug).
	anon.subscribe("private_x", "web_after")
	user.subscribe("private_x")
	s.publish(t, &pb.Event{Channel: "private_x", Name: "e", Data: `"secret"`})
	s.publish(t, &pb.Event{Channel: "web_after", Name: "e", Data: `"public"`})
	if f := anon.readNorm(); !strings.Contains(f, `"data":"public"`) {
		t.Fatalf("anonymous client got %s, want only the public message", f)
	}
	if f := user.readNorm(); !strings.Contains(f, `"data":"secret"`) {
		t.Fatalf("authorized client got %s", f)
	}
}

func TestSubscriptionLimit(t *testing.T) {
	s := start(t, nil)
	c := s.anon(t, 0, "many")
	pipes := make([]string, 33)
	for i := range pipes {
		pipes[i] = fmt.Sprintf("web_%02d", i)
	}
	c.send("subscription\n" + strings.Join(pipes, "\n"))
	golden(t, "subscription_too_many", c.readNorm())
	c.send("pipe_count\nweb_31\nin\n")
	c.send("pipe_count\nweb_32\nout\n")
	golden(t, "subscription_too_many_counts", c.readNorm(), c.readNorm())
}

func TestPublishAndSenderExclusion(t *testing.T) {
	s := start(t, nil)
	sender := s.login(t, 5, 0, "sender")
	other := s.anon(t, 0, "other")
	sender.subscribe("web_chat")
	other.subscribe("web_chat")

	sender.send("web_pipe2\nweb_chat\nmsg\n*\n{\"text\":\"hi <b>&</b>\"}")
	report := sender.readNorm()
	got := other.readNorm()

	// Hidden sender: @web_ drops the user id.
	sender.send("web_pipe2\n@web_chat\nmsg\n*\n\"anonymous\"")
	hiddenReport := sender.readNorm()
	hidden := other.readNorm()
	golden(t, "publish", report, got, hiddenReport, hidden)

	// The sender never got its own messages: a later event on the same
	// stream is the next frame it reads.
	s.publish(t, &pb.Event{Channel: "web_chat", Name: "marker", Data: `"after"`, Time: timestamppb.New(fixedTime)})
	if f := sender.readNorm(); !strings.Contains(f, `"event":"marker"`) {
		t.Fatalf("sender read %s, want the marker (no echo of its own messages)", f)
	}
}

func TestPublishRules(t *testing.T) {
	s := start(t, nil)
	anon := s.anon(t, 0, "anon")
	user := s.login(t, 5, 0, "user")
	watcher := s.anon(t, 0, "watch")
	watcher.subscribe("webauth_room")

	anon.send("web_pipe2\nwebauth_room\nmsg\n*\n1")
	user.send("web_pipe2\nwebauth_room\nmsg\n*\n2")
	golden(t, "publish_webauth", anon.readNorm(), user.readNorm(), watcher.readNorm())
}

func TestHistoryReplay(t *testing.T) {
	s := start(t, func(c *app.Config) { c.HistorySize = 150 })
	for i := range 120 {
		s.publish(t, &pb.Event{Channel: "web_log", Name: "n", Data: fmt.Sprintf(`"m%03d"`, i), Time: timestamppb.New(fixedTime.Add(time.Duration(i) * time.Second))})
	}
	c := s.anon(t, 0, "hist")
	c.send("pipe_log\nweb_log\nmark1\n")
	var frames []string
	for range 99 {
		frames = append(frames, c.readNorm())
	}
	// The 99 newest, oldest first.
	if !strings.Contains(frames[0], `"data":"m021"`) || !strings.Contains(frames[98], `"data":"m119"`) {
		t.Fatalf("replay from %s to %s, want m021 to m119", frames[0], frames[98])
	}
	golden(t, "pipe_log", frames[0], frames[98])
	c.sync() // nothing more came
	// CometServerApi.js 4.x (subscription_callBack) drops a pipe message
	// whose marker is set and is not the tab's own id; get_pipe_log sends
	// a fresh random marker, so replays must carry none.
	for _, f := range frames {
		var m map[string]any
		if err := json.Unmarshal([]byte(f), &m); err != nil {
			t.Fatal(err)
		}
		if _, has := m["marker"]; has {
			t.Fatalf("4.x replay %s carries a marker: the 4.x client would drop it", f)
		}
	}

	// 3.x pages match the replay to their request by marker (their
	// get_pipe_log waits for that marker) and read history:true.
	old := s.dialRaw(t, cometPath("undefined", 0, 0, "3.25", "hist3"), nil)
	old.read() // serverInfo
	old.send("pipe_log\nweb_log\nmark3\n")
	frames = frames[:0]
	for range 99 {
		frames = append(frames, old.readNorm())
	}
	golden(t, "pipe_log_legacy", frames[0], frames[98])

	// A pipe with no messages gets no reply.
	c.send("pipe_log\nweb_empty\nmark2\n")
	c.sync()
}

func TestHistoryOffGivesNoReply(t *testing.T) {
	s := start(t, func(c *app.Config) { c.HistorySize = 0 })
	c := s.anon(t, 0, "h")
	c.send("pipe_log\nweb_log\nmark\n")
	c.sync()
}

func TestTrackPipes(t *testing.T) {
	s := start(t, nil)
	a := s.login(t, 5, 0, "uuid-a")
	a.subscribe("track_room")
	// a's own announcement may still be on its way through the pipe's
	// shared stream; once a marker after it reached a, it has passed.
	s.publish(t, &pb.Event{Channel: "track_room", Name: "marker", Data: `"m"`})
	a.read()
	b := s.anon(t, 0, "uuid-b")
	b.subscribe("track_room")
	joined := a.readNorm()

	b.send("track_pipe_users\ntrack_room\nlist1")
	list := b.readNorm()
	b.send("pipe_count\ntrack_room\ncount1\n")
	count := b.readNorm()

	b.subscribe()
	left := a.readNorm()
	golden(t, "track", joined, list, count, left)

	// b never saw its own announcements, and a's closing is announced to
	// a third subscriber.
	c := s.anon(t, 0, "uuid-c")
	c.subscribe("track_room")
	a.read() // c's subscription
	a.conn.CloseNow()
	if f := c.readNorm(); !strings.Contains(f, `"event":"unsubscription"`) || !strings.Contains(f, `"uuid":"uuid-a"`) {
		t.Fatalf("third subscriber got %s, want a's unsubscription", f)
	}
}

func TestUserStatusPipe(t *testing.T) {
	s := start(t, nil)
	watcher := s.anon(t, 0, "w")
	watcher.subscribe("user_status_42")
	watcher.send("user_status\n42")
	never := watcher.readNorm()

	first := s.login(t, 42, 0, "one")
	online := watcher.readNorm()
	second := s.login(t, 42, 0, "two")
	watcher.send("user_status\n42")
	status := watcher.readNorm()

	first.subscribe("web_first")
	first.conn.CloseNow()
	// Wait until the core has closed the first session.
	for n := 1; n != 0; {
		watcher.send("pipe_count\nweb_first\nc\n")
		f := watcher.readNorm()
		if _, err := fmt.Sscanf(f[strings.Index(f, "user_in_pipe\":")+len("user_in_pipe\":"):], "%d", &n); err != nil {
			t.Fatalf("pipe_count reply %s: %v", f, err)
		}
	}
	// Still online: the marker published next is the watcher's next frame.
	s.publish(t, &pb.Event{Channel: "user_status_42", Name: "marker", Data: `"m"`, Time: timestamppb.New(fixedTime)})
	marker := watcher.readNorm()
	second.conn.CloseNow()
	offline := watcher.readNorm()
	golden(t, "user_status", never, online, status, marker, offline)

	watcher.send("user_status\n42")
	if f := watcher.readNorm(); !strings.Contains(f, `"pipe":"_answer_user_status"`) || strings.Contains(f, `"data":-1`) {
		t.Fatalf("after going offline: %s, want the status reply with seconds since last online", f)
	}
}

func TestUserData(t *testing.T) {
	s := start(t, nil)
	if _, err := s.users.SetUserData(ctxT(t), &pb.SetUserDataRequest{Tenant: "2", User: "9", Data: `{"name":"Ann"}`}); err != nil {
		t.Fatal(err)
	}
	c := s.anon(t, 2, "d")
	c.send("user_data\nm9\n9")
	c.send("user_data\nm10\n10")
	golden(t, "user_data", c.readNorm(), c.readNorm())
}

func TestPersonalMessages(t *testing.T) {
	s := start(t, nil)
	a1 := s.login(t, 7, 0, "tab1")
	a2 := s.login(t, 7, 0, "tab2")
	r, err := s.Hub.Send(ctxT(t), &pb.SendRequest{Event: &pb.Event{
		Channel: "msg", Name: "hello", Data: `{"text":"hi"}`, To: &pb.Recipient{User: "7"},
	}, QueueIfOffline: true})
	if err != nil || !r.GetOnline() {
		t.Fatalf("send to online user: %v %v", r, err)
	}
	live1, live2 := a1.readNorm(), a2.readNorm()

	for i := range 2 {
		r, err := s.Hub.Send(ctxT(t), &pb.SendRequest{Event: &pb.Event{
			Channel: "msg", Name: "later", Data: fmt.Sprintf(`"queued %d"`, i), To: &pb.Recipient{User: "8"},
			Time: timestamppb.New(fixedTime),
		}, QueueIfOffline: true})
		if err != nil || !r.GetQueued() {
			t.Fatalf("send to offline user: %v %v", r, err)
		}
	}
	s.setHash(t, 8, 0, "hash8")
	b := s.dialRaw(t, cometPath("hash8", 8, 0, "4.08", "b"), nil)
	golden(t, "personal", live1, live2, b.readNorm(), b.readNorm(), b.readNorm())

	// The queue was handed over once.
	again := s.login(t, 8, 0, "b2")
	again.sync()
}

func TestTenants(t *testing.T) {
	s := start(t, nil)
	dev5 := s.anon(t, 5, "five")
	dev0 := s.anon(t, 0, "zero")
	dev5.subscribe("web_x")
	dev0.subscribe("web_x")
	publisher := s.anon(t, 5, "pub")
	publisher.send("web_pipe2\nweb_x\ne\n*\n\"for dev 5\"")
	publisher.read()
	if f := dev5.readNorm(); !strings.Contains(f, "for dev 5") {
		t.Fatalf("dev 5 got %s", f)
	}
	s.publish(t, &pb.Event{Channel: "web_x", Name: "e", Data: `"for dev 0"`})
	if f := dev0.readNorm(); !strings.Contains(f, "for dev 0") {
		t.Fatalf("dev 0 got %s, want only the default tenant's message", f)
	}
}

// TestLegacyClient: the frames of pages on the 3.x API (v 2 to 3): the
// <4 shim plus `pipe_name`, and those of pages before 2.0, whose `data` is
// base64 (seed: "before 4.0 some messages may be base64-encoded").
func TestLegacyClient(t *testing.T) {
	s := start(t, nil)
	c := s.dialRaw(t, cometPath("undefined", 0, 0, "3.25", "old"), nil)
	info := c.readNorm()
	c.send("subscription\nweb_old")
	c.send("pipe_count\nweb_old\nm\n")
	count := c.readNorm()
	s.publish(t, &pb.Event{Channel: "web_old", Name: "e", Data: `{"a":[1, 2]}`, Time: timestamppb.New(fixedTime)})
	golden(t, "legacy", info, count, c.readNorm())

	old := s.dialRaw(t, cometPath("undefined", 0, 0, "1.90", "older"), nil)
	info = old.readNorm()
	old.send("subscription\nweb_old")
	old.send("pipe_count\nweb_old\nm\n")
	count = old.readNorm()
	s.publish(t, &pb.Event{Channel: "web_old", Name: "e2", Data: `{"a":[1, 2]}`, Time: timestamppb.New(fixedTime)})
	s.publish(t, &pb.Event{Channel: "web_old", Name: "e3", Data: `"not json"`, Time: timestamppb.New(fixedTime)})
	msg, text := old.readNorm(), old.readNorm()
	golden(t, "legacy_base64", info, count, msg, text)
	// What a 1.x page does with each frame: base64-decode data, JSON-parse
	// it, read .data and .event_name.
	for _, tt := range []struct{ frame, inner string }{
		{count, `{"data":{"user_in_pipe":2},"event_name":"user_in_pipe"}`},
		{msg, `{"data":{"a":[1,2]},"event_name":"e2"}`},
		{text, `{"data":"not json","event_name":"e3"}`},
	} {
		var f struct {
			Data, Pipe string
			PipeName   string `json:"pipe_name"`
		}
		if err := json.Unmarshal([]byte(tt.frame), &f); err != nil {
			t.Fatal(err)
		}
		inner, err := base64.StdEncoding.DecodeString(f.Data)
		if err != nil || string(inner) != tt.inner || f.Pipe == "" || f.PipeName != f.Pipe {
			t.Fatalf("frame %s: data decodes to %s (%v), want %s", tt.frame, inner, err, tt.inner)
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	s := start(t, nil)
	c := s.anon(t, 0, "err")
	frames := []string{
		"web_pipe2\nchat\ne\n*\nx",
		"web_pipe2\nweb_a b\ne\n*\nx",
		"web_pipe2\nweb_" + strings.Repeat("x", 61) + "\ne\n*\nx",
		"web_pipe2\nweb_a\ne v\n*\nx",
		"web_pipe2\nweb_a\n" + strings.Repeat("e", 65) + "\n*\nx",
		"web_pipe2\nweb_a\ne\n**\nx",
		"web_pipe2\nweb_a",
		"pipe_log\n\nm\n",
		"pipe_log\nweb_a\nm m\n",
		"pipe_count\nchat\nm\n",
		"track_pipe_users\nweb_a\nm",
		"user_status\nabc",
		"user_status\n0",
		"user_data\nm!\n5",
		"user_data\nm\nx",
	}
	var got []string
	for _, f := range frames {
		c.send(f)
		got = append(got, c.readNorm())
	}
	golden(t, "errors", got...)
	// Accepted and ignored, connection kept.
	c.send("statistics\n{\"url\":\"x\"}")
	c.send("cgi_call\nx")
	c.send("CometQL_call\nm\njwt")
	c.sync()
}

func TestClosingErrors(t *testing.T) {
	s := start(t, nil)
	tests := []struct {
		name    string
		frame   string
		message bool // an error message comes before the close
		dropped bool // TCP hang-up without a close frame
	}{
		{"unknown_command", "hello\nworld", false, true},
		{"subscription_too_long", "subscription\n" + strings.Repeat("web_a\n", 400), true, true},
		{"name_too_long", "subscription\nweb_" + strings.Repeat("x", 60), true, true},
		{"frame_over_limit", "web_pipe2\nweb_a\ne\n*\n" + strings.Repeat("x", 70000), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.anon(t, 0, "c")
			if err := c.write(tt.frame); err != nil && !tt.dropped && !tt.message {
				// The server may hang up before the whole frame is written.
				t.Logf("write: %v", err)
			} else if err != nil {
				t.Fatalf("write: %v", err)
			}
			if tt.message {
				golden(t, "close_"+tt.name, c.readNorm())
			}
			c.expectClosed(tt.dropped)
		})
	}
	// The server is unharmed.
	s.anon(t, 0, "after").sync()
}

func TestCrossFace(t *testing.T) {
	s := start(t, nil)
	// comet → gRPC: a web_pipe2 message is a canonical event.
	stream, err := s.Hub.Subscribe(ctxT(t), &pb.SubscribeRequest{Filters: []*pb.Filter{{Tenant: "3", Channels: []string{"web_x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetSubscribed() == nil {
		t.Fatalf("first stream message %v %v", m, err)
	}
	c := s.login(t, 5, 3, "cross")
	reader := s.anon(t, 3, "reader")
	reader.subscribe("web_x")
	// A message text that is a compact JSON object or array (what
	// JSON.stringify writes) is that JSON value in Event.data; any other
	// text is a JSON string. Comet pages read back exactly what was sent.
	for _, tt := range []struct{ message, data string }{
		{`{"a":1,"b":[true,null]}`, `{"a":1,"b":[true,null]}`},
		{`["x",{"y":"<&>"}]`, `["x",{"y":"<&>"}]`},
		{`{"a": 1}`, `"{\"a\": 1}"`},
		{`{"a":1`, `"{\"a\":1"`},
		{`"quoted"`, `"\"quoted\""`},
		{`42`, `"42"`},
		{`plain text`, `"plain text"`},
	} {
		c.send("web_pipe2\nweb_x\nev\n*\n" + tt.message)
		c.read()
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		ev := m.GetEvent()
		if ev.GetTenant() != "3" || ev.GetChannel() != "web_x" || ev.GetName() != "ev" || ev.GetData() != tt.data ||
			ev.GetPublisher().GetUser() != "5" || ev.GetPublisher().GetClient() == "" {
			t.Fatalf("message %s: canonical event %v, want data %s", tt.message, ev, tt.data)
		}
		var back struct{ Data string }
		if f := reader.read(); json.Unmarshal([]byte(f), &back) != nil || back.Data != tt.message {
			t.Fatalf("message %s: a comet page read back %s", tt.message, f)
		}
	}

	// gRPC/REST → comet: data is a string; a JSON string is unquoted, any
	// other value is its compact JSON text.
	c.subscribe("web_y")
	for _, data := range []string{`"plain text"`, `{"b": [1, true, null]}`, `42`, `null`} {
		s.publish(t, &pb.Event{Tenant: "3", Channel: "web_y", Name: "", Data: data, Time: timestamppb.New(fixedTime),
			Publisher: &pb.Publisher{User: "not-a-number"}})
	}
	golden(t, "cross_face", c.readNorm(), c.readNorm(), c.readNorm(), c.readNorm())
}

// TestUserServiceREST drives the backend side over REST, as a comet-server
// backend that used CometQL `INSERT INTO users_auth` / `users_data` would.
func TestUserServiceREST(t *testing.T) {
	s := start(t, nil)
	post := func(path, body string) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, s.HTTPURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	post("/v1/users/set_auth_hash", `{"tenant":"4","user":"21","hash":"rest_hash"}`)
	post("/v1/users/set_user_data", `{"tenant":"4","user":"21","data":"vip"}`)
	c := s.dial(t, cometPath("rest_hash", 21, 4, "4.08", "r"), true)
	c.send("user_data\nm\n21")
	if f := c.read(); !strings.Contains(f, `"user_data":"vip"`) {
		t.Fatalf("user_data reply %s", f)
	}
	if got := post("/v1/users/status", `{"tenant":"4","user":"21"}`); !strings.Contains(got, `"online":true`) || !strings.Contains(got, `"num_sessions":1`) {
		t.Fatalf("status %s", got)
	}
	if got := post("/v1/users/check_auth_hash", `{"tenant":"4","user":"21","hash":"rest_hash"}`); !strings.Contains(got, `"valid":true`) {
		t.Fatalf("check %s", got)
	}
}

func TestControlOrders(t *testing.T) {
	s := start(t, nil)
	c := s.login(t, 5, 0, "ctl")
	c.subscribe("web_a", "web_b")
	// witness shares c's fan-out group for web_a: once it has read a probe
	// and the probe after it, c's sink has been handed the first probe (or
	// has left the group).
	witness := s.anon(t, 0, "witness")
	witness.subscribe("web_a")

	// HubService.Unsubscribe takes one pipe away from every connection of
	// the user; the face carries the order out asynchronously.
	if _, err := s.Hub.Unsubscribe(ctxT(t), &pb.UnsubscribeRequest{User: "5", Channel: "web_a"}); err != nil {
		t.Fatal(err)
	}
	for round := 0; ; round++ {
		for _, p := range []string{"probe", "probe2"} {
			s.publish(t, &pb.Event{Channel: "web_a", Name: p, Data: `"x"`})
			if f := witness.read(); !strings.Contains(f, `"event":"`+p+`"`) {
				t.Fatalf("witness read %s", f)
			}
		}
		// A probe queued for c was queued before this tick was published.
		tick := fmt.Sprintf("tick%d", round)
		s.publish(t, &pb.Event{Channel: "web_b", Name: tick, Data: `"x"`})
		gotProbe := false
		for f := c.read(); !strings.Contains(f, `"event":"`+tick+`"`); f = c.read() {
			gotProbe = true
		}
		if !gotProbe {
			break
		}
		if round == 1000 {
			t.Fatal("web_a still delivered after 1000 rounds")
		}
	}

	// HubService.Disconnect closes the socket cleanly, so the JS client
	// does not reconnect.
	if _, err := s.Hub.Disconnect(ctxT(t), &pb.DisconnectRequest{User: "5", Reason: "banned"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.conn.Read(ctxT(t))
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "banned" {
		t.Fatalf("read after disconnect: %v, want close 1008 \"banned\"", err)
	}
}
