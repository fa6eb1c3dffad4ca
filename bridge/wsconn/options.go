package wsconn

import (
	"log/slog"
	"time"
)

// Defaults for AcceptOptions fields left at zero.
const (
	// DefaultQueueSize is how many frames may wait for one socket before it
	// is cut off as a slow consumer.
	DefaultQueueSize = 1024
	// DefaultQueueBytes bounds the bytes waiting for one socket. Frames are
	// shared, so this is not memory spent per socket, but a lagging socket
	// keeps old frames from being collected; the bound caps that.
	DefaultQueueBytes = 16 << 20
	// DefaultReadLimit is the largest message Read accepts (the websocket
	// library's own default). Larger messages close the socket with
	// StatusMessageTooBig.
	DefaultReadLimit = 32 << 10
	// DefaultWriteTimeout is how long one frame may take to be written
	// before the socket is dropped.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMessageTimeout is how long a client message may take from its
	// first byte to its last; a socket that stops mid-message is dropped.
	DefaultMessageTimeout = 10 * time.Second
	// unknownFace labels metrics of connections accepted without a face name.
	unknownFace = "unknown"
)

// AcceptOptions configure Accept. The zero value is usable.
type AcceptOptions struct {
	// OriginPatterns lists host patterns (path.Match syntax, matched against
	// the Origin host, or "scheme://host" when the pattern has "://") allowed
	// besides the request's own host: allowed_origins, the same for every
	// face (the rule is in origin.go). A pattern "*" allows any origin.
	OriginPatterns []string
	// OriginFilter narrows the rule for one face: an origin the rule allows
	// must pass it too. It sees the Origin header as sent ("" when absent).
	// nil: no narrowing.
	OriginFilter func(origin string) bool
	// RefuseOriginInProtocol: a refused origin is upgraded all the same and
	// Accept returns the connection together with an *OriginError, so that
	// the face refuses it in its own wire format and hangs up. Otherwise a
	// refused origin gets 403 and no connection.
	RefuseOriginInProtocol bool
	// ReadLimit is the largest message Read accepts, in bytes: 0 means
	// DefaultReadLimit, a negative value means no limit.
	ReadLimit int64
	// QueueSize is how many frames may wait for the socket (0: DefaultQueueSize).
	QueueSize int
	// Subprotocols the server may select, in order of preference.
	Subprotocols []string
	// Logger for connection events (nil: slog.Default()).
	Logger *slog.Logger
	// Face names the face for metrics labels and logs.
	Face string

	// QueueBytes bounds the bytes waiting for the socket (0: DefaultQueueBytes).
	// A single frame larger than the bound is still sent when nothing else is
	// waiting.
	QueueBytes int
	// WriteTimeout bounds the write of one frame (0: DefaultWriteTimeout).
	WriteTimeout time.Duration
	// Binary sends frames as binary messages instead of text messages.
	Binary bool
	// MessageTimeout bounds the time from the first byte of a client
	// message to its last (0: DefaultMessageTimeout, negative: none). Idle
	// time between messages is not bounded.
	MessageTimeout time.Duration
}
