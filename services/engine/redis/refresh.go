package redis

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// owned is what this node put into Redis and must keep alive: its
// presence entries and user sessions. Each expires PresenceTTL after its
// last refresh, so the entries of a node that died disappear by themselves.
type owned struct {
	// gate lets adds and removes run concurrently (read side) while a
	// refresh batch (write side) excludes them: otherwise a refresh that
	// read an entry just before its removal could write it back.
	gate sync.RWMutex

	mu       sync.Mutex
	presence map[presKey]rueidis.LuaExec
	sessions map[sessKey]rueidis.LuaExec
}

type presKey struct{ tenant, channel, session string }
type sessKey struct{ tenant, user, session string }

func (o *owned) init() {
	o.presence = map[presKey]rueidis.LuaExec{}
	o.sessions = map[sessKey]rueidis.LuaExec{}
}

func (o *owned) hold()   { o.gate.RLock() }
func (o *owned) unhold() { o.gate.RUnlock() }

func (o *owned) setPresence(k presKey, x rueidis.LuaExec) {
	o.mu.Lock()
	o.presence[k] = x
	o.mu.Unlock()
}

func (o *owned) deletePresence(k presKey) {
	o.mu.Lock()
	delete(o.presence, k)
	o.mu.Unlock()
}

func (o *owned) setSession(k sessKey, x rueidis.LuaExec) {
	o.mu.Lock()
	o.sessions[k] = x
	o.mu.Unlock()
}

func (o *owned) deleteSession(k sessKey) {
	o.mu.Lock()
	delete(o.sessions, k)
	o.mu.Unlock()
}

// refreshBatch bounds the scripts sent at once and so how long a refresh
// holds adds and removes back.
const refreshBatch = 256

// refreshLoop re-adds this node's entries three times per PresenceTTL, so
// one missed refresh never lets a live entry expire.
func (e *Engine) refreshLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.opts.PresenceTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
			e.refresh()
		}
	}
}

func (e *Engine) refresh() {
	e.own.mu.Lock()
	pres := slices.Collect(maps.Keys(e.own.presence))
	sess := slices.Collect(maps.Keys(e.own.sessions))
	e.own.mu.Unlock()
	for len(pres) > 0 {
		n := min(len(pres), refreshBatch)
		e.refreshBatch(presenceAddScript, func() []rueidis.LuaExec {
			var xs []rueidis.LuaExec
			for _, k := range pres[:n] {
				if x, ok := e.own.presence[k]; ok {
					xs = append(xs, x)
				}
			}
			return xs
		})
		pres = pres[n:]
	}
	for len(sess) > 0 {
		n := min(len(sess), refreshBatch)
		e.refreshBatch(userAddScript, func() []rueidis.LuaExec {
			var xs []rueidis.LuaExec
			for _, k := range sess[:n] {
				if x, ok := e.own.sessions[k]; ok {
					xs = append(xs, x)
				}
			}
			return xs
		})
		sess = sess[n:]
	}
}

// refreshBatch runs the script for the entries pick returns, with adds and
// removes held back, so that it only rewrites entries still owned.
func (e *Engine) refreshBatch(script *rueidis.Lua, pick func() []rueidis.LuaExec) {
	e.own.gate.Lock()
	defer e.own.gate.Unlock()
	e.own.mu.Lock()
	xs := pick()
	e.own.mu.Unlock()
	if len(xs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.PresenceTTL/3)
	defer cancel()
	for _, r := range script.ExecMulti(ctx, e.client, xs...) {
		if err := r.Error(); err != nil {
			e.log.Warn("presence refresh failed", "err", err)
			return
		}
	}
}
