package drp

import (
	"strings"
	"testing"
)

// FuzzTokenUser: tokenUser accepts exactly /api/v3/users/<user>/token with
// a user of 1..maxUserLen bytes and no slash, and gives that user back.
func FuzzTokenUser(f *testing.F) {
	for _, s := range []string{"/api/v3/users/rocketskates/token", "/api/v3/users//token", "/api/v3/users/a/b/token",
		"/api/v3/users/token", "/api/v3/info", "/api/v3/users/x/token/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		user, ok := tokenUser(path)
		want := strings.HasPrefix(path, pathUsersPrefix) && strings.HasSuffix(path, pathTokenSuffix) &&
			len(path) > len(pathUsersPrefix)+len(pathTokenSuffix)
		if want {
			u := path[len(pathUsersPrefix) : len(path)-len(pathTokenSuffix)]
			want = len(u) <= maxUserLen && !strings.Contains(u, "/")
		}
		if ok != want {
			t.Fatalf("tokenUser(%q) ok = %v, want %v", path, ok, want)
		}
		if ok && pathUsersPrefix+user+pathTokenSuffix != path {
			t.Fatalf("tokenUser(%q) = %q", path, user)
		}
	})
}
