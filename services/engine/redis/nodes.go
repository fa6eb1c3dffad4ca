package redis

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"google.golang.org/protobuf/proto"
)

var errNoNodeID = errors.New("redis: node without id")

// UpdateNode stores this node's info, listed by every node for
// Options.NodeTTL.
func (e *Engine) UpdateNode(ctx context.Context, n *pb.NodeInfo) error {
	if err := e.check(); err != nil {
		return err
	}
	if n.GetId() == "" {
		return errNoNodeID
	}
	b, err := proto.Marshal(n)
	if err != nil {
		return failf("redis: encode node: %w", err)
	}
	err = nodeUpdateScript.Exec(ctx, e.client, []string{e.n.nodes, e.n.nodesExp},
		[]string{n.Id, string(b), strconv.FormatInt(ms(e.opts.NodeTTL), 10)}).Error()
	if err != nil {
		return failf("redis: update node: %w", err)
	}
	return nil
}

// Nodes lists the nodes updated within Options.NodeTTL, sorted by id.
func (e *Engine) Nodes(ctx context.Context) ([]*pb.NodeInfo, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	vals, err := nodesScript.Exec(ctx, e.client, []string{e.n.nodes, e.n.nodesExp}, nil).AsStrSlice()
	if err != nil {
		return nil, failf("redis: nodes: %w", err)
	}
	out := make([]*pb.NodeInfo, 0, len(vals))
	for _, v := range vals {
		n := &pb.NodeInfo{}
		if err := proto.Unmarshal([]byte(v), n); err != nil {
			return nil, failf("redis: node info: %w", err)
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *pb.NodeInfo) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}
