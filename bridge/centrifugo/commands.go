package centrifugo

import (
	"context"
	"log/slog"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Executor runs decoded commands against the core. It is the one place where
// a v1 command becomes RPCs and a reply: the HTTP handler and the Redis
// queue consumer both call Execute.
type Executor struct {
	hub pb.HubServiceClient
	log *slog.Logger
}

// NewExecutor returns an executor calling hub.
func NewExecutor(hub pb.HubServiceClient, log *slog.Logger) *Executor {
	if log == nil {
		log = slog.Default()
	}
	return &Executor{hub: hub, log: log}
}

// Execute runs one command and returns its reply. It never fails as a
// whole: every error is a reply error from errors.go, so a batch goes on
// with the next command as v1 does.
func (e *Executor) Execute(ctx context.Context, cmd Command) Reply {
	body, failBody, err := e.run(ctx, cmd)
	r := Reply{UID: cmd.UID, Method: cmd.Method, Body: body}
	if err != nil {
		e.fail(&r, err, failBody)
	}
	return r
}

// fail makes r the reply of a command that failed with err.
func (e *Executor) fail(r *Reply, err error, failBody []byte) {
	re := toReplyError(err)
	if re == internalReplyError {
		// The text stays in the log; the client sees v1's generic error.
		e.log.Warn("centrifugo api command failed", "method", r.Method, "err", err)
	}
	r.Error, r.Advice, r.Body = re.text, re.advice, failBody
}

// ExecuteAll runs a batch's commands in order and appends their replies to
// dst. What each command does and answers is what Execute would do and
// answer, one command after the other; but a run of successive publish
// commands reaches the core in one PublishBatch call, which stops where
// the commands one by one would first have failed (hub.proto), so the
// commands after it are run again from there.
func (e *Executor) ExecuteAll(ctx context.Context, cmds []Command, dst []Reply) []Reply {
	for i := 0; i < len(cmds); {
		j := i
		for j < len(cmds) && j-i < maxPublishRun && isPublish(cmds[j]) {
			j++
		}
		if j-i < 2 {
			dst = append(dst, e.Execute(ctx, cmds[i]))
			i++
			continue
		}
		dst = e.publishRun(ctx, cmds[i:j], dst)
		i = j
	}
	return dst
}

// maxPublishRun bounds the events of one PublishBatch call, well under
// the core's limit (hub.proto): a longer run takes several calls.
const maxPublishRun = 1000

// isPublish reports whether cmd is a publish that PublishBatch can carry.
func isPublish(cmd Command) bool {
	_, ok := cmd.Params.(*PublishParams)
	return ok && cmd.Method == MethodPublish
}

// publishRun publishes a run of publish commands with one PublishBatch.
func (e *Executor) publishRun(ctx context.Context, cmds []Command, dst []Reply) []Reply {
	req := publishBatchRequest(cmds)
	_, err := e.hub.PublishBatch(ctx, req)
	stop := len(cmds)
	if err != nil {
		var ok bool
		if stop, ok = stoppedAt(err, len(cmds)); !ok {
			if status.Code(err) == codes.Unimplemented {
				// A core without PublishBatch: the commands one by one.
				for _, cmd := range cmds {
					dst = append(dst, e.Execute(ctx, cmd))
				}
				return dst
			}
			// Refused as a whole (credentials, a closed connection): each
			// command would have been refused the same way.
			for _, cmd := range cmds {
				r := Reply{UID: cmd.UID, Method: cmd.Method}
				e.fail(&r, err, nil)
				dst = append(dst, r)
			}
			return dst
		}
	}
	for _, cmd := range cmds[:stop] {
		dst = append(dst, Reply{UID: cmd.UID, Method: cmd.Method})
	}
	if stop == len(cmds) {
		return dst
	}
	r := Reply{UID: cmds[stop].UID, Method: cmds[stop].Method}
	e.fail(&r, err, nil)
	dst = append(dst, r)
	return e.ExecuteAll(ctx, cmds[stop+1:], dst)
}

// stoppedAt reads which event a failed PublishBatch stopped at (hub.proto:
// an ErrorInfo with reason PUBLISH_BATCH_STOPPED and metadata "index").
func stoppedAt(err error, n int) (int, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetReason() != "PUBLISH_BATCH_STOPPED" {
			continue
		}
		i, err := strconv.Atoi(info.GetMetadata()["index"])
		if err != nil || i < 0 || i >= n {
			return 0, false
		}
		return i, true
	}
	return 0, false
}

// run calls the core for cmd. It returns the success body, the body to send
// instead when err is set, and err.
func (e *Executor) run(ctx context.Context, cmd Command) (body, failBody []byte, err error) {
	switch p := cmd.Params.(type) {
	case *PublishParams:
		if cmd.Method == MethodPublish {
			_, err = e.hub.Publish(ctx, publishRequest(p))
			return nil, nil, err
		}
	case *BroadcastParams:
		if cmd.Method == MethodBroadcast {
			return nil, nil, e.broadcast(ctx, p)
		}
	case *UnsubscribeParams:
		if cmd.Method == MethodUnsubscribe {
			req, err := unsubscribeRequest(p)
			if err == nil {
				_, err = e.hub.Unsubscribe(ctx, req)
			}
			return nil, nil, err
		}
	case *DisconnectParams:
		if cmd.Method == MethodDisconnect {
			req, err := disconnectRequest(p)
			if err == nil {
				_, err = e.hub.Disconnect(ctx, req)
			}
			return nil, nil, err
		}
	case *ChannelParams:
		switch cmd.Method {
		case MethodPresence:
			return e.presence(ctx, p)
		case MethodHistory:
			return e.history(ctx, p)
		}
	case nil:
		switch cmd.Method {
		case MethodChannels:
			return e.channels(ctx)
		case MethodStats:
			return e.stats(ctx)
		case MethodNode:
			return e.node(ctx)
		}
	}
	// Only a caller building Commands by hand gets here: the decoder never
	// produces an unknown method or params that do not fit the method.
	if !knownMethod(cmd.Method) {
		return nil, nil, ErrMethodNotFound
	}
	return nil, nil, ErrInvalidMessage
}

// broadcast publishes into every channel in order and stops at the first
// error, which becomes the reply's error (the core's Broadcast has exactly
// these semantics; the notes' "first error" rule).
func (e *Executor) broadcast(ctx context.Context, p *BroadcastParams) error {
	req, err := broadcastRequest(p)
	if err != nil {
		return err
	}
	_, err = e.hub.Broadcast(ctx, req)
	return err
}

func (e *Executor) presence(ctx context.Context, p *ChannelParams) (body, failBody []byte, err error) {
	failBody = channelErrorBody(p.Channel)
	req, err := presenceRequest(p)
	if err != nil {
		return nil, failBody, err
	}
	resp, err := e.hub.Presence(ctx, req)
	if err != nil {
		return nil, failBody, err
	}
	return presenceBody(p.Channel, resp.GetSessions()), nil, nil
}

func (e *Executor) history(ctx context.Context, p *ChannelParams) (body, failBody []byte, err error) {
	failBody = channelErrorBody(p.Channel)
	req, err := historyRequest(p)
	if err != nil {
		return nil, failBody, err
	}
	resp, err := e.hub.History(ctx, req)
	if err != nil {
		return nil, failBody, err
	}
	return historyBody(p.Channel, resp.GetEvents()), nil, nil
}

func (e *Executor) channels(ctx context.Context) (body, failBody []byte, err error) {
	resp, err := e.hub.Channels(ctx, &pb.ChannelsRequest{})
	if err != nil {
		return nil, dataErrorBody, err
	}
	return channelsBody(resp.GetChannels()), nil, nil
}

func (e *Executor) stats(ctx context.Context) (body, failBody []byte, err error) {
	resp, err := e.hub.Stats(ctx, &pb.StatsRequest{})
	if err != nil {
		return nil, dataErrorBody, err
	}
	return statsBody(resp.GetNodes()), nil, nil
}

func (e *Executor) node(ctx context.Context) (body, failBody []byte, err error) {
	resp, err := e.hub.Node(ctx, &pb.NodeRequest{})
	if err != nil {
		return nil, dataErrorBody, err
	}
	return nodeBody(resp.GetNode()), nil, nil
}
