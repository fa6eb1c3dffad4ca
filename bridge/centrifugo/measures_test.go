package centrifugo_test

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// flatNode is the seed's (pre-1.6) node object.
type flatNode struct {
	Gomaxprocs        uint64            `json:"gomaxprocs"`
	NumCPU            uint64            `json:"num_cpu"`
	NumMsgQueued      uint64            `json:"num_msg_queued"`
	NumAPIRequests    uint64            `json:"num_api_requests"`
	NumClientRequests uint64            `json:"num_client_requests"`
	BytesClientIn     uint64            `json:"bytes_client_in"`
	BytesClientOut    uint64            `json:"bytes_client_out"`
	CPUUsage          uint64            `json:"cpu_usage"`
	Metrics           map[string]uint64 `json:"metrics"`
}

func nodeOf(t *testing.T, srv *apptest.Server) flatNode {
	t.Helper()
	var r []struct {
		Body struct {
			Data flatNode `json:"data"`
		} `json:"body"`
	}
	reply := api(t, srv, `{"method":"node"}`)
	if err := json.Unmarshal([]byte(reply), &r); err != nil || len(r) != 1 {
		t.Fatalf("node reply %s: %v", reply, err)
	}
	return r[0].Body.Data
}

// TestNodeMeasures: the seed's node keys carry measured values: the
// process's GOMAXPROCS and CPUs, its CPU usage, the API requests, client
// requests and client bytes it served, the messages it queued.
func TestNodeMeasures(t *testing.T) {
	srv := apptest.Start(t, nil)
	before := nodeOf(t, srv)

	// Traffic: a comet page exchanges frames, a user-token gRPC call, a
	// publication that is queued to the page's pipe.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WSURL+"/ws/sesion=undefined&myid=0&devid=0&v=4.08&uuid=m&api=js", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx); err != nil { // serverInfo
		t.Fatal(err)
	}
	const frames = 3
	for range frames {
		if err := ws.Write(ctx, websocket.MessageText, []byte("subscription\nweb_m\nuser_data\nm\n1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("user_data\nm\n1")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); err != nil { // user_data's answer: every frame before it was read
		t.Fatal(err)
	}
	user := pb.NewHubServiceClient(apptest.Dial(t, srv.GRPCAddr, auth.Bearer(srv.Token(t, "42"))))
	if _, err := user.Presence(ctx, &pb.PresenceRequest{Channel: "web_m"}); err != nil {
		t.Fatal(err)
	}
	api(t, srv, `{"method":"publish","params":{"channel":"web_m","data":"x"}}`)
	if _, _, err := ws.Read(ctx); err != nil { // the publication
		t.Fatal(err)
	}

	after := nodeOf(t, srv)
	if after.Gomaxprocs != uint64(runtime.GOMAXPROCS(0)) || after.NumCPU != uint64(runtime.NumCPU()) {
		t.Fatalf("gomaxprocs %d num_cpu %d, want %d %d", after.Gomaxprocs, after.NumCPU, runtime.GOMAXPROCS(0), runtime.NumCPU())
	}
	// Counters are per process; other tests may run beside this one, so
	// each grew by at least this test's own traffic.
	if got := after.NumAPIRequests - before.NumAPIRequests; got < 2 { // the first node call, the publish
		t.Fatalf("num_api_requests grew by %d, want at least 2", got)
	}
	if got := after.NumClientRequests - before.NumClientRequests; got < frames+2 {
		t.Fatalf("num_client_requests grew by %d, want at least %d", got, frames+2)
	}
	if after.BytesClientIn-before.BytesClientIn < uint64(frames*len("subscription\nweb_m\nuser_data\nm\n1")) ||
		after.BytesClientOut-before.BytesClientOut < 100 {
		t.Fatalf("bytes in %d→%d out %d→%d: want this test's frames counted", before.BytesClientIn, after.BytesClientIn,
			before.BytesClientOut, after.BytesClientOut)
	}
	if after.NumMsgQueued <= before.NumMsgQueued || after.CPUUsage == 0 {
		t.Fatalf("num_msg_queued %d→%d, cpu_usage %d: want both measured", before.NumMsgQueued, after.NumMsgQueued, after.CPUUsage)
	}
	m := after.Metrics
	if m["http_api_num_requests"] != after.NumAPIRequests || m["client_bytes_in"] != after.BytesClientIn ||
		m["client_bytes_out"] != after.BytesClientOut || m["node_cpu_usage"] != after.CPUUsage {
		t.Fatalf("metrics %v disagree with the flat keys %+v", m, after)
	}
}
