package wsconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Conn is an accepted websocket with a bounded outbound queue. All methods
// may be called concurrently, except Read, which one goroutine calls in a
// loop.
type Conn struct {
	ws         *websocket.Conn
	raw        *rawConn // the hijacked connection; data frames are written here
	log        *slog.Logger
	metrics    *faceMetrics
	msgType    websocket.MessageType
	queueSize  int
	queueBytes int

	// ctx is cancelled once the connection has ended; Done is its channel.
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// queue holds the frames waiting for the writer. The writer takes the
	// whole queue at once and writes it in one go; until that write is done
	// its frames still count against the limits (inflight, inflightBytes).
	queue         [][]byte
	spare         [][]byte // the writer's previous batch, emptied, for reuse
	pendingBytes  int      // bytes in queue
	inflight      int      // frames the writer is writing
	inflightBytes int
	queued        uint64 // frames ever queued (SendSeq numbers)
	written       uint64 // frames ever written, counted after each write
	onWritten     func(written uint64)
	writing       bool       // a writer goroutine owns the write side
	state         connState  // see close.go
	order         closeOrder // how to close, once state is stateClosing
	ended         bool       // finish ran
}

// Accept upgrades the request to a websocket. On error the HTTP response has
// already been written (403 for a refused origin, 4xx for a bad handshake)
// and the caller only returns; the one exception is a refused origin with
// RefuseOriginInProtocol, where the connection comes back with an
// *OriginError for the face to refuse in its own words.
//
// The connection's context keeps the request's values but not its
// cancellation: a hijacked connection outlives the request.
func Accept(w http.ResponseWriter, r *http.Request, opts AcceptOptions) (*Conn, error) {
	originErr := CheckOrigin(r, opts)
	if originErr != nil && !opts.RefuseOriginInProtocol {
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return nil, originErr
	}
	hw := &hijackWriter{ResponseWriter: w, timeout: effectiveWriteTimeout(opts), messageTimeout: effectiveMessageTimeout(opts)}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		Subprotocols: opts.Subprotocols,
		// CheckOrigin has applied the origin rule above.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("wsconn: accept: %w", err)
	}
	if hw.raw == nil {
		// The library upgrades only through Hijack; anything else is a bug.
		ws.CloseNow()
		return nil, errors.New("wsconn: accept: the connection was not hijacked")
	}
	return newConn(ws, hw.raw, context.WithoutCancel(r.Context()), opts), originErr
}

func effectiveWriteTimeout(opts AcceptOptions) time.Duration {
	if opts.WriteTimeout > 0 {
		return opts.WriteTimeout
	}
	return DefaultWriteTimeout
}

func effectiveMessageTimeout(opts AcceptOptions) time.Duration {
	switch {
	case opts.MessageTimeout > 0:
		return opts.MessageTimeout
	case opts.MessageTimeout < 0:
		return 0
	}
	return DefaultMessageTimeout
}

func newConn(ws *websocket.Conn, raw *rawConn, parent context.Context, opts AcceptOptions) *Conn {
	readLimit := opts.ReadLimit
	if readLimit == 0 {
		readLimit = DefaultReadLimit
	}
	ws.SetReadLimit(readLimit)

	face := opts.Face
	if face == "" {
		face = unknownFace
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Conn{
		ws:         ws,
		raw:        raw,
		log:        log,
		metrics:    metricsFor(face),
		msgType:    websocket.MessageText,
		queueSize:  opts.QueueSize,
		queueBytes: opts.QueueBytes,
	}
	if opts.Binary {
		c.msgType = websocket.MessageBinary
	}
	if c.queueSize <= 0 {
		c.queueSize = DefaultQueueSize
	}
	if c.queueBytes <= 0 {
		c.queueBytes = DefaultQueueBytes
	}
	c.ctx, c.cancel = context.WithCancel(parent)
	c.metrics.connections.Inc()
	return c
}

// Read returns the next text or binary message. Ping, pong and close frames
// are handled inside. An error means the connection has ended (peer gone,
// close frame received, message over the read limit, or ctx done — a
// cancelled ctx drops the connection, as the websocket library does).
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	if ctx == c.ctx {
		// The connection's own context ends only once the connection is
		// closed, which ends a waiting read by itself. The library would
		// otherwise hang a callback on it for the time of every Read: half
		// a KiB per idle socket.
		ctx = context.Background()
	}
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		c.abort()
		return nil, fmt.Errorf("wsconn: read: %w", err)
	}
	c.metrics.received(len(b))
	return b, nil
}

// Subprotocol returns the negotiated subprotocol ("" for none).
func (c *Conn) Subprotocol() string { return c.ws.Subprotocol() }

// Done is closed once the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.ctx.Done() }

// Context is cancelled once the connection has ended, after any close
// handshake, so it is safe to pass to Read as well.
func (c *Conn) Context() context.Context { return c.ctx }
