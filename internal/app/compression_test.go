package app_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// The gRPC calls of these tests are written by hand over HTTP/2, with
// `grpc-encoding: gzip` and gzip-compressed message frames, the way stubs of
// other languages send them when compression is on. A Go gRPC client in this
// test binary would register the gzip codec in the same process as the
// server and hide a server that does not register it.

// grpcGzipCall starts a call of method with one gzip-compressed request
// message and returns the response (its body yields the reply frames).
func grpcGzipCall(t *testing.T, ctx context.Context, srv *apptest.Server, method string, req proto.Message) *http.Response {
	t.Helper()
	msg, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(msg)
	_ = zw.Close()
	body := make([]byte, 5, 5+zipped.Len())
	body[0] = 1 // compressed
	binary.BigEndian.PutUint32(body[1:], uint32(zipped.Len()))
	body = append(body, zipped.Bytes()...)

	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+srv.GRPCAddr+method, bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/grpc")
	hr.Header.Set("TE", "trailers")
	hr.Header.Set("grpc-encoding", "gzip")
	hr.Header.Set("grpc-accept-encoding", "gzip")
	hr.Header.Set("authorization", "apikey "+apptest.TestSecret)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(hr)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d", method, resp.StatusCode)
	}
	if st := resp.Header.Get("grpc-status"); st != "" {
		// A trailers-only answer: the call failed before any message.
		t.Fatalf("%s: grpc-status %s %q", method, st, resp.Header.Get("grpc-message"))
	}
	if enc := resp.Header.Get("grpc-encoding"); enc != "gzip" {
		t.Fatalf("%s: response grpc-encoding %q, want gzip", method, enc)
	}
	return resp
}

// readGzipFrame reads one reply message, which must be gzip-compressed.
func readGzipFrame(t *testing.T, r io.Reader, into proto.Message) {
	t.Helper()
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		t.Fatalf("reading a reply frame: %v", err)
	}
	if head[0] != 1 {
		t.Fatalf("reply frame flag %d, want 1 (compressed)", head[0])
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n > 1<<20 {
		t.Fatalf("reply frame of %d bytes", n)
	}
	zipped := make([]byte, n)
	if _, err := io.ReadFull(r, zipped); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(msg, into); err != nil {
		t.Fatal(err)
	}
}

// grpcStatus reads the call to its end and returns its grpc-status trailer.
func grpcStatus(t *testing.T, resp *http.Response) string {
	t.Helper()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %s", resp.Trailer.Get("grpc-status"), resp.Trailer.Get("grpc-message"))
}

func TestGzipCompressedCalls(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	// A server stream, compressed both ways.
	stream := grpcGzipCall(t, ctx, srv, "/switchboard.v1.HubService/Subscribe",
		&pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"zipped"}}}})
	var first pb.SubscribeResponse
	readGzipFrame(t, stream.Body, &first)
	if first.GetSubscribed() == nil {
		t.Fatalf("first stream message %v, want subscribed", &first)
	}

	// A unary call, compressed both ways; the stream receives its event.
	unary := grpcGzipCall(t, ctx, srv, "/switchboard.v1.HubService/Publish",
		&pb.PublishRequest{Event: &pb.Event{Channel: "zipped", Name: "n", Data: `{"big":"` + string(bytes.Repeat([]byte("z"), 4096)) + `"}`}})
	var pub pb.PublishResponse
	readGzipFrame(t, unary.Body, &pub)
	if st := grpcStatus(t, unary); st != "0 " {
		t.Fatalf("publish status %q, want 0", st)
	}
	if pub.GetId() == "" {
		t.Fatalf("publish answered %v", &pub)
	}

	var got pb.SubscribeResponse
	for {
		readGzipFrame(t, stream.Body, &got)
		if got.GetHeartbeat() == nil {
			break
		}
	}
	if got.GetEvent().GetId() != pub.GetId() || len(got.GetEvent().GetData()) != 4096+10 {
		t.Fatalf("stream delivered %v, want the published event", got.GetEvent())
	}
}
