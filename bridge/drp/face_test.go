package drp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata/")

// The default DRP admin of the docs, and one with a bcrypt hash.
const (
	adminUser  = "rocketskates"
	adminPass  = "r0cketsk8ts"
	hashedUser = "hashed"
	hashedPass = "s3cret"
)

// wait bounds every read and call of these tests.
const wait = 10 * time.Second

// fixedTime is the time of events published with an explicit time, so
// their frames are golden.
var fixedTime = time.Date(2017, 12, 21, 23, 26, 43, 412554192, time.UTC)

func start(t *testing.T, tweak func(*app.Config)) *apptest.Server {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(hashedPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Start(t, func(c *app.Config) {
		c.Admins = []app.Admin{{Username: adminUser, Password: adminPass}, {Username: hashedUser, Password: string(hash)}}
		if tweak != nil {
			tweak(c)
		}
	})
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// client is one DRP websocket client.
type client struct {
	t *testing.T
	c *websocket.Conn
}

// dial opens /api/v3/ws with an Authorization header (if auth is not
// empty) and a raw query.
func dial(t *testing.T, srv *apptest.Server, auth, query string, hc *http.Client) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	u := srv.WSURL + "/api/v3/ws"
	if query != "" {
		u += "?" + query
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: hc})
}

func connect(t *testing.T, srv *apptest.Server, auth string) *client {
	t.Helper()
	return connectWith(t, srv, auth, nil)
}

func connectWith(t *testing.T, srv *apptest.Server, auth string, hc *http.Client) *client {
	t.Helper()
	c, _, err := dial(t, srv, auth, "", hc)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	return &client{t: t, c: c}
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.c.Write(ctxT(c.t), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

func (c *client) read() []byte {
	c.t.Helper()
	typ, b, err := c.c.Read(ctxT(c.t))
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		c.t.Fatalf("frame type %v, want text", typ)
	}
	return b
}

var timeField = regexp.MustCompile(`^\{"Time":"([^"]*)",`)

// normTime checks that a frame starts with a UTC RFC 3339 Time and replaces
// it with a placeholder.
func normTime(t *testing.T, frame []byte) string {
	t.Helper()
	m := timeField.FindSubmatch(frame)
	if m == nil {
		t.Fatalf("frame does not start with Time: %s", frame)
	}
	ts, err := time.Parse(time.RFC3339Nano, string(m[1]))
	if err != nil || !strings.HasSuffix(string(m[1]), "Z") || time.Since(ts) > time.Minute {
		t.Fatalf("Time %q is not a recent UTC RFC 3339 time (%v)", m[1], err)
	}
	return timeField.ReplaceAllString(string(frame), `{"Time":"<now>",`)
}

// ackFrame is the exact ack DRP sends, Time replaced.
func ackFrame(verb, filter string) string {
	k, _ := json.Marshal(filter)
	return `{"Time":"<now>","Type":"websocket","Action":"` + verb + `","Key":` + string(k) + `,"Principal":"","Object":null,"Original":null}`
}

// do sends "verb filter" and expects its ack as the next frame.
func (c *client) do(verb, filter string) {
	c.t.Helper()
	c.send(verb + " " + filter)
	if got, want := normTime(c.t, c.read()), ackFrame(verb, filter); got != want {
		c.t.Fatalf("ack of %s %q:\n got %s\nwant %s", verb, filter, got, want)
	}
}

// drpEvent is a received event frame.
type drpEvent struct {
	Time, Type, Action, Key, Principal string
	Object, Original                   json.RawMessage
}

func (c *client) readEvent() (drpEvent, []byte) {
	c.t.Helper()
	b := c.read()
	var e drpEvent
	if err := json.Unmarshal(b, &e); err != nil {
		c.t.Fatalf("frame %s: %v", b, err)
	}
	return e, b
}

// collect reads event frames up to an event of the marker channel m and
// returns them as "Type/Action/Key".
func (c *client) collect(m string) []string {
	c.t.Helper()
	var got []string
	for {
		e, _ := c.readEvent()
		if e.Type == m {
			return got
		}
		got = append(got, e.Type+"/"+e.Action+"/"+e.Key)
	}
}

func publish(t *testing.T, srv *apptest.Server, typ, action, key string) {
	t.Helper()
	_, err := srv.Hub.Publish(ctxT(t), &pb.PublishRequest{Event: &pb.Event{Channel: typ, Name: action, Key: key, Data: `{"n":1}`}})
	if err != nil {
		t.Fatalf("publish %s/%s/%s: %v", typ, action, key, err)
	}
}

var markers int

// newMark names a fresh marker channel. A socket registers it as its last
// filter before a check (arm), so that only its current upstream group
// carries markers. One group delivers in publish order, so every event
// published before the marker that the socket should get arrives before
// the marker, and so would any it should not get. (Just after a filter
// change the previous group is still draining, and its events may
// interleave with the current group's: conn.go, drainTime.)
func newMark() string {
	markers++
	return "mark" + strconv.Itoa(markers)
}

func (c *client) arm(m string) {
	c.t.Helper()
	c.do("register", m+".*.*")
}

func publishMark(t *testing.T, srv *apptest.Server, m string) {
	t.Helper()
	publish(t, srv, m, "mark", "end")
}

// check arms c with a fresh marker, runs publish, publishes the marker and
// returns what c got before it.
func (c *client) check(srv *apptest.Server, publishAll func()) []string {
	c.t.Helper()
	m := newMark()
	c.arm(m)
	publishAll()
	publishMark(c.t, srv, m)
	return c.collect(m)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(bytes.TrimSpace(got), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update)", name, err)
	}
	if string(bytes.TrimSpace(want)) != string(bytes.TrimSpace(got)) {
		t.Fatalf("frame differs from %s:\n got %s\nwant %s", path, got, want)
	}
}

func mintToken(t *testing.T, secret string, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuth(t *testing.T) {
	srv := start(t, nil)
	good := srv.Token(t, "alice")
	now := time.Now()
	expired := mintToken(t, apptest.TestTokenSecret, jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(now.Add(-time.Hour))})
	otherKey := mintToken(t, "another-secret", jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))})
	noSub := mintToken(t, apptest.TestTokenSecret, jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))})
	noExp := mintToken(t, apptest.TestTokenSecret, jwt.RegisteredClaims{Subject: "alice"})

	tests := []struct {
		name      string
		auth      string
		query     string
		status    int  // 0: the upgrade succeeds
		challenge bool // WWW-Authenticate: dr-provision
	}{
		{name: "nothing", status: 401, challenge: true},
		{name: "unknown scheme", auth: "Token abc", status: 401, challenge: true},
		{name: "scheme only", auth: "Basic", status: 401, challenge: true},
		{name: "lower-case scheme", auth: "bearer " + good, status: 401, challenge: true},
		{name: "bad base64", auth: "Basic !!!", status: 401, challenge: true},
		{name: "basic without colon", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("rocketskates")), status: 401, challenge: true},
		{name: "unknown user", auth: basic("nobody", adminPass), status: 403},
		{name: "wrong password", auth: basic(adminUser, "wrong"), status: 403},
		{name: "wrong bcrypt password", auth: basic(hashedUser, "wrong"), status: 403},
		{name: "hash as password", auth: basic(hashedUser, "$2a$04$"), status: 403},
		{name: "garbage token", auth: "Bearer abc", status: 403, challenge: true},
		{name: "expired token", auth: "Bearer " + expired, status: 403, challenge: true},
		{name: "token of another key", auth: "Bearer " + otherKey, status: 403, challenge: true},
		{name: "token without sub", auth: "Bearer " + noSub, status: 403, challenge: true},
		{name: "token without exp", auth: "Bearer " + noExp, status: 403, challenge: true},
		{name: "query wrong password", query: "token=" + adminUser + ":wrong", status: 403},
		{name: "query garbage token", query: "token=abc", status: 403, challenge: true},
		{name: "query Token spelling", query: "Token=" + adminUser + ":" + adminPass},
		{name: "header wins over query", auth: "Bearer abc", query: "token=" + url.QueryEscape(good), status: 403, challenge: true},
		{name: "basic admin", auth: basic(adminUser, adminPass)},
		{name: "basic bcrypt admin", auth: basic(hashedUser, hashedPass)},
		{name: "bearer token", auth: "Bearer " + good},
		{name: "query user:password", query: "token=" + adminUser + ":" + adminPass},
		{name: "query token", query: "token=" + url.QueryEscape(good)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dial(t, srv, tt.auth, tt.query, nil)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.CloseNow()
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatalf("dial succeeded; want %d", tt.status)
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("dial: %v (response %+v); want %d", err, resp, tt.status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); (got == "dr-provision") != tt.challenge || (got != "" && got != "dr-provision") {
				t.Fatalf("WWW-Authenticate = %q, challenge %v", got, tt.challenge)
			}
			if resp.Body != nil {
				if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
					t.Fatalf("body %q; want empty", b)
				}
			}
		})
	}
}

func TestRegisterDeregister(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, basic(adminUser, adminPass))

	// Unknown frames get no reply and keep the connection: the next frame
	// the client sees is the ack of the register after them.
	for _, junk := range []string{"hello", "Register profiles.*.*", "register", "subscribe a.b.c", "   "} {
		c.send(junk)
	}
	c.do("register", "profiles.*.*")
	golden(t, "ack_register.golden", []byte(normTime(t, mustMarshalAck(t, c, "register", "jobs.*.*"))))

	// A duplicate is acked again and changes nothing: still one delivery.
	c.do("register", "profiles.*.*")
	pub := func() { publish(t, srv, "profiles", "save", "global") }
	if got := c.check(srv, pub); fmt.Sprint(got) != "[profiles/save/global]" {
		t.Fatalf("after duplicate register: %v", got)
	}

	// deregister removes the identical string only.
	c.do("deregister", "*.*.*")
	c.do("deregister", " profiles.*.*")
	if got := c.check(srv, pub); fmt.Sprint(got) != "[profiles/save/global]" {
		t.Fatalf("after deregister of other strings: %v", got)
	}
	c.do("deregister", "profiles.*.*")
	if got := c.check(srv, pub); len(got) != 0 {
		t.Fatalf("after deregister: %v", got)
	}
	// Deregistering again is still acked.
	c.do("deregister", "profiles.*.*")

	// The Key of the ack is the filter text as sent, verbatim.
	c.do("register", " spaced.*.*")
	c.do("register", `a<b>&"c\".*.*`)
	golden(t, "ack_deregister.golden", []byte(normTime(t, mustMarshalAck(t, c, "deregister", `a<b>&"c\".*.*`))))
}

// mustMarshalAck sends one command and returns its raw ack frame.
func mustMarshalAck(t *testing.T, c *client, verb, filter string) []byte {
	t.Helper()
	c.send(verb + " " + filter)
	return c.read()
}

func TestNoFiltersNoEvents(t *testing.T) {
	srv := start(t, nil)
	quiet := connect(t, srv, basic(adminUser, adminPass))
	loud := connect(t, srv, basic(adminUser, adminPass))
	quiet.do("register", "malformed")
	loud.do("register", "*.*.*")
	if got := loud.check(srv, func() { publish(t, srv, "profiles", "save", "global") }); len(got) != 1 {
		t.Fatalf("loud socket got %v", got)
	}
	// The quiet socket's next frame is the ack of its next register: it got
	// nothing while it had no filter that can match.
	if got := quiet.check(srv, func() {}); len(got) != 0 {
		t.Fatalf("socket without filters got %v", got)
	}
}

func TestMatchingEndToEnd(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, basic(adminUser, adminPass))
	for _, f := range []string{
		"machines,profiles.save,update.*",
		`jobs.*.my\1job`,
		"tasks.create.a.b.c",
		" params . create , destroy .  x",
		`stages.*.x\3,*`,
		"leases..",
		// Malformed: acked, never match, never crash.
		"machines",
		"*",
		"*.*",
	} {
		c.do("register", f)
	}
	type e struct{ typ, action, key string }
	sent := []e{
		{"machines", "save", "m1"}, {"profiles", "update", "p1"}, {"machines", "create", "m2"},
		{"jobs", "create", "my.job"}, {"jobs", "create", "my\\1job"}, {"jobs", "create", "myXjob"},
		{"tasks", "create", "a.b.c"}, {"tasks", "create", "a.b"}, {"tasks", "update", "a.b.c"},
		{"params", "create", "x"}, {"params", "destroy", "x"}, {"params", "save", "x"},
		{"stages", "save", "x*"}, {"stages", "save", "*"}, {"stages", "save", "x"},
		{"leases", "", ""}, {"leases", "save", ""},
		{"other", "save", "m1"},
	}
	got := c.check(srv, func() {
		for _, ev := range sent {
			publish(t, srv, ev.typ, ev.action, ev.key)
		}
	})
	want := []string{
		"machines/save/m1", "profiles/update/p1",
		"jobs/create/my.job",
		"tasks/create/a.b.c",
		"params/create/x", "params/destroy/x",
		"stages/save/x*",
		"leases//",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered:\n got %v\nwant %v", got, want)
	}
}

func TestSharedGroupsAndPerSocketFilters(t *testing.T) {
	srv := start(t, nil)
	a := connect(t, srv, basic(adminUser, adminPass))
	b := connect(t, srv, basic(adminUser, adminPass))
	a.do("register", "profiles.*.*")
	b.do("register", "profiles.*.*")
	b.do("register", "machines.*.*")
	m := newMark()
	a.arm(m)
	b.arm(m)
	publish(t, srv, "profiles", "save", "p")
	publish(t, srv, "machines", "save", "m")
	publishMark(t, srv, m)
	if got := a.collect(m); fmt.Sprint(got) != "[profiles/save/p]" {
		t.Fatalf("a got %v", got)
	}
	if got := b.collect(m); fmt.Sprint(got) != "[profiles/save/p machines/save/m]" {
		t.Fatalf("b got %v", got)
	}
}

// TestFilterChangesMissNothing: while events flow, every register and
// deregister moves the socket to another upstream group; each event still
// arrives exactly once.
func TestFilterChangesMissNothing(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, basic(adminUser, adminPass))
	c.do("register", "stream.*.*")
	const events, changes = 300, 60
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() {
		for i := range events {
			ev := &pb.Event{Channel: "stream", Name: "n", Key: strconv.Itoa(i), Data: "null"}
			if _, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: ev}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range changes {
		if i%2 == 0 {
			c.send(fmt.Sprintf("register other%d.*.*", i))
		} else {
			c.send(fmt.Sprintf("deregister other%d.*.*", i-1))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Read until every ack and every event is in; a missing one fails by
	// the read timeout.
	seen := make(map[string]int)
	for acks := 0; acks < changes || len(seen) < events; {
		e, _ := c.readEvent()
		switch e.Type {
		case "websocket":
			acks++
		case "stream":
			if seen[e.Key]++; seen[e.Key] > 1 {
				t.Fatalf("event %s arrived twice", e.Key)
			}
		default:
			t.Fatalf("unexpected event %+v", e)
		}
	}
	// A duplicate would come before an event published now.
	if got := c.check(srv, func() {}); len(got) != 0 {
		t.Fatalf("after all events: %v", got)
	}
}

func TestLocalFilteringWhenHubRefusesTheSet(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, basic(adminUser, adminPass))
	// More filters than the hub takes in one subscription.
	for i := range 200 {
		c.do("register", fmt.Sprintf("t%d.save.*", i))
	}
	// A channel in a namespace that does not exist, and one too long.
	c.do("register", "nowhere:x.*.*")
	c.do("register", strings.Repeat("x", 300)+".*.*")
	got := c.check(srv, func() {
		publish(t, srv, "t199", "save", "k")
		publish(t, srv, "t199", "create", "k")
		publish(t, srv, "t200", "save", "k")
		publish(t, srv, "t0", "save", "k")
	})
	// Order is kept per channel only: these are two channels.
	slices.Sort(got)
	if fmt.Sprint(got) != "[t0/save/k t199/save/k]" {
		t.Fatalf("got %v", got)
	}
}

func TestOversizedFrameClosesTheSocket(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, basic(adminUser, adminPass))
	c.send("register " + strings.Repeat("x", 5000))
	_, _, err := c.c.Read(ctxT(t))
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("read after oversized frame: %v; want close 1009", err)
	}
}

func TestTooManyFiltersClosesTheSocket(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, basic(adminUser, adminPass))
	// Malformed filters are stored like any other (and cost no upstream).
	const limit = 1024
	for i := range limit {
		c.send("register f" + strconv.Itoa(i))
	}
	for range limit {
		c.read()
	}
	// A duplicate is still fine; one more distinct filter is not.
	c.do("register", "f0")
	c.send("register one-too-many")
	_, _, err := c.c.Read(ctxT(t))
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "too many filters" {
		t.Fatalf("read after filter %d: %v; want 1008 too many filters", limit+1, err)
	}
}

// TestUserLimitedChannels: a token user does not see the "#" channels of
// other users, whether the filter names the channel or matches any.
func TestUserLimitedChannels(t *testing.T) {
	for _, filter := range []string{"dialog#alice,news,end.*.*", "*.*.*"} {
		t.Run(filter, func(t *testing.T) {
			srv := start(t, nil)
			admin := connect(t, srv, basic(adminUser, adminPass))
			bob := connect(t, srv, "Bearer "+srv.Token(t, "bob"))
			alice := connect(t, srv, "Bearer "+srv.Token(t, "alice"))
			// One register each: one group, so the "end" event comes last.
			for _, c := range []*client{admin, bob, alice} {
				c.do("register", filter)
			}
			publish(t, srv, "dialog#alice", "say", "1")
			publish(t, srv, "news", "say", "2")
			publish(t, srv, "end", "say", "3")
			if got := admin.collect("end"); fmt.Sprint(got) != "[dialog#alice/say/1 news/say/2]" {
				t.Fatalf("admin got %v", got)
			}
			if got := alice.collect("end"); fmt.Sprint(got) != "[dialog#alice/say/1 news/say/2]" {
				t.Fatalf("alice got %v", got)
			}
			if got := bob.collect("end"); fmt.Sprint(got) != "[news/say/2]" {
				t.Fatalf("bob got %v", got)
			}
		})
	}
}

func TestHubPublishArrivesOnDRP(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, "Bearer "+srv.Token(t, "alice"))
	c.do("register", "machines.update.*")
	_, err := srv.Hub.Publish(ctxT(t), &pb.PublishRequest{Event: &pb.Event{
		Channel:   "machines",
		Name:      "update",
		Key:       "3e3c2a5e-1d2f-4bde-9c36-1b4c8b0f0a11",
		Data:      `{"Name":"m1","Params":{"a<b":"x&y"}}`,
		Previous:  `{"Name":"m1","Params":{}}`,
		Publisher: &pb.Publisher{User: "alice"},
		Time:      timestamppb.New(fixedTime),
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, frame := c.readEvent()
	golden(t, "event_from_hub.golden", frame)

	// No data and no previous: Object and Original are null.
	_, err = srv.Hub.Publish(ctxT(t), &pb.PublishRequest{Event: &pb.Event{
		Channel: "machines", Name: "update", Key: "k", Data: "null", Time: timestamppb.New(fixedTime.Truncate(time.Second)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, frame = c.readEvent()
	golden(t, "event_null.golden", frame)
}

// postEvent posts body to /api/v3/events.
func postEvent(t *testing.T, srv *apptest.Server, hc *http.Client, auth, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, srv.HTTPURL+"/api/v3/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const postedBody = `{"Time":"2017-12-21T23:26:43.412554192Z","Type":"profiles","Action":"save","Key":"global",
  "Object": {"Name": "global", "Params": {"bar": "blatz"}},
  "Original": {"Name": "global", "Params": {}}}`

func TestPostEventArrivesOnDRP(t *testing.T) {
	srv := start(t, nil)
	c := connect(t, srv, basic(adminUser, adminPass))
	c.do("register", "profiles.*.*")
	code, _, body := postEvent(t, srv, nil, basic(adminUser, adminPass), "application/json", postedBody)
	if code != http.StatusNoContent || body != "" {
		t.Fatalf("POST = %d %q; want 204", code, body)
	}
	_, frame := c.readEvent()
	golden(t, "event_posted.golden", frame)

	// Principal given, no Object, no Time (zero time as Go clients send it).
	code, _, body = postEvent(t, srv, nil, "Basic "+base64.StdEncoding.EncodeToString([]byte(hashedUser+":"+hashedPass)), "application/json; charset=utf-8",
		`{"Time":"0001-01-01T00:00:00Z","Type":"profiles","Action":"destroy","Key":"old","Principal":"user:ops","unknown":1}`)
	if code != http.StatusNoContent {
		t.Fatalf("POST = %d %q", code, body)
	}
	e, _ := c.readEvent()
	if e.Principal != "user:ops" || string(e.Object) != "null" || string(e.Original) != "null" || e.Action != "destroy" {
		t.Fatalf("event %+v", e)
	}
	if ts, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || time.Since(ts) > time.Minute {
		t.Fatalf("Time %q: the hub should have stamped it (%v)", e.Time, err)
	}
}

func TestPostEventArrivesOnGRPC(t *testing.T) {
	srv := start(t, nil)
	ctx := ctxT(t)
	stream, err := srv.Hub.Subscribe(ctx, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"profiles"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := stream.Recv(); err != nil || msg.GetSubscribed() == nil {
		t.Fatalf("first message %v, %v", msg, err)
	}
	code, _, body := postEvent(t, srv, nil, basic(adminUser, adminPass), "application/json", postedBody)
	if code != http.StatusNoContent {
		t.Fatalf("POST = %d %q", code, body)
	}
	msg, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	ev := msg.GetEvent()
	if ev.GetChannel() != "profiles" || ev.GetName() != "save" || ev.GetKey() != "global" ||
		ev.GetData() != `{"Name":"global","Params":{"bar":"blatz"}}` || ev.GetPrevious() != `{"Name":"global","Params":{}}` ||
		ev.GetPublisher().GetUser() != adminUser || !ev.GetTime().AsTime().Equal(fixedTime) || ev.GetTenant() != "" {
		t.Fatalf("event %v", ev)
	}
}

func TestPostEventErrors(t *testing.T) {
	srv := start(t, nil)
	admin := basic(adminUser, adminPass)
	// DRP's models.Error, keys in its order.
	drpErr := func(code int, typ string, msgs ...string) string {
		tb, _ := json.Marshal(typ)
		mb, _ := json.Marshal(msgs)
		return `{"Model":"events","Key":"","Type":` + string(tb) + `,"Messages":` + string(mb) + `,"Code":` + strconv.Itoa(code) + `}`
	}
	tests := []struct {
		name        string
		auth        string
		contentType string
		body        string
		code        int
		want        string // exact body; "" for none
		prefix      bool   // want is a prefix of the body
	}{
		{name: "no credentials", body: postedBody, contentType: "application/json", code: 401},
		{name: "wrong password", auth: basic(adminUser, "x"), body: postedBody, contentType: "application/json", code: 403},
		{name: "token user may not publish", auth: "Bearer " + srv.Token(t, "alice"), contentType: "application/json", body: postedBody, code: 403,
			want: drpErr(403, "AUTH", "Cannot access /api/v3/events", "Requires: events post *")},
		{name: "content type", auth: admin, contentType: "text/plain", body: postedBody, code: 400,
			want: drpErr(400, "POST", "Invalid content type: text/plain")},
		{name: "not JSON", auth: admin, contentType: "application/json", body: `{"Type":`, code: 400,
			want: `{"Model":"events","Key":"","Type":"POST","Messages":["body is not a JSON event: `, prefix: true},
		{name: "wrong JSON type", auth: admin, contentType: "application/json", body: `{"Type":5}`, code: 400,
			want: drpErr(400, "POST", "Type: a JSON number cannot be a string")},
		{name: "bad time", auth: admin, contentType: "application/json", body: `{"Type":"a","Time":"yesterday"}`, code: 400,
			want: `{"Model":"events","Key":"","Type":"POST","Messages":["Time: `, prefix: true},
		{name: "empty body", auth: admin, contentType: "application/json", body: ``, code: 422,
			want: drpErr(422, "ValidationError", "Type is required")},
		{name: "no type", auth: admin, contentType: "application/json", body: `{"Action":"save"}`, code: 422,
			want: drpErr(422, "ValidationError", "Type is required")},
		{name: "reserved type", auth: admin, contentType: "application/json", body: `{"Type":"websocket","Action":"register","Key":"*.*.*"}`, code: 422,
			want: drpErr(422, "ValidationError", `Type "websocket" is reserved for websocket acknowledgements`)},
		{name: "unknown namespace", auth: admin, contentType: "application/json", body: `{"Type":"nowhere:x"}`, code: 422,
			want: `{"Model":"events","Key":"","Type":"ValidationError","Messages":["`, prefix: true},
		{name: "channel too long", auth: admin, contentType: "application/json", body: `{"Type":"` + strings.Repeat("x", 300) + `"}`, code: 422,
			want: drpErr(422, "ValidationError", "Type: channel is longer than 255 bytes")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, body := postEvent(t, srv, nil, tt.auth, tt.contentType, tt.body)
			if code != tt.code {
				t.Fatalf("status %d %q; want %d", code, body, tt.code)
			}
			if code == 401 && h.Get("WWW-Authenticate") != "dr-provision" {
				t.Fatalf("WWW-Authenticate = %q", h.Get("WWW-Authenticate"))
			}
			switch {
			case tt.prefix:
				if !strings.HasPrefix(body, tt.want) || !strings.HasSuffix(body, `"],"Code":`+strconv.Itoa(tt.code)+`}`) {
					t.Fatalf("body %s; want prefix %s", body, tt.want)
				}
			case body != tt.want:
				t.Fatalf("body:\n got %s\nwant %s", body, tt.want)
			}
		})
	}

	t.Run("wrong method", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, srv.HTTPURL+"/api/v3/events", nil)
		req.Header.Set("Authorization", admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 405 || string(b) != drpErr(405, "GET", "Method not allowed") {
			t.Fatalf("GET = %d %s", resp.StatusCode, b)
		}
	})
}

// TestSlowConsumer: a socket that stops reading is cut off with "slow
// consumer" while another socket of the same group keeps receiving.
func TestSlowConsumer(t *testing.T) {
	srv := start(t, func(c *app.Config) {
		c.ClientQueueSize = 8
		c.MaxPayload = 512 << 10
	})
	slow := connect(t, srv, basic(adminUser, adminPass))
	fast := connect(t, srv, basic(adminUser, adminPass))
	for _, c := range []*client{slow, fast} {
		c.do("register", "flood.*.*")
	}
	before := slowConsumers(t, srv)
	data := `"` + strings.Repeat("x", 256<<10) + `"`
	// Each event is published only after the fast socket got the previous
	// one, so the shared upstream never lags; the slow socket's kernel
	// buffers fill, then its queue, and it is cut off.
	cut := false
	for i := 0; i < 2000 && !cut; i++ {
		_, err := srv.Hub.Publish(ctxT(t), &pb.PublishRequest{Event: &pb.Event{Channel: "flood", Name: "n", Key: strconv.Itoa(i), Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := fast.readEvent(); e.Key != strconv.Itoa(i) {
			t.Fatalf("fast socket got key %q, want %d", e.Key, i)
		}
		cut = slowConsumers(t, srv) > before
	}
	if !cut {
		t.Fatal("the slow socket was never cut off")
	}
	// The fast socket keeps receiving.
	publish(t, srv, "flood", "n", "after")
	if e, _ := fast.readEvent(); e.Key != "after" {
		t.Fatalf("fast socket got %q after the cut", e.Key)
	}
	// The slow socket reads what was written before the cut, then the close.
	for {
		_, _, err := slow.c.Read(ctxT(t))
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "slow consumer" {
			t.Fatalf("slow socket ended with %v; want 1008 slow consumer", err)
		}
		break
	}
}

// slowConsumers reads switchboard_bridge_slow_consumers_total{face="drp"}.
func slowConsumers(t *testing.T, srv *apptest.Server) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, srv.HTTPURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	const name = `switchboard_bridge_slow_consumers_total{face="drp"} `
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// TestTLS runs the face over HTTPS/WSS (tls_cert, tls_key), the way DRP is
// always reached, with the DRP Go client's habit of not checking the
// certificate replaced by trusting the test certificate.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	srv := start(t, func(c *app.Config) {
		c.TLSCert = certFile
		c.TLSKey = keyFile
	})
	if !strings.HasPrefix(srv.WSURL, "wss://") {
		t.Fatalf("WSURL %q", srv.WSURL)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(hc.CloseIdleConnections)

	c := connectWith(t, srv, basic(adminUser, adminPass), hc)
	c.do("register", "profiles.save.*")
	code, _, body := postEvent(t, srv, hc, basic(adminUser, adminPass), "application/json", postedBody)
	if code != http.StatusNoContent {
		t.Fatalf("POST over HTTPS = %d %q", code, body)
	}
	_, frame := c.readEvent()
	golden(t, "event_posted.golden", frame)
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "switchboard test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}
