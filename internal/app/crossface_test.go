package app_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// Cross-face tests: an event published through one face reaches matching
// subscribers on every other face, each in its own wire format.

// centrifugoCall posts one signed v1 command and returns the reply array.
func centrifugoCall(t *testing.T, srv *apptest.Server, body string) string {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(apptest.TestSecret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest(http.MethodPost, srv.HTTPURL+"/api/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Sign", hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("centrifugo %s: %d %s", body, resp.StatusCode, b)
	}
	return string(b)
}

// drpSocket opens a DRP websocket for user, registers filter and waits for the ack.
func drpSocket(t *testing.T, srv *apptest.Server, user, filter string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer " + srv.Token(t, user)}}
	ws, _, err := websocket.Dial(ctx, srv.WSURL+"/api/v3/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	if err := ws.Write(ctx, websocket.MessageText, []byte("register "+filter)); err != nil {
		t.Fatal(err)
	}
	if _, ack, err := ws.Read(ctx); err != nil || !strings.Contains(string(ack), `"Type":"websocket"`) {
		t.Fatalf("ack: %s %v", ack, err)
	}
	return ws
}

func readJSON(t *testing.T, ws *websocket.Conn) map[string]json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return m
}

// restStream opens POST /v1/subscribe and returns a function reading the next event.
func restStream(t *testing.T, srv *apptest.Server, body string) func() map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.HTTPURL+"/v1/subscribe", strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	next := func() map[string]any {
		for sc.Scan() {
			var m struct{ Result map[string]any }
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %s: %v", sc.Bytes(), err)
			}
			if ev, ok := m.Result["event"].(map[string]any); ok {
				return ev
			}
			if _, ok := m.Result["subscribed"]; !ok {
				continue
			}
			return m.Result
		}
		t.Fatalf("REST stream ended: %v", sc.Err())
		return nil
	}
	if _, ok := next()["subscribed"]; !ok {
		t.Fatal("REST stream: no subscribed first")
	}
	return next
}

func TestCentrifugoPublishReachesEveryFace(t *testing.T) {
	srv := apptest.Start(t, nil)
	grpcStream, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"news"}}}})
	rest := restStream(t, srv, `{"filters":[{"channels":["news"]}]}`)
	drp := drpSocket(t, srv, "alice", "news.*.*")

	data := `{"text":"hi","n":[1,2]}`
	reply := centrifugoCall(t, srv, `{"method":"publish","params":{"channel":"news","data":`+data+`,"client":"c1"}}`)
	if reply != `[{"method":"publish","error":null,"body":null}]` {
		t.Fatalf("reply %s", reply)
	}
	if ev := next(t, grpcStream).GetEvent(); ev.Data != data || ev.GetPublisher().GetClient() != "c1" {
		t.Fatalf("gRPC got %v", ev)
	}
	if ev := rest(); ev["data"] != data {
		t.Fatalf("REST got %v", ev)
	}
	if m := readJSON(t, drp); string(m["Type"]) != `"news"` || string(m["Object"]) != data {
		t.Fatalf("DRP got %v", m)
	}
}

func TestDRPPublishReachesEveryFace(t *testing.T) {
	srv := apptest.Start(t, func(c *app.Config) { c.Admins = []app.Admin{{Username: "admin", Password: "pw"}} })
	grpcStream, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"machines"}, Names: []string{"update"}}}})
	rest := restStream(t, srv, `{"filters":[{"channels":["machines"]}]}`)
	drp := drpSocket(t, srv, "bob", "machines.*.*")

	req, _ := http.NewRequest(http.MethodPost, srv.HTTPURL+"/api/v3/events", strings.NewReader(`{"Type":"machines","Action":"update","Key":"m1","Object":{"Name":"m1"}}`))
	req.SetBasicAuth("admin", "pw")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /api/v3/events: %v %v", resp, err)
	}
	resp.Body.Close()
	if ev := next(t, grpcStream).GetEvent(); ev.Key != "m1" || ev.Data != `{"Name":"m1"}` || ev.GetPublisher().GetUser() != "admin" {
		t.Fatalf("gRPC got %v", ev)
	}
	if ev := rest(); ev["key"] != "m1" {
		t.Fatalf("REST got %v", ev)
	}
	if m := readJSON(t, drp); string(m["Key"]) != `"m1"` {
		t.Fatalf("DRP got %v", m)
	}
	// And the Centrifugo API sees it in history.
	h := centrifugoCall(t, srv, `{"method":"history","params":{"channel":"machines"}}`)
	if !strings.Contains(h, `"data":{"Name":"m1"}`) {
		t.Fatalf("centrifugo history: %s", h)
	}
}

func TestCentrifugoDisconnectAndUnsubscribeReachWebsockets(t *testing.T) {
	srv := apptest.Start(t, nil)
	alice := drpSocket(t, srv, "alice", "a,b.*.*")
	bob := drpSocket(t, srv, "bob", "a.*.*")
	p := centrifugoCall(t, srv, `{"method":"presence","params":{"channel":"a"}}`)
	if !strings.Contains(p, `"user":"alice"`) || !strings.Contains(p, `"user":"bob"`) {
		t.Fatalf("presence across faces: %s", p)
	}
	centrifugoCall(t, srv, `[{"method":"unsubscribe","params":{"channel":"a","user":"alice"}},{"method":"disconnect","params":{"user":"bob"}}]`)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, _, err := bob.Read(ctx); websocket.CloseStatus(err) == -1 {
		t.Fatalf("bob after disconnect: %v, want a close frame", err)
	}
	centrifugoCall(t, srv, `{"method":"publish","params":{"channel":"a","data":1}}`)
	centrifugoCall(t, srv, `{"method":"publish","params":{"channel":"b","data":2}}`)
	if m := readJSON(t, alice); string(m["Type"]) != `"b"` {
		t.Fatalf("alice after unsubscribe from a got %v", m)
	}
}

// cometSocket opens an anonymous comet-server socket (dev 0, the default
// tenant) subscribed to pipes, and returns a reader of its frames.
func cometSocket(t *testing.T, srv *apptest.Server, uuid string, pipes ...string) (*websocket.Conn, func() map[string]json.RawMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WSURL+"/ws/sesion=undefined&myid=undefined&devid=0&v=4.08&uuid="+uuid+"&api=js", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	read := func() map[string]json.RawMessage { return readJSON(t, ws) }
	if m := read(); string(m["event"]) != `"serverInfo"` {
		t.Fatalf("first comet frame %v", m)
	}
	write := func(s string) {
		if err := ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write("subscription\n" + strings.Join(pipes, "\n"))
	// user_data answers after the subscription above has been carried out.
	write("user_data\nsync\n1")
	for {
		if m := read(); string(m["marker"]) == `"sync"` {
			break
		}
	}
	return ws, read
}

func TestCometTalksToEveryFace(t *testing.T) {
	srv := apptest.Start(t, nil)

	// Centrifugo → comet: data arrives as a JSON string on the pipe.
	_, comet := cometSocket(t, srv, "c0", "news")
	centrifugoCall(t, srv, `{"method":"publish","params":{"channel":"news","data":{"text":"hi"}}}`)
	if m := comet(); string(m["pipe"]) != `"news"` || string(m["data"]) != `"{\"text\":\"hi\"}"` {
		t.Fatalf("comet got %v", m)
	}

	// comet → gRPC, REST, DRP and Centrifugo history.
	grpcStream, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"web_chat"}}}})
	rest := restStream(t, srv, `{"filters":[{"channels":["web_chat"]}]}`)
	drp := drpSocket(t, srv, "alice", "web_chat.*.*")
	sender, senderRead := cometSocket(t, srv, "c1")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := sender.Write(ctx, websocket.MessageText, []byte("web_pipe2\nweb_chat\nmsg\n*\nhello")); err != nil {
		t.Fatal(err)
	}
	if m := senderRead(); string(m["pipe"]) != `"_answer_to_web_chat"` {
		t.Fatalf("sender report %v", m)
	}
	if ev := next(t, grpcStream).GetEvent(); ev.Name != "msg" || ev.Data != `"hello"` {
		t.Fatalf("gRPC got %v", ev)
	}
	if ev := rest(); ev["name"] != "msg" || ev["data"] != `"hello"` {
		t.Fatalf("REST got %v", ev)
	}
	if m := readJSON(t, drp); string(m["Action"]) != `"msg"` || string(m["Object"]) != `"hello"` {
		t.Fatalf("DRP got %v", m)
	}
	if h := centrifugoCall(t, srv, `{"method":"history","params":{"channel":"web_chat"}}`); !strings.Contains(h, `"data":"hello"`) {
		t.Fatalf("centrifugo history: %s", h)
	}
}

// TestCometJSONMessageIsAnObject: a comet page's message text that is a
// compact JSON object (what JSON.stringify writes) reaches gRPC, REST, DRP
// and Centrifugo as that object, and other comet pages as the same text.
func TestCometJSONMessageIsAnObject(t *testing.T) {
	srv := apptest.Start(t, nil)
	const text = `{"src":"page","n":[1,2.5],"ok":true}`
	grpcStream, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"web_obj"}}}})
	rest := restStream(t, srv, `{"filters":[{"channels":["web_obj"]}]}`)
	drp := drpSocket(t, srv, "alice", "web_obj.*.*")
	_, reader := cometSocket(t, srv, "c2", "web_obj")
	sender, senderRead := cometSocket(t, srv, "c3")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := sender.Write(ctx, websocket.MessageText, []byte("web_pipe2\nweb_obj\nmsg\n*\n"+text)); err != nil {
		t.Fatal(err)
	}
	senderRead()
	if ev := next(t, grpcStream).GetEvent(); ev.Data != text {
		t.Fatalf("gRPC data %s, want the object %s", ev.Data, text)
	}
	if ev := rest(); ev["data"] != text {
		t.Fatalf("REST data %v, want the object", ev["data"])
	}
	if m := readJSON(t, drp); string(m["Object"]) != text {
		t.Fatalf("DRP Object %s, want the object %s", m["Object"], text)
	}
	if h := centrifugoCall(t, srv, `{"method":"history","params":{"channel":"web_obj"}}`); !strings.Contains(h, `"data":`+text) {
		t.Fatalf("centrifugo history: %s", h)
	}
	var back string
	if m := reader(); json.Unmarshal(m["data"], &back) != nil || back != text {
		t.Fatalf("comet page read back %s, want the text %s", m["data"], text)
	}
}
