package cppcomet

import (
	"crypto/rand"
	"encoding/hex"
)

// edgeID names this face's control stream: the node plus a random suffix,
// so that two processes (or two handlers) never share an edge.
func edgeID(node string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	if node == "" {
		node = "switchboard"
	}
	return node + "/" + Face + "/" + hex.EncodeToString(b[:])
}
