package redis

// LinkID returns the CLIENT ID of the engine's pub/sub connection, or 0
// while the link is down, so that tests can cut exactly that connection.
func LinkID(e *Engine) int64 {
	e.link.mu.Lock()
	defer e.link.mu.Unlock()
	if e.link.conn == nil {
		return 0
	}
	return e.link.conn.id
}

// HoldReconnect keeps the engine's pub/sub link from reconnecting until
// release is called, so that a test can publish while the link is down.
func HoldReconnect(e *Engine) (release func()) {
	g := make(chan struct{})
	e.link.gate.Store(&g)
	return func() {
		e.link.gate.Store(nil)
		close(g)
	}
}

// Recovered counts the events the engine delivered from history after
// reconnecting its pub/sub link.
func Recovered(e *Engine) uint64 { return e.link.recovered.Load() }
