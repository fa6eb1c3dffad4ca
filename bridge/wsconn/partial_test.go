package wsconn_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/bridge/wsconn"
)

// rawDial opens a websocket by hand, so that the test can send bytes no
// websocket library would: half a frame.
func rawDial(t testing.TB, url string) net.Conn {
	t.Helper()
	host := strings.TrimPrefix(url, "ws://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		host, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if br.Buffered() > 0 {
		t.Fatal("bytes after the 101")
	}
	return c
}

// maskedFrame is a client text frame of payload (mask key zero).
func maskedFrame(payload string, fin bool) []byte {
	b0 := byte(0x01)
	if fin {
		b0 |= 0x80
	}
	return append([]byte{b0, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
}

// Sockets that stop in the middle of a message are dropped once the
// message timeout has passed: 300 of them, each having sent half a frame,
// a header cut short, or a fragment of an unfinished message.
func TestHalfFramesAreTimedOut(t *testing.T) {
	const timeout = 500 * time.Millisecond
	srv := startServer(t, wsconn.AcceptOptions{MessageTimeout: timeout, QueueSize: 4})
	go func() { // the test holds no Conn: let the server side go
		for range srv.conns {
		}
	}()
	halves := [][]byte{
		maskedFrame("0123456789", true)[:9], // payload cut short
		{0x81, 0x80 | 126, 0x01},            // extended length cut short
		{0x81},                              // one header byte
		maskedFrame("part", false),          // a fragment, no final frame
		append(maskedFrame("part", false), 0x80, 0x80|126), // then a continuation header cut short
	}
	const n = 300
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = rawDial(t, srv.url)
		defer conns[i].Close()
	}
	start := time.Now()
	for i, c := range conns {
		if _, err := c.Write(halves[i%len(halves)]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
			// The server drops the connection: EOF or a reset, never our
			// own deadline.
			_, err := io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				errs <- fmt.Errorf("socket %d still open after %v", i, waitTimeout)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Generous: the machine running the tests may be loaded.
	took := time.Since(start)
	t.Logf("%d half-frame sockets closed %v after their last byte (timeout %v)", n, took, timeout)
	if took > timeout+10*time.Second {
		t.Errorf("closing %d half-frame sockets took %v (timeout %v)", n, took, timeout)
	}
}

// A silent socket is never timed out, and a message whose parts arrive
// apart, each within the timeout, is read whole.
func TestIdleSocketsAndSlowWholeMessagesStay(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := startServer(t, wsconn.AcceptOptions{MessageTimeout: timeout})
	c := rawDial(t, srv.url)
	defer c.Close()
	var conn *wsconn.Conn
	select {
	case conn = <-srv.conns:
	case <-time.After(waitTimeout):
		t.Fatal("not accepted")
	}
	// Idle for three timeouts: a ping answered proves the socket is open.
	idle := time.NewTimer(3 * timeout)
	<-idle.C
	if _, err := c.Write([]byte{0x89, 0x80, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	pong := make([]byte, 2)
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := io.ReadFull(c, pong); err != nil || pong[0] != 0x8a {
		t.Fatalf("pong after idle: %x %v", pong, err)
	}
	// A message in two fragments, the second sent after the first was read.
	if _, err := c.Write(maskedFrame("he", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append([]byte{0x80, 0x83, 0, 0, 0, 0}, "llo"...)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-srv.reads:
		if string(got) != "hello" {
			t.Fatalf("read %q", got)
		}
	case <-conn.Done():
		t.Fatal("socket dropped during a whole message")
	case <-time.After(waitTimeout):
		t.Fatal("message not read")
	}
	// Still open after the message, past the timeout again.
	idle.Reset(2 * timeout)
	<-idle.C
	select {
	case <-conn.Done():
		t.Fatal("socket dropped while idle after a message")
	default:
	}
	conn.Close(websocket.StatusNormalClosure, "")
	waitDone(t, conn)
}

// The message timeout bounds how long the client takes, not the face: when
// a read leaves a message unfinished and the face then takes longer than
// the timeout before it reads again (a face that rate-limits its
// commands), the rest of the message, sent at once, is read whole.
func TestSlowReaderIsNotTimedOutForItsOwnDelay(t *testing.T) {
	const timeout = 100 * time.Millisecond
	first := make(chan []byte, 1)
	resume := make(chan struct{})
	second := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Accept(w, r, wsconn.AcceptOptions{MessageTimeout: timeout})
		if err != nil {
			return
		}
		defer c.CloseNow()
		msg, err := c.Read(context.Background())
		if err != nil {
			second <- err
			return
		}
		first <- msg
		<-resume // the face is busy
		msg, err = c.Read(context.Background())
		if err == nil && string(msg) != "second" {
			err = fmt.Errorf("read %q, want second", msg)
		}
		second <- err
	}))
	defer srv.Close()
	c := rawDial(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer c.Close()

	// One write: a whole message and the first half of the next, which the
	// server's first read takes together.
	b := maskedFrame("second", true)
	if _, err := c.Write(append(maskedFrame("first", true), b[:4]...)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first:
	case err := <-second:
		t.Fatalf("first read: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("first message not read")
	}
	// The rest follows at once, then the face stays away for three timeouts.
	if _, err := c.Write(b[4:]); err != nil {
		t.Fatal(err)
	}
	busy := time.NewTimer(3 * timeout)
	<-busy.C
	close(resume)
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("second read after the face's own delay: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("second message not read")
	}
}
