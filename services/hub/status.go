package hub

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Why the server ended a stream.
var unsubscribedError = status.Error(codes.Aborted, "unsubscribed by the server from every channel")

func disconnectedError(reason string) error {
	if reason == "" {
		reason = "disconnected by the server"
	}
	return status.Error(codes.Aborted, "disconnected: "+reason)
}

func nowTimestamp() *timestamppb.Timestamp { return timestamppb.Now() }

var errReplaced = status.Error(codes.Aborted, "another Control stream was opened for this edge")
