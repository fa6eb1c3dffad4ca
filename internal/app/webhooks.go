package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/streamable"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/boltstore"
	"github.com/switchboard-hub/switchboard/services/webhook"
)

// newWebhooks builds the webhook service: queues in the engine when it
// keeps them (Redis), else in a bbolt file opened when the first endpoint
// needs it. Changes made through the API are written back to the config
// file the process was started with; with Redis they are also stored there
// and every other node applies them (without writing its own file).
func (a *App) newWebhooks() (*webhook.Service, error) {
	store, ok := a.eng.(engine.Webhooks)
	if !ok {
		path, err := a.webhookStorePath()
		if err != nil {
			return nil, err
		}
		ls := &lazyStore{path: path}
		a.closers = append([]func() error{ls.Close}, a.closers...) // before the folder is removed
		store = ls
	}
	w := a.cfg.Webhooks
	cfg := webhook.Config{
		Store:       store,
		Encoding:    webhook.Streamable{Version: Version, Node: nodeName(a.cfg), Started: time.Now()},
		Node:        nodeName(a.cfg) + "/" + randomHex(4),
		Endpoints:   a.cfg.WebhookOptions,
		MaxAttempts: w.MaxAttempts,
		BaseDelay:   time.Duration(w.BaseDelay),
		MaxDelay:    time.Duration(w.MaxDelay),
		Timeout:     time.Duration(w.Timeout),
		QueueMax:    w.QueueMax,
		Logger:      a.log,
	}
	if path := a.cfg.path; path != "" {
		cfg.Persist = func(eps map[string]webhook.Endpoint) error {
			if err := saveConfigKey(path, "WebhookOptions", eps); err != nil {
				return err
			}
			a.log.Info("webhook options saved", "config", path, "endpoints", len(eps))
			return nil
		}
	}
	if shared, ok := a.eng.(engine.WebhookOptions); ok {
		cfg.Shared = shared // every node of the cluster applies a change
	}
	cfg.Changed = a.announceWebhookOptions
	return webhook.New(cfg)
}

// announceWebhookOptions publishes SEVT_WEBHOOK_OPTIONS_UPDATED on
// sys:webhooks: names, URLs, types and levels, and the names of the custom
// headers without their values (they often hold an endpoint's secret).
func (a *App) announceWebhookOptions(ctx context.Context, eps map[string]webhook.Endpoint) {
	type shown struct {
		URL                   string
		WhiteListedEventTypes []int
		Level                 string
		CustomHeaders         []string
	}
	data := map[string]shown{}
	for name, e := range eps {
		v := shown{URL: e.URL, WhiteListedEventTypes: e.WhiteListedEventTypes, Level: e.Level, CustomHeaders: []string{}}
		for h := range e.CustomHeaders {
			v.CustomHeaders = append(v.CustomHeaders, h)
		}
		slices.Sort(v.CustomHeaders)
		data[name] = v
	}
	b, _ := json.Marshal(map[string]any{"WebhookOptions": data})
	ev := &pb.Event{Channel: streamable.ChannelWebhooks, Code: int32(streamable.WebhookOptionsUpdated), Data: string(b)}
	if err := a.hub.PublishSystem(ctx, ev); err != nil {
		a.log.Warn("announce webhook options", "err", err)
	}
}

// webhookStorePath is webhooks.store, else "<config>.webhooks.db" beside
// the config file, else a file in the temporary folder named after the
// HTTP address. A process on an ephemeral port (0) without either gets a
// folder of its own, removed when it stops: nothing could find it again.
func (a *App) webhookStorePath() (string, error) {
	if a.cfg.Webhooks.Store != "" {
		return a.cfg.Webhooks.Store, nil
	}
	if a.cfg.path != "" {
		return strings.TrimSuffix(a.cfg.path, filepath.Ext(a.cfg.path)) + ".webhooks.db", nil
	}
	if _, port, _ := net.SplitHostPort(a.cfg.HTTPAddr); port == "0" {
		dir, err := os.MkdirTemp("", "switchboard-webhooks-")
		if err != nil {
			return "", fmt.Errorf("webhooks.store: %w", err)
		}
		a.closers = append(a.closers, func() error { return os.RemoveAll(dir) })
		return filepath.Join(dir, "webhooks.db"), nil
	}
	name := strings.NewReplacer(":", "_", "[", "", "]", "", "/", "_").Replace(a.cfg.HTTPAddr)
	return filepath.Join(os.TempDir(), "switchboard-"+name+".webhooks.db"), nil
}

// webhookObserver publishes events through the webhook service, which
// queues them for its endpoints (with Redis in the publish's own write).
type webhookObserver struct{ s *webhook.Service }

func (o webhookObserver) Publish(ctx context.Context, ev *pb.Event, opts engine.HistoryOptions, publish func(context.Context, *pb.Event, engine.HistoryOptions) (*pb.StreamPosition, error)) (*pb.StreamPosition, error) {
	return o.s.Publish(ctx, ev, opts, publish)
}

// lazyStore opens the bbolt store on first use, so that a process without
// webhooks creates no file.
type lazyStore struct {
	path string
	mu   sync.Mutex
	s    *boltstore.Store
	err  error
}

var _ engine.Webhooks = (*lazyStore)(nil)

func (l *lazyStore) get() (*boltstore.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil && l.err == nil {
		l.s, l.err = boltstore.Open(l.path, boltstore.Options{})
		if l.err != nil {
			l.err = fmt.Errorf("webhooks.store: %w", l.err)
		}
	}
	return l.s, l.err
}

// Close closes the file if it was opened.
func (l *lazyStore) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		return nil
	}
	return l.s.Close()
}

func (l *lazyStore) WebhookPush(ctx context.Context, items []engine.WebhookPush, max int) (map[string]int, error) {
	s, err := l.get()
	if err != nil {
		return nil, err
	}
	return s.WebhookPush(ctx, items, max)
}

func (l *lazyStore) WebhookPeek(ctx context.Context, ep string, n int) ([]engine.WebhookItem, error) {
	s, err := l.get()
	if err != nil {
		return nil, err
	}
	return s.WebhookPeek(ctx, ep, n)
}

func (l *lazyStore) WebhookAck(ctx context.Context, ep string, id uint64) error {
	s, err := l.get()
	if err != nil {
		return err
	}
	return s.WebhookAck(ctx, ep, id)
}

func (l *lazyStore) WebhookLen(ctx context.Context, ep string) (int, error) {
	s, err := l.get()
	if err != nil {
		return 0, err
	}
	return s.WebhookLen(ctx, ep)
}

func (l *lazyStore) WebhookLease(ctx context.Context, ep, owner string, ttl time.Duration) (bool, error) {
	s, err := l.get()
	if err != nil {
		return false, err
	}
	return s.WebhookLease(ctx, ep, owner, ttl)
}

func (l *lazyStore) WebhookRelease(ctx context.Context, ep, owner string) error {
	s, err := l.get()
	if err != nil {
		return err
	}
	return s.WebhookRelease(ctx, ep, owner)
}

func (l *lazyStore) WebhookRemove(ctx context.Context, ep string) error {
	s, err := l.get()
	if err != nil {
		return err
	}
	return s.WebhookRemove(ctx, ep)
}
