package app_test

import (
	"net/http"
	"strings"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// TestRESTPublishBatch: POST /v1/publish_batch publishes every event in
// order; a bad event stops the batch with its own error and its index.
func TestRESTPublishBatch(t *testing.T) {
	srv := apptest.Start(t, nil)
	st, _ := subscribe(t, srv.Hub, &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"a", "b"}}}})
	code, body := rest(t, srv, "/v1/publish_batch",
		`{"requests":[{"event":{"channel":"a","data":"1"}},{"event":{"channel":"b","data":"2"}},{"event":{"channel":"a","data":"3"}}]}`)
	if code != http.StatusOK || strings.Count(body, `"offset"`) != 3 || !strings.Contains(body, `"offset":"2"`) {
		t.Fatalf("REST publish_batch: %d %s", code, body)
	}
	for _, want := range []string{"1", "2", "3"} {
		if got := next(t, st).GetEvent().GetData(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	code, body = rest(t, srv, "/v1/publish_batch",
		`{"requests":[{"event":{"channel":"a","data":"4"}},{"event":{"channel":"a","data":"{"}},{"event":{"channel":"a","data":"6"}}]}`)
	if code != http.StatusBadRequest || !strings.Contains(body, `"PUBLISH_BATCH_STOPPED"`) || !strings.Contains(body, `"index":"1"`) ||
		!strings.Contains(body, `requests[1].event.data`) {
		t.Fatalf("REST publish_batch with a bad event: %d %s", code, body)
	}
	if got := next(t, st).GetEvent().GetData(); got != "4" {
		t.Fatalf("got %q, want the event before the bad one", got)
	}
	// Nothing after the bad event: the next event is this marker.
	rest(t, srv, "/v1/publish", `{"channel":"b","data":"\"marker\""}`)
	if got := next(t, st).GetEvent().GetData(); got != `"marker"` {
		t.Fatalf("got %q, want the marker", got)
	}
}
