package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/rueidis"

	"github.com/switchboard-hub/switchboard/services/engine"
)

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		err     error
		outage  bool
		comment string
	}{
		{refused, true, "connection refused"},
		{io.EOF, true, "connection closed"},
		{rueidis.ErrClosing, true, "client reconnecting"},
		{errLinkDown, true, "pub/sub link down"},
		{fmt.Errorf("redis: publish: %w", syscall.ECONNRESET), true, "reset, wrapped"},
		{errReply, false, "a reply that makes no sense is a bug"},
		{errors.New("proto: cannot parse"), false, "decoding is a bug"},
		{context.Canceled, false, "the caller gave up"},
		{context.DeadlineExceeded, false, "the caller's deadline"},
		{engine.ErrClosed, false, "closed is shutdown, not an outage"},
	}
	for _, tc := range tests {
		got := errors.Is(failf("redis: op: %w", tc.err), engine.ErrUnavailable)
		if got != tc.outage {
			t.Errorf("%s (%v): outage = %v, want %v", tc.comment, tc.err, got, tc.outage)
		}
		if got && !errors.Is(failf("redis: op: %w", tc.err), tc.err) {
			t.Errorf("%s: the cause is lost", tc.comment)
		}
	}
}
