package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Centrifugo target: a spawned Centrifugo v6 server measured with the
// same load generator as Switchboard. Subscribers speak its JSON client
// protocol over websocket (GET /connection/websocket): a connect command
// with an HS256 JWT, a subscribe command, then pushes
// {"push":{"channel":…,"pub":{"data":<payload>,"offset":N}}}. The server
// may put several replies in one frame, one JSON object per line, and pings
// with an empty object {} that the client answers with {}. Publications go
// through its server HTTP API: POST /api/publish with X-API-Key.

// centrifugoConf is the part of Centrifugo v6's configuration the bench
// writes. Channels without a namespace keep a history of 100 publications
// for 5 minutes and track presence, as Switchboard's defaults do.
type centrifugoConf struct {
	Log        centrifugoLog        `json:"log"`
	HTTPServer centrifugoHTTPServer `json:"http_server"`
	Health     centrifugoEnabled    `json:"health"`
	HTTPAPI    centrifugoKey        `json:"http_api"`
	UsageStats centrifugoDisabled   `json:"usage_stats"`
	Node       centrifugoNode       `json:"node"`
	Client     centrifugoClient     `json:"client"`
	Channel    centrifugoChannel    `json:"channel"`
	Engine     centrifugoEngine     `json:"engine"`
}

type centrifugoLog struct {
	Level string `json:"level"`
}

type centrifugoEnabled struct {
	Enabled bool `json:"enabled"`
}

type centrifugoDisabled struct {
	Disabled bool `json:"disabled"`
}

type centrifugoKey struct {
	Key string `json:"key"`
}

type centrifugoNode struct {
	Name string `json:"name"`
}

type centrifugoHTTPServer struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
}

type centrifugoClient struct {
	Token struct {
		HMACSecretKey string `json:"hmac_secret_key"`
	} `json:"token"`
	AllowedOrigins []string `json:"allowed_origins"`
}

type centrifugoChannel struct {
	WithoutNamespace struct {
		HistorySize             int    `json:"history_size"`
		HistoryTTL              string `json:"history_ttl"`
		Presence                bool   `json:"presence"`
		AllowSubscribeForClient bool   `json:"allow_subscribe_for_client"`
	} `json:"without_namespace"`
}

type centrifugoEngine struct {
	Type  string           `json:"type"`
	Redis *centrifugoRedis `json:"redis,omitempty"`
}

type centrifugoRedis struct {
	Address []string `json:"address"`
	Prefix  string   `json:"prefix"`
}

// centrifugoConfig is the configuration of one spawned Centrifugo node.
func centrifugoConfig(s ServerOptions, t *target, httpAddr, prefix, node string) centrifugoConf {
	host, port, _ := strings.Cut(httpAddr, ":")
	var c centrifugoConf
	c.Log.Level = "error"
	c.HTTPServer.Address = host
	c.HTTPServer.Port, _ = strconv.Atoi(port)
	c.Health.Enabled = true
	c.HTTPAPI.Key = t.apiSecret
	c.UsageStats.Disabled = true
	c.Node.Name = node
	c.Client.Token.HMACSecretKey = t.tokenSecret
	c.Client.AllowedOrigins = []string{"*"}
	ns := &c.Channel.WithoutNamespace
	ns.HistorySize = 100
	ns.HistoryTTL = "300s"
	ns.Presence = true
	ns.AllowSubscribeForClient = true
	c.Engine.Type = "memory"
	if s.Redis != "" {
		c.Engine.Type = "redis"
		c.Engine.Redis = &centrifugoRedis{Address: []string{"redis://" + s.Redis}, Prefix: prefix}
	}
	return c
}

// centrifugoToken is a connection JWT (HS256) for user sub, valid for a
// day.
func centrifugoToken(secret, sub string) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": sub, "exp": time.Now().Add(24 * time.Hour).Unix()})
	unsigned := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// centrifugoFace opens Centrifugo client connections, each subscribed to
// one channel.
type centrifugoFace struct {
	url     string
	connect string // the connect command, the same for every client
}

func newCentrifugoFace(t *target, _ *Options) (face, error) {
	if t.tokenSecret == "" {
		return nil, errors.New("centrifugo face: no token secret (spawn the server with --centrifugo)")
	}
	cmd, _ := json.Marshal(map[string]any{"id": 1, "connect": map[string]string{"token": centrifugoToken(t.tokenSecret, "bench"), "name": "switchboard-bench"}})
	return &centrifugoFace{url: t.wsURL + "/connection/websocket", connect: string(cmd)}, nil
}

// ErrCentrifugoReply: Centrifugo refused a command of the set-up.
var ErrCentrifugoReply = errors.New("bench: centrifugo refused a command")

func (f *centrifugoFace) subscribe(ctx context.Context, channel string, t *tally) (*client, error) {
	c, err := dialWS(ctx, f.url, nil)
	if err != nil {
		return nil, fmt.Errorf("centrifugo dial: %w", err)
	}
	sub := `{"id":2,"subscribe":{"channel":` + strconv.Quote(channel) + `}}`
	if err := c.write(ctx, f.connect, sub); err != nil {
		c.conn.Close()
		return nil, fmt.Errorf("centrifugo connect: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetReadDeadline(dl)
	}
	subscribed := false
	for !subscribed {
		b, err := c.next()
		if err != nil {
			c.conn.Close()
			return nil, fmt.Errorf("centrifugo subscribe: %w", err)
		}
		err = eachCentrifugoLine(b, func(line []byte) error {
			r := parseCentrifugoLine(line)
			switch {
			case r.ping:
				return c.write(ctx, "{}")
			case r.err != "":
				return fmt.Errorf("%w: reply %d: %s", ErrCentrifugoReply, r.id, r.err)
			case r.id == 2:
				subscribed = true
			case r.id == 0:
				t.frame(line, time.Now())
			}
			return nil
		})
		if err != nil {
			c.conn.Close()
			return nil, fmt.Errorf("centrifugo subscribe: %w", err)
		}
	}
	c.conn.SetReadDeadline(time.Time{})
	cl := &client{done: make(chan struct{})}
	cl.stop = func() {
		t.stopping.Store(true)
		c.conn.Close()
	}
	go func() {
		defer close(cl.done)
		for {
			b, err := c.next()
			if err != nil {
				t.end(err)
				return
			}
			now := time.Now()
			err = eachCentrifugoLine(b, func(line []byte) error {
				if len(line) == 2 && line[0] == '{' && line[1] == '}' {
					return c.write(context.Background(), "{}")
				}
				t.frame(line, now)
				return nil
			})
			if err != nil {
				t.end(err)
				return
			}
			if cap(c.msg) > maxPooledBuf {
				c.msg = nil
			}
		}
	}()
	return cl, nil
}

func (f *centrifugoFace) close() {}

// eachCentrifugoLine calls f with every non-empty line of a frame: the
// JSON protocol puts one reply per line. It stops at f's first error.
func eachCentrifugoLine(frame []byte, f func(line []byte) error) error {
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := f(line); err != nil {
			return err
		}
	}
	return nil
}

// centrifugoLine is what the set-up needs to know of one reply.
type centrifugoLine struct {
	ping bool   // {}: the server's ping, to be answered
	id   uint32 // the command answered; 0 for a push
	err  string // the error of a refused command
}

// parseCentrifugoLine reads one reply. Only set-up replies are decoded;
// publications are scanned for their stamp without decoding.
func parseCentrifugoLine(line []byte) centrifugoLine {
	var r struct {
		ID    uint32 `json:"id"`
		Error *struct {
			Code    uint32 `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Push json.RawMessage `json:"push"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return centrifugoLine{err: fmt.Sprintf("malformed reply %.200q", line)}
	}
	out := centrifugoLine{id: r.ID}
	if r.Error != nil {
		out.err = fmt.Sprintf("%d %s", r.Error.Code, r.Error.Message)
		if out.err == "0 " {
			out.err = "error without code"
		}
	}
	out.ping = r.ID == 0 && r.Error == nil && r.Push == nil && bytes.Equal(bytes.TrimSpace(line), []byte("{}"))
	return out
}

// centrifugoPublisher calls POST /api/publish with X-API-Key.
type centrifugoPublisher struct {
	url    string
	key    string
	client *http.Client
	body   []byte
	resp   bytes.Buffer
}

func newCentrifugoPublisher(t *target) *centrifugoPublisher {
	return &centrifugoPublisher{url: t.pubHTTPURL + "/api/publish", key: t.apiSecret, client: newAPIClient()}
}

func (p *centrifugoPublisher) publish(ctx context.Context, channel string, payload []byte) error {
	p.body = append(p.body[:0], `{"channel":`...)
	p.body = strconv.AppendQuote(p.body, channel)
	p.body = append(append(append(p.body, `,"data":`...), payload...), '}')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", p.key)
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	p.resp.Reset()
	if _, err := p.resp.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return err
	}
	return centrifugoAPIError(resp.StatusCode, p.resp.Bytes())
}

// centrifugoAPIError reads an HTTP API answer: 200 with {"result":…}, or
// an error as a status or as {"error":{"code":N,"message":…}}.
func centrifugoAPIError(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("%w: %d: %.200s", ErrPublish, status, bytes.TrimSpace(body))
	}
	var r struct {
		Error *struct {
			Code    uint32 `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%w: reply %.200q: %w", ErrPublish, body, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%w: %d %s", ErrPublish, r.Error.Code, r.Error.Message)
	}
	return nil
}

func (p *centrifugoPublisher) close() { p.client.CloseIdleConnections() }
