package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// publisher sends publications, each to one channel. Its calls are
// sequential: the next publication goes out when the server has answered
// the previous one, as in the Centrifugo benchmark. A run has one per
// concurrent publisher (--publishers), each with its own connection.
type publisher interface {
	publish(ctx context.Context, channel string, payload []byte) error
	close()
}

// ErrPublish: the server refused a message.
var ErrPublish = errors.New("bench: publish refused")

func newPublisher(o *Options, t *target) (publisher, error) {
	if t.newPublisher != nil {
		return t.newPublisher()
	}
	if o.Publisher == PublisherGRPC {
		conn, err := dialGRPC(t, t.pubGRPCAddr)
		if err != nil {
			return nil, err
		}
		return &grpcPublisher{conn: conn, hub: pb.NewHubServiceClient(conn)}, nil
	}
	return newHTTPPublisher(t), nil
}

// httpPublisher calls the Centrifugo v1 server API: POST /api/ with one
// publish command, signed with X-API-Sign = hex HMAC-SHA256(api_secret,
// body).
type httpPublisher struct {
	url    string
	client *http.Client
	mac    hash.Hash
	body   []byte
	sign   []byte
	resp   bytes.Buffer
}

// httpTimeout bounds one API call.
const httpTimeout = 30 * time.Second

// newAPIClient is the HTTP client of one publisher: one connection, kept
// alive.
func newAPIClient() *http.Client {
	return &http.Client{Timeout: httpTimeout, Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}}
}

func newHTTPPublisher(t *target) *httpPublisher {
	return &httpPublisher{
		url:    t.pubHTTPURL + "/api/",
		client: newAPIClient(),
		mac:    hmac.New(sha256.New, []byte(t.apiSecret)),
	}
}

func (p *httpPublisher) publish(ctx context.Context, channel string, payload []byte) error {
	p.body = append(p.body[:0], `{"method":"publish","params":{"channel":`...)
	p.body = strconv.AppendQuote(p.body, channel)
	p.body = append(append(append(p.body, `,"data":`...), payload...), "}}"...)
	p.mac.Reset()
	p.mac.Write(p.body)
	p.sign = hex.AppendEncode(p.sign[:0], p.mac.Sum(nil))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Sign", string(p.sign))
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	p.resp.Reset()
	if _, err := p.resp.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: %s", ErrPublish, resp.Status, bytes.TrimSpace(p.resp.Bytes()))
	}
	var replies []struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(p.resp.Bytes(), &replies); err != nil {
		return fmt.Errorf("%w: reply %.200q: %w", ErrPublish, p.resp.Bytes(), err)
	}
	for _, r := range replies {
		if r.Error != nil && *r.Error != "" {
			return fmt.Errorf("%w: %s", ErrPublish, *r.Error)
		}
	}
	return nil
}

func (p *httpPublisher) close() { p.client.CloseIdleConnections() }

// grpcPublisher calls HubService.Publish.
type grpcPublisher struct {
	conn *grpc.ClientConn
	hub  pb.HubServiceClient
}

func (p *grpcPublisher) publish(ctx context.Context, channel string, payload []byte) error {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	_, err := p.hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: channel, Data: string(payload)}})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	return nil
}

func (p *grpcPublisher) close() { p.conn.Close() }
