package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// A request to one session travels through the engine as a control order
// (engine.ControlCommand or ControlQuery) to every node; the node that holds
// the session answers with an engine.ControlReply carrying the request's
// id, which the waiting node hands to its caller. So a relay works the same
// on one node (memory engine) and across nodes (Redis engine).

// Relay timeouts (SendCommandRequest.timeout).
const (
	defaultCommandTimeout = 10 * time.Second
	maxCommandTimeout     = 180 * time.Second
	// queryTimeout bounds a ListSubscriptions answered by another node.
	queryTimeout = 5 * time.Second
)

// Tags of a reply payload: what the answering node says.
const (
	replyCommand       byte = iota // pb.ReplyCommandRequest: the session's answer
	replySubscriptions             // pb.ListSubscriptionsResponse
	replyNoCommands                // the session's face takes no commands
	replyUnavailable               // the session's edge could not be reached
)

// waiters are this node's requests waiting for their reply, by request id.
type waiters struct {
	mu sync.Mutex
	m  map[string]chan []byte
}

func (w *waiters) add(id string) chan []byte {
	ch := make(chan []byte, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]chan []byte{}
	}
	w.m[id] = ch
	return ch
}

func (w *waiters) remove(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, id)
}

// deliver hands a reply to its waiter, if it still waits. It never blocks:
// a second reply to the same request is dropped.
func (w *waiters) deliver(id string, payload []byte) {
	w.mu.Lock()
	ch := w.m[id]
	w.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- payload:
	default:
	}
}

// ask sends a request to the node that holds the session and waits for the
// reply (its tag and body) until timeout or ctx ends.
func (h *Hub) ask(ctx context.Context, kind engine.ControlKind, tenant, sessionID string, payload []byte, timeout time.Duration) (byte, []byte, error) {
	id := engine.NewID()
	ch := h.dir.waiting.add(id)
	defer h.dir.waiting.remove(id)
	c := &engine.Control{Kind: kind, Tenant: tenant, Session: sessionID,
		Request: &engine.Request{ID: id, Node: h.node.Id, Payload: payload}}
	if err := h.eng.PublishControl(ctx, c); err != nil {
		return 0, nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case p := <-ch:
		if len(p) == 0 {
			return 0, nil, fmt.Errorf("empty reply: %w", errBadReply)
		}
		return p[0], p[1:], nil
	case <-t.C:
		return 0, nil, errNoAnswer
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	case <-h.closing:
		return 0, nil, errShutdown
	}
}

// handleRequest applies a request order or a reply from the engine. It runs
// inside the engine's handler: it must not block or call the engine, so
// answers are published from a goroutine of their own.
func (h *Hub) handleRequest(c *engine.Control) {
	r := c.Request
	if r == nil {
		return
	}
	if c.Kind == engine.ControlReply {
		h.dir.waiting.deliver(r.ID, r.Payload)
		return
	}
	s := h.reg.get(c.Session)
	if s == nil || s.info.Tenant != c.Tenant {
		return // another node's session, or none
	}
	switch c.Kind {
	case engine.ControlQuery:
		b, err := proto.Marshal(&pb.ListSubscriptionsResponse{Subscriptions: h.dir.subscriptions(s.info.Id)})
		if err != nil {
			h.log.Error("subscriptions not encoded", "err", err)
			return
		}
		go h.reply(r, replySubscriptions, b)
	case engine.ControlCommand:
		order := &pb.CommandOrder{}
		if err := proto.Unmarshal(r.Payload, order); err != nil {
			h.log.Error("undecodable command order", "err", err)
			return
		}
		order.Id = r.ID
		if s.edge == "" {
			go h.reply(r, replyNoCommands, nil)
			return
		}
		if !h.reg.sendOrder(s, &pb.ControlResponse{SessionId: s.info.Id, Order: &pb.ControlResponse_Command{Command: order}}) {
			droppedOrdersTotal.Inc()
			go h.reply(r, replyUnavailable, nil)
		}
	}
}

// reply publishes the answer to a request.
func (h *Hub) reply(r *engine.Request, tag byte, body []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	c := &engine.Control{Kind: engine.ControlReply, Request: &engine.Request{ID: r.ID, Node: r.Node, Payload: append([]byte{tag}, body...)}}
	if err := h.eng.PublishControl(ctx, c); err != nil {
		h.log.Warn("reply to a session request not sent", "err", err)
	}
}

// ReplyCommand implements pb.SessionServiceServer: an edge answers a
// CommandOrder. The answer goes to every node; the one waiting takes it.
func (s *SessionServer) ReplyCommand(ctx context.Context, req *pb.ReplyCommandRequest) (*pb.ReplyCommandResponse, error) {
	if req.Id == "" {
		return nil, s.h.toStatus(invalid("id", "id is required"))
	}
	if req.Error == nil && req.Data != "" && !json.Valid([]byte(req.Data)) {
		return nil, s.h.toStatus(invalid("data", "data is not one JSON value"))
	}
	if len(req.Data)+len(req.GetError().GetMessage()) > s.h.opts.MaxPayload {
		return nil, s.h.toStatus(invalid("data", "reply is larger than %d bytes", s.h.opts.MaxPayload))
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, s.h.toStatus(err)
	}
	c := &engine.Control{Kind: engine.ControlReply, Request: &engine.Request{ID: req.Id, Payload: append([]byte{replyCommand}, b...)}}
	if err := s.h.eng.PublishControl(ctx, c); err != nil {
		return nil, s.h.toStatus(err)
	}
	return &pb.ReplyCommandResponse{}, nil
}

var errBadReply = errors.New("malformed reply from another node")
