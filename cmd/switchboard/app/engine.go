package app

import (
	"fmt"
	"log/slog"

	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/memory"
)

// newEngine builds the engine the config names.
func newEngine(cfg Config, log *slog.Logger) (engine.Engine, error) {
	switch cfg.Engine.Type {
	case "", "memory":
		return memory.New(memory.Options{}), nil
	default:
		return nil, fmt.Errorf("engine.type %q is not available", cfg.Engine.Type)
	}
}
