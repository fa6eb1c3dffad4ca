package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsReadLimit bounds one received message; events of the bench are small.
const wsReadLimit = 1 << 20

// readBufs are the frame buffers of websocket readers: a reader holds one
// only while it copies a frame, so an idle client costs none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf keeps an odd huge frame's buffer out of the pool.
const maxPooledBuf = 64 << 10

// wsHTTPClient dials websockets; the upgraded connections leave its pool.
func wsHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: -1,
	}}
}

// startWSReader reads every message of c into t until c ends, and returns
// the client handle.
func startWSReader(c *websocket.Conn, t *tally) *client {
	cl := &client{done: make(chan struct{})}
	cl.stop = func() {
		t.stopping.Store(true)
		c.CloseNow()
	}
	go func() {
		defer close(cl.done)
		for {
			// A context that is never done keeps the library from setting up
			// a timeout per read.
			_, r, err := c.Reader(context.Background())
			if err != nil {
				t.end(err)
				return
			}
			bp := readBufs.Get().(*[]byte)
			b, err := readInto((*bp)[:0], r)
			if err != nil {
				t.end(err)
				return
			}
			t.frame(b, time.Now())
			if cap(b) <= maxPooledBuf {
				*bp = b[:0]
				readBufs.Put(bp)
			}
		}
	}()
	return cl
}

// readInto appends everything r yields to b.
func readInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
