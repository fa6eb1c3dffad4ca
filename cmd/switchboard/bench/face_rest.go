package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// restFace opens REST streams: POST /v1/subscribe through the gateway, one
// {"result":…} JSON object per line, the first one "subscribed".
type restFace struct {
	url    string
	apiKey string
	hc     *http.Client
}

// restLineBuf is the line buffer of one REST reader; longer lines are
// assembled in a fresh slice.
const restLineBuf = 512

var errRESTNotSubscribed = errors.New("first line is not subscribed")

func newRESTFace(t *target, _ *Options) (face, error) {
	return &restFace{
		url:    t.httpURL + "/v1/subscribe",
		apiKey: t.apiSecret,
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxIdleConnsPerHost: -1,
			DisableCompression:  true,
		}},
	}, nil
}

func (f *restFace) subscribe(ctx context.Context, channel string, t *tally) (*client, error) {
	body := `{"filters":[{"channels":[` + strconv.Quote(channel) + `]}]}`
	sctx, cancel := context.WithCancel(context.Background())
	stopWait := context.AfterFunc(ctx, cancel)
	defer stopWait()
	req, err := http.NewRequestWithContext(sctx, http.MethodPost, f.url, bytes.NewReader([]byte(body)))
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "apikey "+f.apiKey)
	resp, err := f.hc.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("rest subscribe: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("rest subscribe: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	br := bufio.NewReaderSize(resp.Body, restLineBuf)
	line, err := readLine(br, nil)
	if err == nil && !bytes.Contains(line, []byte(`"subscribed"`)) {
		err = fmt.Errorf("%w: %.200s", errRESTNotSubscribed, line)
	}
	if err != nil {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("rest subscribe: %w", err)
	}
	cl := &client{done: make(chan struct{})}
	cl.stop = func() {
		t.stopping.Store(true)
		cancel()
	}
	go func() {
		defer close(cl.done)
		defer resp.Body.Close()
		for {
			line, err := readLine(br, nil)
			if err != nil {
				t.end(err)
				return
			}
			t.frame(line, time.Now())
		}
	}()
	return cl, nil
}

// readLine returns the next line without its newline. A line that fits the
// reader's buffer is returned in place (valid until the next read); a
// longer one is assembled in buf.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		part, err := br.ReadSlice('\n')
		if err == nil {
			if buf == nil {
				return part[:len(part)-1], nil
			}
			return append(buf, part[:len(part)-1]...), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		buf = append(buf, part...)
	}
}

func (f *restFace) close() { f.hc.CloseIdleConnections() }
