package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Bounds of a live-events request.
const (
	maxFilterValues = 64
	maxSince        = 256
)

func list(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// events streams matching events as Server-Sent Events: "subscribed" once,
// then one "message" per event (the canonical Event in the REST face's
// JSON), comments as heartbeats, and a last "error" event when the stream
// fails. The page resumes after a reconnect with since=[ChannelPosition...]
// built from the positions it saw.
func (c *Console) events(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	f := &pb.Filter{Tenant: q.Get("tenant"), Channels: list(q.Get("channels")), Names: list(q.Get("names")), Keys: list(q.Get("keys"))}
	if len(f.Channels)+len(f.Names)+len(f.Keys) > maxFilterValues {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("at most %d filter values", maxFilterValues))
		return
	}
	req := &pb.SubscribeRequest{Filters: []*pb.Filter{f}}
	if s := q.Get("since"); s != "" {
		var raw []json.RawMessage
		if err := json.Unmarshal([]byte(s), &raw); err != nil || len(raw) > maxSince {
			writeError(w, http.StatusBadRequest, "since: a JSON array of at most 256 channel positions")
			return
		}
		for _, m := range raw {
			var p pb.ChannelPosition
			if err := unmarshal.Unmarshal(m, &p); err != nil {
				writeError(w, http.StatusBadRequest, "since: "+err.Error())
				return
			}
			req.Since = append(req.Since, &p)
		}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming not supported")
		return
	}
	hub, ctx := c.hub(r.Context(), sess)
	stream, err := hub.Subscribe(ctx, req)
	if err != nil {
		writeStatus(w, err)
		return
	}
	first, err := stream.Recv()
	if err != nil {
		writeStatus(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	for m := first; ; {
		switch p := m.GetPayload().(type) {
		case *pb.SubscribeResponse_Subscribed:
			b, _ := marshal.Marshal(p.Subscribed)
			fmt.Fprintf(w, "event: subscribed\ndata: %s\n\n", b)
		case *pb.SubscribeResponse_Event:
			b, _ := marshal.Marshal(p.Event)
			fmt.Fprintf(w, "data: %s\n\n", b)
		case *pb.SubscribeResponse_Unsubscribed:
			b, _ := marshal.Marshal(p.Unsubscribed)
			fmt.Fprintf(w, "event: unsubscribed\ndata: %s\n\n", b)
		case *pb.SubscribeResponse_Heartbeat:
			fmt.Fprint(w, ": heartbeat\n\n")
		}
		flusher.Flush()
		if m, err = stream.Recv(); err != nil {
			if r.Context().Err() == nil {
				st := status.Convert(err)
				b, _ := json.Marshal(apiError{Error: st.Message(), Reason: st.Code().String()})
				fmt.Fprintf(w, "event: error\ndata: %s\n\n", b)
				flusher.Flush()
			}
			return
		}
	}
}
