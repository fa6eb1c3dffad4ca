package centrifugo

import (
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// The functions below turn decoded v1 params into the contract's requests
// (README mapping table "Centrifugo v1"). Every channel stays in the default
// tenant: the v1 API has no notion of tenants. Namespaces, the 255-byte
// channel limit and history/presence options are the core's business; its
// status codes come back through errors.go.

// publishRequest maps publish: channel → Event.channel, data → Event.data
// (verbatim bytes), client → Event.publisher.client, uid → Event.id.
func publishRequest(p *PublishParams) *pb.PublishRequest {
	return &pb.PublishRequest{Event: &pb.Event{
		Id:        p.UID,
		Channel:   p.Channel,
		Data:      string(p.Data),
		Publisher: publisher(p.Client),
	}}
}

// publishBatchRequest maps a run of publish commands as publishRequest
// maps each, in a few allocations: the messages in two arrays, the data
// in one string.
func publishBatchRequest(cmds []Command) *pb.PublishBatchRequest {
	n, size := len(cmds), 0
	for _, cmd := range cmds {
		size += len(cmd.Params.(*PublishParams).Data)
	}
	buf := make([]byte, 0, size)
	for _, cmd := range cmds {
		buf = append(buf, cmd.Params.(*PublishParams).Data...)
	}
	data := string(buf)
	reqs, evs := make([]pb.PublishRequest, n), make([]pb.Event, n)
	req := &pb.PublishBatchRequest{Requests: make([]*pb.PublishRequest, n)}
	for i, cmd := range cmds {
		p := cmd.Params.(*PublishParams)
		ev := &evs[i]
		ev.Id, ev.Channel, ev.Publisher = p.UID, p.Channel, publisher(p.Client)
		ev.Data, data = data[:len(p.Data)], data[len(p.Data):]
		reqs[i].Event = ev
		req.Requests[i] = &reqs[i]
	}
	return req
}

// broadcastRequest maps broadcast. v1 answers "invalid message"/"fix" for an
// empty channel list, missing data or an empty channel name before
// publishing anything; so does this face, whatever the core would say.
func broadcastRequest(p *BroadcastParams) (*pb.BroadcastRequest, error) {
	if len(p.Channels) == 0 || len(p.Data) == 0 {
		return nil, ErrInvalidMessage
	}
	for _, ch := range p.Channels {
		if ch == "" {
			return nil, ErrInvalidMessage
		}
	}
	return &pb.BroadcastRequest{
		Channels: p.Channels,
		Event:    &pb.Event{Data: string(p.Data), Publisher: publisher(p.Client)},
	}, nil
}

// publisher is nil for a server-side publish without a client id, so the
// event carries no empty Publisher message.
func publisher(client string) *pb.Publisher {
	if client == "" {
		return nil
	}
	return &pb.Publisher{Client: client}
}

// unsubscribeRequest maps unsubscribe; v1 requires the user and takes an
// empty channel to mean every channel, as the contract does.
func unsubscribeRequest(p *UnsubscribeParams) (*pb.UnsubscribeRequest, error) {
	if p.User == "" {
		return nil, ErrInvalidMessage
	}
	return &pb.UnsubscribeRequest{User: p.User, Channel: p.Channel}, nil
}

// disconnectRequest maps disconnect; v1's API disconnect carries no reason.
func disconnectRequest(p *DisconnectParams) (*pb.DisconnectRequest, error) {
	if p.User == "" {
		return nil, ErrInvalidMessage
	}
	return &pb.DisconnectRequest{User: p.User}, nil
}

// presenceRequest maps presence.
func presenceRequest(p *ChannelParams) (*pb.PresenceRequest, error) {
	if p.Channel == "" {
		return nil, ErrInvalidMessage
	}
	return &pb.PresenceRequest{Channel: p.Channel}, nil
}

// historyRequest maps history: v1 lists the whole kept history newest first.
func historyRequest(p *ChannelParams) (*pb.HistoryRequest, error) {
	if p.Channel == "" {
		return nil, ErrInvalidMessage
	}
	return &pb.HistoryRequest{Channel: p.Channel, Reverse: true}, nil
}
