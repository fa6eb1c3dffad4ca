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
