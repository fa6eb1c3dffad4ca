package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRule keeps the architecture visible: bridges are gRPC
// clients only and never reach into services/, and services never import
// bridges. Only cmd/switchboard wires both.
func TestDependencyRule(t *testing.T) {
	const mod = "github.com/switchboard-hub/switchboard/"
	rules := []struct{ pkgs, forbidden string }{
		{"./bridge/...", mod + "services/"},
		{"./services/...", mod + "bridge/"},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../../"+strings.TrimPrefix(r.pkgs, "./")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, r.forbidden) {
				t.Errorf("%s depends on %s", r.pkgs, dep)
			}
		}
	}
}
