package comet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/streamable"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// The stream is AdminService.StreamEvents for services: over gRPC and as
// NDJSON over REST, with an api key; a user token is refused.
func TestStreamForServices(t *testing.T) {
	s := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	admin := pb.NewAdminServiceClient(s.Conn)

	stream, err := admin.StreamEvents(ctx, &pb.StreamEventsRequest{AllowList: []int32{4900}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || r.GetEvent().GetType() != int32(streamable.MetaHello) {
		t.Fatalf("first gRPC event %v, %v", r, err)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTPURL+"/v1/admin/events/stream", strings.NewReader(`{"allow_list":[4900]}`))
	req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	nextREST := func() *pb.StreamableEvent {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("REST stream ended: %v", lines.Err())
		}
		var line struct {
			Result struct {
				Event struct {
					Type int32  `json:"type"`
					Data string `json:"data"`
				} `json:"event"`
			} `json:"result"`
		}
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Fatalf("REST line %q: %v", lines.Text(), err)
		}
		return &pb.StreamableEvent{Type: line.Result.Event.Type, Data: line.Result.Event.Data}
	}
	if ev := nextREST(); ev.Type != int32(streamable.MetaHello) {
		t.Fatalf("first REST event %v", ev)
	}

	publish(t, s, &pb.Event{Channel: "svc", Data: `"x"`})
	if r, err := stream.Recv(); err != nil || r.GetEvent().GetType() != int32(streamable.HubEvent) || !strings.Contains(r.GetEvent().GetData(), `"svc"`) {
		t.Fatalf("gRPC event %v, %v", r, err)
	}
	if ev := nextREST(); ev.Type != int32(streamable.HubEvent) || !strings.Contains(ev.Data, `"svc"`) {
		t.Fatalf("REST event %v", ev)
	}

	// Users with a token are no services.
	user := pb.NewAdminServiceClient(apptest.Dial(t, s.GRPCAddr, auth.Bearer(s.Token(t, "42"))))
	us, err := user.StreamEvents(ctx, &pb.StreamEventsRequest{})
	if err == nil {
		_, err = us.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("user token: %v, want PermissionDenied", err)
	}
	bad, err := admin.StreamEvents(ctx, &pb.StreamEventsRequest{AllowList: []int32{12}})
	if err == nil {
		_, err = bad.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("allow_list 12: %v, want InvalidArgument", err)
	}
}
