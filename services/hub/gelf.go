package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/Graylog2/go-gelf/gelf"
)

// logLine is one session log line (DirectoryService.WriteLog).
type logLine struct {
	level                 int32
	source, message, full string
	user, session         string
	meta                  map[string]any
	time                  time.Time
}

// gelfSink sends log lines as GELF 1.1 UDP datagrams, uncompressed (GELF
// servers take plain JSON as well) and chunked by the library when large.
type gelfSink struct {
	mu sync.Mutex
	w  *gelf.UDPWriter
}

func newGELFSink(addr string) (*gelfSink, error) {
	w, err := gelf.NewUDPWriter(addr)
	if err != nil {
		return nil, fmt.Errorf("gelf_addr: %w", err)
	}
	w.CompressionType = gelf.CompressNone
	return &gelfSink{w: w}, nil
}

// gelfField is what GELF allows as an additional field name (after "_").
var gelfField = regexp.MustCompile(`^[\w.\-]+$`)

func (g *gelfSink) send(l logLine) error {
	extra := map[string]any{"_user": l.user, "_session_id": l.session}
	for k, v := range l.meta {
		// "_id" is reserved by GELF; _user and _session_id are ours.
		if k == "id" || k == "user" || k == "session_id" || !gelfField.MatchString(k) {
			continue
		}
		extra["_"+k] = v
	}
	m := &gelf.Message{
		Version:  "1.1",
		Host:     l.source,
		Short:    l.message,
		Full:     l.full,
		TimeUnix: float64(l.time.UnixMicro()) / 1e6,
		Level:    l.level,
		Extra:    extra,
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.w.WriteMessage(m)
}

// writeLog writes the line to the server log and, when configured, to GELF.
func (h *Hub) writeLog(ctx context.Context, l logLine) {
	attrs := []slog.Attr{
		slog.String("source", l.source), slog.Int("level", int(l.level)),
		slog.String("user", l.user), slog.String("session", l.session),
	}
	if l.full != "" {
		attrs = append(attrs, slog.String("full_message", l.full))
	}
	keys := make([]string, 0, len(l.meta))
	for k := range l.meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		attrs = append(attrs, slog.Any("meta."+k, l.meta[k]))
	}
	h.log.LogAttrs(ctx, syslogLevel(l.level), l.message, attrs...)
	if h.dir.gelf != nil {
		if err := h.dir.gelf.send(l); err != nil {
			h.log.Warn("GELF message not sent", "err", err)
		}
	}
}

// syslogLevel maps a syslog severity onto the server log's levels.
func syslogLevel(l int32) slog.Level {
	switch {
	case l <= 3:
		return slog.LevelError
	case l == 4:
		return slog.LevelWarn
	case l == 7:
		return slog.LevelDebug
	default:
		return slog.LevelInfo
	}
}

// parseMeta reads WriteLogRequest.meta: an object of strings and numbers.
func parseMeta(meta string) (map[string]any, error) {
	if meta == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(meta), &m); err != nil {
		return nil, invalid("meta", "meta is not a JSON object")
	}
	for k, v := range m {
		switch v.(type) {
		case string, float64:
		default:
			return nil, invalid("meta", "meta field %q is not a string or a number", k)
		}
	}
	return m, nil
}

func jsonValid(s string) bool { return json.Valid([]byte(s)) }
