package redis_test

import (
	"testing"

	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/enginetest"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

func TestSuite(t *testing.T) {
	redistest.Addr(t)
	enginetest.Run(t, func(t *testing.T) engine.Engine {
		return newEngine(t, testPrefix(t), redis.Options{})
	})
}

func TestWebhooks(t *testing.T) {
	redistest.Addr(t)
	prefixes := map[engine.Webhooks]string{}
	enginetest.RunWebhooks(t,
		func(t *testing.T) engine.Webhooks {
			prefix := testPrefix(t)
			e := newEngine(t, prefix, redis.Options{})
			prefixes[e] = prefix
			return e
		},
		func(t *testing.T, s engine.Webhooks) engine.Webhooks {
			s.(*redis.Engine).Close()
			return newEngine(t, prefixes[s], redis.Options{})
		})
}
