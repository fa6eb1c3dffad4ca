package engine

import (
	"context"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// WebhookItem is one event waiting for a webhook endpoint: a body pushed
// with WebhookPush, or an event queued by PublishQueued (Body nil), which
// the deliverer encodes itself.
type WebhookItem struct {
	ID    uint64 // increases with every push to the endpoint's queue
	Body  []byte
	Event *pb.Event // as published, with its offset and epoch
	Full  bool      // the Event's target asked for the event's data
}

// WebhookPush is one body for one endpoint's queue.
type WebhookPush struct {
	Endpoint string
	Body     []byte
}

// Webhooks keeps the queues of events waiting for webhook endpoints until
// they are delivered or dead-lettered. Queues are durable: what a push
// returned nil for survives a graceful restart and a crash of the node. On
// a shared engine every node sees the same queues, and a lease lets one node
// at a time deliver to an endpoint, so that each event leaves once (a node
// that dies mid-delivery hands over when its lease expires).
type Webhooks interface {
	// WebhookPush appends the bodies to their endpoints' queues, in order,
	// in one atomic write. A queue longer than max loses its oldest items;
	// the count dropped per endpoint is returned (max <= 0: no bound).
	WebhookPush(ctx context.Context, items []WebhookPush, max int) (dropped map[string]int, err error)
	// WebhookPeek returns up to n of the endpoint's oldest items, oldest
	// first, leaving them queued.
	WebhookPeek(ctx context.Context, endpoint string, n int) ([]WebhookItem, error)
	// WebhookAck removes the endpoint's items up to and including id (the
	// ones delivered or given up on); items already gone are not an error.
	WebhookAck(ctx context.Context, endpoint string, id uint64) error
	// WebhookLen counts the items waiting for the endpoint.
	WebhookLen(ctx context.Context, endpoint string) (int, error)
	// WebhookLease takes the lease on delivering to endpoint for owner, or
	// renews it when owner holds it, for ttl. It reports false when another
	// owner holds a lease that has not expired.
	WebhookLease(ctx context.Context, endpoint, owner string, ttl time.Duration) (bool, error)
	// WebhookRelease gives the lease up when owner holds it.
	WebhookRelease(ctx context.Context, endpoint, owner string) error
	// WebhookRemove drops the endpoint's queue and lease.
	WebhookRemove(ctx context.Context, endpoint string) error
}

// WebhookTarget is one endpoint's queue that PublishQueued appends the
// published event to.
type WebhookTarget struct {
	Endpoint string
	Full     bool // handed back with the item (WebhookItem.Full)
}

// WebhookPublisher is implemented by an engine that keeps the webhook
// queues itself (Webhooks) and can queue a published event in the
// publish's own atomic write: the event is in history, on its way to the
// nodes and in every target's queue, or nowhere, and publishing with
// endpoints costs no extra round trip to the engine.
type WebhookPublisher interface {
	// PublishQueued is Broker.Publish that also appends the event, as
	// published (with its id, time, offset and epoch), to each target's
	// queue. Queues are bounded by max as in WebhookPush; the count dropped
	// per endpoint is returned. WebhookPeek returns these items with Event
	// and Full set and Body nil.
	PublishQueued(ctx context.Context, ev *pb.Event, opts HistoryOptions, targets []WebhookTarget, max int) (*pb.StreamPosition, map[string]int, error)
}

// WebhookOptions is implemented by a shared engine that keeps one webhook
// option map for every node: a change stored through one node reaches the
// others, which apply it live.
type WebhookOptions interface {
	// WebhookOptionsLoad returns the stored options (an opaque encoding
	// made by the webhook service); nil when none were ever stored.
	WebhookOptionsLoad(ctx context.Context) ([]byte, error)
	// WebhookOptionsStore stores the options and tells every node.
	WebhookOptionsStore(ctx context.Context, opts []byte) error
	// WebhookOptionsWatch calls changed whenever the stored options may
	// have changed (a node stored them, or the link to the engine came
	// back and a change may have been missed) until ctx ends. changed is
	// called from one goroutine, one call at a time.
	WebhookOptionsWatch(ctx context.Context, changed func())
}
