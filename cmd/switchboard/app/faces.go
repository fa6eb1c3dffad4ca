package app

import (
	"net/http"
)

// mountFaces puts every protocol face on the HTTP mux.
func (a *App) mountFaces(mux *http.ServeMux) error {
	return nil
}
