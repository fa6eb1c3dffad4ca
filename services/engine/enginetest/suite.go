// Package enginetest is the behaviour suite every engine.Engine must pass.
// The memory and Redis engines run it from their own tests:
//
//	func TestSuite(t *testing.T) {
//		enginetest.Run(t, func(t *testing.T) engine.Engine { ... })
//	}
//
// Each case gets a fresh, empty engine from newEngine, which must close it
// in t.Cleanup (Close must be idempotent: one case closes its engine
// itself). Cases run in parallel.
//
// Waiting is done on the handler's deliveries or by polling with a
// deadline, never by sleeping a fixed time. To show that an event was NOT
// delivered, a case publishes a barrier event on a subscribed channel after
// it and waits for the barrier: both engines deliver the events of one
// publishing goroutine in publish order, whatever their channels.
//
// CheckHandlerWork holds handlers to the engine.Handler contract: the work
// a control order causes must not stall delivery. The suite runs it with a
// handler of its own; a handler's package (the hub) runs it with itself.
package enginetest

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/services/engine"
)

// NewEngine makes a fresh engine for one case and closes it in t.Cleanup.
type NewEngine func(t *testing.T) engine.Engine

// waitTimeout bounds every wait of the suite; it is long so that a slow CI
// machine under -race does not fail, and is only reached when a case fails.
const waitTimeout = 10 * time.Second

// Run runs every case of the suite against engines made by newEngine.
func Run(t *testing.T, newEngine func(t *testing.T) engine.Engine) {
	cases := []struct {
		name string
		fn   func(*testing.T, NewEngine)
	}{
		{"PublishAssignsPosition", testPublishAssignsPosition},
		{"PublishKeepsPresetIDAndTime", testPublishKeepsPresetIDAndTime},
		{"PublishRejectsDirected", testPublishRejectsDirected},
		{"HistoryDisabled", testHistoryDisabled},
		{"HistorySizeCap", testHistorySizeCap},
		{"HistoryTTL", testHistoryTTL},
		{"HistoryQuery", testHistoryQuery},
		{"HistoryPositionGone", testHistoryPositionGone},
		{"HistoryOfNewChannel", testHistoryOfNewChannel},
		{"HistoryNamesDoNotCollide", testHistoryNamesDoNotCollide},
		{"SubscribeDelivers", testSubscribeDelivers},
		{"SubscribeIsRefCounted", testSubscribeIsRefCounted},
		{"SubscribeWildcards", testSubscribeWildcards},
		{"SubscribeWildcardOverlapDeliversOnce", testSubscribeWildcardOverlap},
		{"SubscribeOddNames", testSubscribeOddNames},
		{"DeliveryOrderPerChannel", testDeliveryOrderPerChannel},
		{"Control", testControl},
		{"HandlerWorkOffDeliveryPath", testHandlerWork},
		{"Presence", testPresence},
		{"PresenceChannels", testPresenceChannels},
		{"PresenceClaim", testPresenceClaim},
		{"UserSessions", testUserSessions},
		{"UserSessionsFirstLastOnce", testUserSessionsFirstLastOnce},
		{"UserQueue", testUserQueue},
		{"Nodes", testNodes},
		{"RecordsPerTenantAndUser", testRecordsPerTenantAndUser},
		{"RecordsLastSeen", testRecordsLastSeen},
		{"RecordsAddAuthHash", testRecordsAddAuthHash},
		{"RecordsClosed", testRecordsClosed},
		{"AdminSessions", testAdminSessions},
		{"TOTPCodeOnce", testTOTPCodeOnce},
		{"Concurrency", testConcurrency},
		{"Closed", testClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newEngine)
		})
	}
}

// ctxFor is the context of one case's engine calls.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 4*waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond every few milliseconds until it holds or the wait
// times out. It is for state that changes with time (TTLs), where there is
// nothing to wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
