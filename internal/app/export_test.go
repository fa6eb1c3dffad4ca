package app

import "github.com/switchboard-hub/switchboard/services/engine"

// SetEngineWrapper makes the servers started afterwards wrap their engine
// with f; nil undoes it.
func SetEngineWrapper(f func(engine.Engine) engine.Engine) { wrapEngine = f }
