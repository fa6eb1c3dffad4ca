package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const mod = "github.com/switchboard-hub/switchboard/"

// TestDependencyRule keeps the architecture visible: bridges are gRPC
// clients only and never reach into services/ or the process's wiring
// (internal/app), services never import bridges, and the engine knows
// nothing of the hub. Only internal/app wires both sides; cmd/ is the
// binary's commands, which no other package's tests import either.
func TestDependencyRule(t *testing.T) {
	rules := []struct {
		pkgs, forbidden string
		tests           bool // with the packages' tests
	}{
		{"./bridge/...", mod + "services/", false},
		{"./bridge/...", mod + "cmd/", false},
		{"./bridge/...", mod + "internal/app", false},
		{"./bridge/...", mod + "cmd/", true},
		{"./services/...", mod + "bridge/", false},
		{"./services/...", mod + "internal/app", false},
		{"./internal/...", mod + "cmd/", true},
		{"./services/engine/...", mod + "services/hub", false},
		{"./services/engine/...", mod + "services/user", false},
		{"./services/engine/...", mod + "services/auth", false},
	}
	for _, r := range rules {
		args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
		if r.tests {
			args = append(args, "-test")
		}
		out, err := exec.Command("go", append(args, "../../"+strings.TrimPrefix(r.pkgs, "./"))...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, r.forbidden) {
				t.Errorf("%s (tests: %v) depends on %s", r.pkgs, r.tests, dep)
			}
		}
	}
}

// TestEngineUsesMessagesOnly: the engine speaks the contract's messages
// (Event, Session, ...) but not its services. The generated gRPC stubs
// share a Go package with the messages, so the rule is checked by name:
// no engine source refers to anything declared in gen/**/*_grpc.pb.go, and
// none imports grpc itself.
func TestEngineUsesMessagesOnly(t *testing.T) {
	const gen = mod + "gen/switchboard/v1"
	stubs := map[string]bool{}
	fset := token.NewFileSet()
	files, err := filepath.Glob("../../gen/switchboard/v1/*_grpc.pb.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated service stubs found: %v", err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					stubs[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						stubs[sp.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							stubs[n.Name] = true
						}
					}
				}
			}
		}
	}
	for _, want := range []string{"HubServiceServer", "NewHubServiceClient", "HubService_ServiceDesc"} {
		if !stubs[want] {
			t.Fatalf("stub %s not found in the generated files: the check would see nothing", want)
		}
	}

	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "../../services/engine/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dir := range strings.Fields(string(out)) {
		sources, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, name := range sources {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			local := ""
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if path == "google.golang.org/grpc" || strings.HasPrefix(path, "google.golang.org/grpc/") {
					t.Errorf("%s imports %s", name, path)
				}
				if path == gen {
					local = "switchboardv1"
					if imp.Name != nil {
						local = imp.Name.Name
					}
				}
			}
			if local == "" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && stubs[sel.Sel.Name] {
					t.Errorf("%s: uses the gRPC service stub %s.%s", fset.Position(sel.Pos()), local, sel.Sel.Name)
				}
				return true
			})
		}
	}
}
