package memory

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"google.golang.org/protobuf/proto"
)

var errNoNodeID = errors.New("memory: node without id")

// nodes keeps the last info of each node and when it arrived. With one
// process there is normally one node, but the hub may report under a new
// id after a restart of its own, so entries still expire.
type nodes struct {
	mu sync.Mutex
	m  map[string]nodeEntry
}

type nodeEntry struct {
	info    *pb.NodeInfo
	updated int64 // engine clock
}

func (n *nodes) init() { n.m = map[string]nodeEntry{} }

// UpdateNode stores a copy of info as the node's latest.
func (e *Engine) UpdateNode(ctx context.Context, info *pb.NodeInfo) error {
	if err := e.check(); err != nil {
		return err
	}
	if info.GetId() == "" {
		return errNoNodeID
	}
	c := proto.CloneOf(info)
	now := e.now()
	e.nodes.mu.Lock()
	e.nodes.m[c.Id] = nodeEntry{info: c, updated: now}
	e.nodes.mu.Unlock()
	return nil
}

// Nodes lists nodes updated within Options.NodeTTL, sorted by id.
func (e *Engine) Nodes(ctx context.Context) ([]*pb.NodeInfo, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	now, ttl := e.now(), int64(e.opts.NodeTTL)
	e.nodes.mu.Lock()
	out := make([]*pb.NodeInfo, 0, len(e.nodes.m))
	for _, x := range e.nodes.m {
		if now-x.updated < ttl {
			out = append(out, proto.CloneOf(x.info))
		}
	}
	e.nodes.mu.Unlock()
	slices.SortFunc(out, func(a, b *pb.NodeInfo) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}

// sweep forgets nodes not updated for ttl.
func (n *nodes) sweep(now, ttl int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, x := range n.m {
		if now-x.updated >= ttl {
			delete(n.m, id)
		}
	}
}
