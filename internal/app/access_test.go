package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// readAll runs every read RPC a user token may call on channel and returns
// each one's status code.
func readAll(t *testing.T, hub pb.HubServiceClient, channel string, p *pb.Principal) map[string]codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	out := map[string]codes.Code{}
	st, err := hub.Subscribe(ctx, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{channel}}}, OnBehalfOf: p})
	if err == nil {
		_, err = st.Recv()
	}
	out["Subscribe"] = status.Code(err)
	_, err = hub.History(ctx, &pb.HistoryRequest{Channel: channel, OnBehalfOf: p})
	out["History"] = status.Code(err)
	_, err = hub.Presence(ctx, &pb.PresenceRequest{Channel: channel, OnBehalfOf: p})
	out["Presence"] = status.Code(err)
	_, err = hub.PresenceStats(ctx, &pb.PresenceStatsRequest{Channel: channel, OnBehalfOf: p})
	out["PresenceStats"] = status.Code(err)
	return out
}

func expectCodes(t *testing.T, who, channel string, got map[string]codes.Code, want codes.Code) {
	t.Helper()
	for rpc, c := range got {
		if c != want {
			t.Errorf("%s %s %s: %v; want %v", who, rpc, channel, c, want)
		}
	}
}

// TestReadRulesOverGRPC: a user token reads the channels the core's rules
// open to it and is refused the others on every read RPC; an api-key caller
// reading on behalf of a principal gets the same answers; a user token
// cannot name a principal.
func TestReadRulesOverGRPC(t *testing.T) {
	srv := apptest.Start(t, nil)
	u42 := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, bearer(t, srv, "42")))
	u43 := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, bearer(t, srv, "43")))
	publish(t, srv.Hub, &pb.Event{Channel: "news#42", Data: "1"})

	tests := []struct {
		channel         string
		u42, u43, guest codes.Code
	}{
		{"news#42", codes.OK, codes.PermissionDenied, codes.PermissionDenied},
		{"dialog#42,43", codes.OK, codes.OK, codes.PermissionDenied},
		{"private_room", codes.OK, codes.OK, codes.PermissionDenied},
		{"$secret", codes.PermissionDenied, codes.PermissionDenied, codes.PermissionDenied},
		{"news", codes.OK, codes.OK, codes.OK},
	}
	for _, tt := range tests {
		expectCodes(t, "token 42", tt.channel, readAll(t, u42, tt.channel, nil), tt.u42)
		expectCodes(t, "token 43", tt.channel, readAll(t, u43, tt.channel, nil), tt.u43)
		expectCodes(t, "api key for 42", tt.channel, readAll(t, srv.Hub, tt.channel, &pb.Principal{User: "42", Authenticated: true}), tt.u42)
		expectCodes(t, "api key for 43", tt.channel, readAll(t, srv.Hub, tt.channel, &pb.Principal{User: "43", Authenticated: true}), tt.u43)
		// A guest that claims user 42 it could not prove.
		expectCodes(t, "api key for a guest", tt.channel, readAll(t, srv.Hub, tt.channel, &pb.Principal{User: "42"}), tt.guest)
		expectCodes(t, "api key", tt.channel, readAll(t, srv.Hub, tt.channel, nil), codes.OK)
	}
	expectCodes(t, "token naming a principal", "news", readAll(t, u43, "news", &pb.Principal{User: "42", Authenticated: true}), codes.PermissionDenied)

	// A stream of every channel delivers only what its reader may read.
	all := &pb.SubscribeRequest{Filters: []*pb.Filter{{}}}
	st43, _ := subscribe(t, u43, all)
	stGuest, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: all.Filters, OnBehalfOf: &pb.Principal{User: "42"}})
	stServer, _ := subscribe(t, srv.Hub, all)
	for _, ch := range []string{"news#42", "$secret", "private_room", "open"} {
		publish(t, srv.Hub, &pb.Event{Channel: ch, Data: "1"})
	}
	for name, c := range map[string]struct {
		st   pb.HubService_SubscribeClient
		want string
	}{
		"token 43": {st43, "private_room open"},
		"guest":    {stGuest, "open"},
		"api key":  {stServer, "news#42 $secret private_room open"},
	} {
		var got []string
		for len(got) == 0 || got[len(got)-1] != "open" {
			msg := next(t, c.st)
			got = append(got, msg.GetEvent().GetChannel())
			// The audience rides along for faces sharing the stream.
			if limited := msg.GetEvent().GetChannel() != "open"; limited != (msg.GetAudience() != nil) {
				t.Errorf("%s: %s came with audience %v", name, msg.GetEvent().GetChannel(), msg.GetAudience())
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s got %v; want %s", name, got, c.want)
		}
	}

	// A stream an api-key caller opens for a user is that user's session.
	subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"room"}}}, OnBehalfOf: &pb.Principal{User: "42", Authenticated: true}})
	p, err := srv.Hub.Presence(context.Background(), &pb.PresenceRequest{Channel: "room"})
	if err != nil || len(p.GetSessions()) != 1 || p.GetSessions()[0].GetUser() != "42" {
		t.Errorf("presence of room: %v, %v; want one session of user 42", p, err)
	}

	// Channels read for a principal leaves out what it may not read.
	chs, err := srv.Hub.Channels(context.Background(), &pb.ChannelsRequest{OnBehalfOf: &pb.Principal{User: "43", Authenticated: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chs.GetChannels() {
		if c.GetChannel() == "news#42" || c.GetChannel() == "$secret" {
			t.Errorf("channels for user 43 list %s", c.GetChannel())
		}
	}
}

// TestReadRulesOverREST: the same rules through the gateway with a bearer
// token: 403 for a channel limited to another user, 200 for one's own.
func TestReadRulesOverREST(t *testing.T) {
	srv := apptest.Start(t, nil)
	publish(t, srv.Hub, &pb.Event{Channel: "news#42", Data: "1"})
	call := func(user, path, body string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.HTTPURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+srv.Token(t, user))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if path == "/v1/subscribe" {
			// The first line: `subscribed`, or the error.
			line, _ := bufio.NewReader(resp.Body).ReadBytes('\n')
			return resp.StatusCode, string(line)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/v1/subscribe", "/v1/history", "/v1/presence", "/v1/presence_stats"} {
		body := `{"channel":"news#42"}`
		if path == "/v1/subscribe" {
			body = `{"filters":[{"channels":["news#42"]}]}`
		}
		if code, b := call("42", path, body); code != http.StatusOK || strings.Contains(b, `"error"`) {
			t.Errorf("user 42 %s: %d %s", path, code, b)
		}
		code, b := call("43", path, body)
		var e struct {
			Code  int
			Error struct{ Code int }
		}
		_ = json.Unmarshal([]byte(b), &e)
		if path == "/v1/subscribe" {
			// A stream's error comes as its first line.
			if e.Error.Code != int(codes.PermissionDenied) {
				t.Errorf("user 43 %s: %d %s; want a PermissionDenied line", path, code, b)
			}
		} else if code != http.StatusForbidden || e.Code != int(codes.PermissionDenied) {
			t.Errorf("user 43 %s: %d %s; want 403 PermissionDenied", path, code, b)
		}
	}
}
