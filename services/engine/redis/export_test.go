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
