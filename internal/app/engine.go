package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// engineDialTimeout bounds the first connection to Redis at start.
const engineDialTimeout = 10 * time.Second

// newEngine builds the engine the config names.
func newEngine(cfg Config, log *slog.Logger) (engine.Engine, error) {
	switch cfg.Engine.Type {
	case "", "memory":
		return memory.New(memory.Options{}), nil
	case "redis":
		ctx, cancel := context.WithTimeout(context.Background(), engineDialTimeout)
		defer cancel()
		e, err := redis.New(ctx, redis.Options{Address: cfg.Engine.Address, Prefix: cfg.Engine.Prefix, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("redis engine at %s: %w", cfg.Engine.Address, err)
		}
		return e, nil
	default:
		return nil, fmt.Errorf("engine.type %q is not available", cfg.Engine.Type)
	}
}

// wrapEngine, when set (by tests only), wraps every engine the process
// builds, so that a test can watch the calls made to it.
var wrapEngine func(engine.Engine) engine.Engine
