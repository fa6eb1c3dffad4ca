package webhook

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Server implements pb.WebhookServiceServer on a Service.
type Server struct {
	pb.UnimplementedWebhookServiceServer
	s *Service
}

// Server returns the service's gRPC implementation.
func (s *Service) Server() *Server { return &Server{s: s} }

// GetWebhookOptions implements pb.WebhookServiceServer.
func (v *Server) GetWebhookOptions(context.Context, *pb.GetWebhookOptionsRequest) (*pb.GetWebhookOptionsResponse, error) {
	return &pb.GetWebhookOptionsResponse{WebhookOptions: ToProto(v.s.Endpoints())}, nil
}

// SetWebhookOptions implements pb.WebhookServiceServer.
func (v *Server) SetWebhookOptions(ctx context.Context, req *pb.SetWebhookOptionsRequest) (*pb.SetWebhookOptionsResponse, error) {
	eps := FromProto(req.GetWebhookOptions())
	if err := Validate(eps); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := v.s.SetEndpoints(ctx, eps); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errStopped) {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &pb.SetWebhookOptionsResponse{}, nil
}

// ListWebhooks implements pb.WebhookServiceServer.
func (v *Server) ListWebhooks(ctx context.Context, _ *pb.ListWebhooksRequest) (*pb.ListWebhooksResponse, error) {
	list, err := v.s.List(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "webhook queues: %v", err)
	}
	out := &pb.ListWebhooksResponse{}
	for _, st := range list {
		ws := &pb.WebhookStatus{
			Name: st.Name, Option: optionToProto(st.Endpoint), Queued: uint64(st.Queued),
			Delivered: st.Delivered, Retried: st.Retried, DeadLettered: st.DeadLettered, LastError: st.LastError,
		}
		if !st.LastErrorAt.IsZero() {
			ws.LastErrorTime = timestamppb.New(st.LastErrorAt)
		}
		out.Webhooks = append(out.Webhooks, ws)
	}
	return out, nil
}

// ToProto converts an option map to its contract form.
func ToProto(eps map[string]Endpoint) map[string]*pb.WebhookOption {
	out := make(map[string]*pb.WebhookOption, len(eps))
	for name, e := range eps {
		out[name] = optionToProto(e)
	}
	return out
}

func optionToProto(e Endpoint) *pb.WebhookOption {
	o := &pb.WebhookOption{Url: e.URL, Level: e.Level, CustomHeaders: e.CustomHeaders, Parallel: uint32(max(e.Parallel, 0))}
	for _, t := range e.WhiteListedEventTypes {
		o.WhiteListedEventTypes = append(o.WhiteListedEventTypes, int32(t))
	}
	return o
}

// FromProto converts the contract form to an option map.
func FromProto(m map[string]*pb.WebhookOption) map[string]Endpoint {
	out := make(map[string]Endpoint, len(m))
	for name, o := range m {
		e := Endpoint{URL: o.GetUrl(), Level: o.GetLevel(), CustomHeaders: o.GetCustomHeaders(), WhiteListedEventTypes: []int{}, Parallel: int(min(o.GetParallel(), MaxParallel+1))}
		for _, t := range o.GetWhiteListedEventTypes() {
			e.WhiteListedEventTypes = append(e.WhiteListedEventTypes, int(t))
		}
		out[name] = e
	}
	return out
}
