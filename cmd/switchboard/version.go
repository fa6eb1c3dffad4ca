package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/switchboard-hub/switchboard/internal/app"
)

func version(w io.Writer) error {
	_, err := fmt.Fprintf(w, "switchboard %s (%s, %s/%s)\n", app.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
