package engine

import (
	"context"
	"errors"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Errors an engine returns. Callers inspect them with errors.Is; anything
// else is an internal failure that must not reach a client verbatim.
var (
	// ErrPositionGone: a history position is older than what is kept, or its
	// epoch is not the channel's current epoch.
	ErrPositionGone = errors.New("position no longer in history")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("engine closed")
	// ErrUnavailable: the engine cannot serve the call right now (its
	// backend is unreachable or the node's delivery link is down); the
	// caller may retry.
	ErrUnavailable = errors.New("engine temporarily unavailable")
)

// AllChannels is the channel name Subscribe takes to mean every channel of a
// tenant, and AllTenants the tenant name that means every tenant.
const (
	AllChannels = "*"
	AllTenants  = "*"
)

// HistoryOptions say how much history a channel keeps. Zero Size or zero TTL
// keeps none: the event still gets the channel's epoch but offset 0.
type HistoryOptions struct {
	Size int           // newest events kept
	TTL  time.Duration // an event is dropped this long after it was published
}

// Enabled reports whether the options keep any history.
func (o HistoryOptions) Enabled() bool { return o.Size > 0 && o.TTL > 0 }

// HistoryQuery selects events from one channel's history.
type HistoryQuery struct {
	Since   *pb.StreamPosition // only events after it; nil = from the oldest kept
	Limit   int                // 0 = all kept
	Reverse bool               // newest first
}

// Control is an order that every node applies to its local sessions.
type Control struct {
	Kind    ControlKind
	Tenant  string
	User    string    // Disconnect, Unsubscribe: the user whose sessions it concerns
	Channel string    // Unsubscribe: "" = every channel
	Reason  string    // Disconnect: shown to the client
	Event   *pb.Event // Deliver: a directed event (Event.To says to whom)
	// Session names the one session a Disconnect, Command or Query is for
	// (User is then ignored).
	Session string
	// Request: Command, Query and Reply carry a request to one session, or
	// the reply to one, between nodes.
	Request *Request
}

// Request is a request to one session, or its reply, on its way between
// the node that waits for the reply and the node that holds the session.
// Nodes that hold no such session (or wait for no such reply) ignore it.
type Request struct {
	ID      string // unique per request; the reply carries the same id
	Node    string // id of the node waiting for the reply
	Payload []byte // the hub's own encoding; opaque to the engine
}

// ControlKind names a control order.
type ControlKind int

// Control orders.
const (
	ControlDisconnect ControlKind = iota + 1
	ControlUnsubscribe
	ControlDeliver
	// ControlCommand relays a command to Session; ControlQuery asks the
	// session's node about it; ControlReply answers either, to Request.Node.
	ControlCommand
	ControlQuery
	ControlReply
)

// Handler receives what the engine delivers to this node. Calls for one
// channel arrive in publish order and never concurrently with each other
// (calls for different channels may overlap). A handler must not block (it
// hands events to bounded queues) and must not call back into the engine:
// the memory engine calls it from Publish under the channel's lock, the
// Redis engine from the node's one pub/sub reader, so a call back would
// hold every delivery of the node for as long as the engine takes to
// answer. Engine work an order causes belongs on the handler's own
// goroutines (enginetest.CheckHandlerWork holds a handler to this). The
// event it gets is shared: it must treat it as read-only.
type Handler interface {
	HandleEvent(ev *pb.Event)
	HandleControl(c *Control)
	// HandleGap reports events this node may not have delivered (see
	// Gap). It is called in order with HandleEvent for the channel: events
	// handed over before it were delivered, events after it are live.
	HandleGap(g *Gap)
}

// Gap says that events of a channel may have been published without
// reaching this node, and could not be recovered from history. An engine
// whose delivery cannot break (memory) never reports one.
type Gap struct {
	Tenant string // AllTenants with AllChannels: every tenant
	// Channel is AllChannels when the loss concerns every channel of the
	// tenant: a pattern subscription cannot tell which channels it missed.
	Channel string
	// From is the last position delivered (nil when none is known), To the
	// channel's top when the gap was found (nil when unknown). A different
	// epoch means the history before To is gone.
	From, To *pb.StreamPosition
	// Unnumbered: no event with an offset is missing (From and To are the
	// same position), but events published without history (offset 0)
	// would not show; only channels that keep no history lost anything.
	Unnumbered bool
}

// Broker moves events between nodes and keeps channel history.
type Broker interface {
	// Publish assigns ev the next offset of its channel and the channel's
	// epoch (atomically per channel), stores it when opts keep history, and
	// delivers it to every node subscribed to the channel, at most once
	// (once per node, however many of its subscriptions cover the channel).
	// It sets ev.Id (when empty) and ev.Time (when nil) and returns the
	// position it assigned. The engine keeps a copy of ev but may share its
	// sub-messages (publisher, time): do not change them afterwards.
	// Ev.To must be empty: directed events travel as Control. It fails
	// with ErrUnavailable, publishing nothing, while this node could not
	// receive the event itself (its delivery link is down).
	Publish(ctx context.Context, ev *pb.Event, opts HistoryOptions) (*pb.StreamPosition, error)
	// Subscribe makes this node receive events of the channel (AllChannels:
	// every channel of the tenant; AllTenants with AllChannels: everything;
	// AllTenants with one channel is an error). When Subscribe returns, no
	// later publish is missed.
	Subscribe(ctx context.Context, tenant, channel string) error
	// Unsubscribe undoes one Subscribe. It is reference-counted by the caller.
	Unsubscribe(ctx context.Context, tenant, channel string) error
	// History reads a channel's kept events and its current top position.
	// A Since whose epoch differs, older than the oldest kept event (when
	// events after it were dropped) or beyond the top returns
	// ErrPositionGone; a Since equal to the top returns no events. With
	// Limit, the oldest Limit events after Since are returned, or the
	// newest Limit when Reverse. Reading a channel that has no stream yet
	// creates its epoch, so that a reader's {0, epoch} resumes without a
	// gap once events are published.
	History(ctx context.Context, tenant, channel string, q HistoryQuery) ([]*pb.Event, *pb.StreamPosition, error)
	// PublishControl delivers c to every node, this one included.
	PublishControl(ctx context.Context, c *Control) error
}

// Presence keeps which sessions are in which channels, cluster-wide.
// Counts are kept incrementally: nothing here loads a whole set to count it.
type Presence interface {
	// AddPresence puts the session in the channel; adding twice is one entry.
	AddPresence(ctx context.Context, tenant, channel string, s *pb.Session) error
	// ClaimPresence is AddPresence for a session id that must be new in the
	// channel: it adds s unless a live entry with s's id is there already
	// (from any node), in one atomic step, and reports whether it added.
	// Of two claims of one id at the same moment exactly one succeeds.
	ClaimPresence(ctx context.Context, tenant, channel string, s *pb.Session) (bool, error)
	// RemovePresence takes the session out of the channel; absent is not an error.
	RemovePresence(ctx context.Context, tenant, channel, sessionID string) error
	// Presence lists the sessions in the channel.
	Presence(ctx context.Context, tenant, channel string) ([]*pb.Session, error)
	// PresenceStats counts sessions and distinct non-empty user ids in the channel.
	PresenceStats(ctx context.Context, tenant, channel string) (sessions, users int, err error)
	// Channels lists channels with at least one session, sorted by tenant
	// then name, whose name starts with prefix, at most limit of them (0:
	// no limit). Tenant AllTenants lists all tenants.
	Channels(ctx context.Context, tenant, prefix string, limit int) ([]*pb.ChannelSummary, error)
}

// Users keeps which users are online and the queues of directed events
// waiting for offline users.
//
// A user's sessions are one set per (tenant, user) for the whole cluster,
// so that online and offline are decided once, not per node: AddSession
// and RemoveSession change the set and report, in the same atomic step,
// whether it was empty before (first) or is empty after (last). Of two
// sessions of one user opening at the same moment on two nodes exactly
// one is first; of the last two closing, exactly one is last. A session
// whose node stops refreshing it (the node died) expires after a while
// (see the implementation) and then counts as gone, without a last.
type Users interface {
	// AddSession records a connected session of a user. It reports first
	// when the user had no other live session in the cluster; adding a
	// session that is already recorded is never first.
	AddSession(ctx context.Context, s *pb.Session) (first bool, err error)
	// RemoveSession forgets a session. It reports last when the session
	// was recorded and no other live session of the user is left;
	// removing an unknown session is not an error and never last.
	RemoveSession(ctx context.Context, s *pb.Session) (last bool, err error)
	// UserSessions counts the connected sessions of a user cluster-wide.
	UserSessions(ctx context.Context, tenant, user string) (int, error)
	// Enqueue appends ev to the user's offline queue, dropping the oldest
	// events beyond max (max 0 keeps nothing). An undrained queue expires
	// some time after its last Enqueue (see the implementation).
	Enqueue(ctx context.Context, tenant, user string, ev *pb.Event, max int) error
	// Drain returns the user's queued events, oldest first, and empties the queue.
	Drain(ctx context.Context, tenant, user string) ([]*pb.Event, error)
}

// Nodes keeps the live nodes of the cluster.
type Nodes interface {
	// UpdateNode publishes this node's info; a node not updated for a few
	// seconds (see the implementation) is no longer listed.
	UpdateNode(ctx context.Context, n *pb.NodeInfo) error
	// Nodes lists every live node.
	Nodes(ctx context.Context) ([]*pb.NodeInfo, error)
}

// Engine is everything the hub stands on.
type Engine interface {
	Broker
	Presence
	Users
	UserRecords
	Nodes
	AdminSessions
	// Run delivers events and control orders to h until ctx ends (it
	// returns nil) or the engine is closed (ErrClosed). It is called once
	// per engine; events arriving while no Run is active are dropped.
	Run(ctx context.Context, h Handler) error
	// Healthy reports whether the engine can deliver right now (for a Redis
	// engine: connected and subscribed).
	Healthy(ctx context.Context) error
	// Close releases the engine's resources.
	Close() error
}
