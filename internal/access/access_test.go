package access_test

import (
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
)

func TestAdmits(t *testing.T) {
	var (
		server = access.ServerReader
		guest  = access.Reader{}
		claims = access.Reader{User: "42"} // a user id it could not prove
		u42    = access.Reader{User: "42", Authenticated: true}
		u43    = access.Reader{User: "43", Authenticated: true}
		empty  = access.Reader{Authenticated: true}
	)
	users := &pb.Audience{Users: []string{"42", "44"}}
	authed := &pb.Audience{Authenticated: true}
	serverOnly := &pb.Audience{ServerOnly: true}
	tests := []struct {
		name string
		a    *pb.Audience
		r    access.Reader
		want bool
	}{
		{"open/guest", nil, guest, true},
		{"open/user", nil, u42, true},
		{"users/server", users, server, true},
		{"users/listed", users, u42, true},
		{"users/other", users, u43, false},
		{"users/guest", users, guest, false},
		{"users/claimed id", users, claims, false},
		{"users/empty id", &pb.Audience{Users: []string{""}}, empty, false},
		{"authenticated/user", authed, u43, true},
		{"authenticated/guest", authed, guest, false},
		{"authenticated/claimed id", authed, claims, false},
		{"authenticated+users/other", &pb.Audience{Authenticated: true, Users: []string{"42"}}, u43, false},
		{"server only/server", serverOnly, server, true},
		{"server only/user", serverOnly, u42, false},
		{"server only/guest", serverOnly, guest, false},
		{"server only/signed session", serverOnly, access.Reader{User: "42", Authenticated: true, Signed: true}, true},
		{"server only+users/signed other", &pb.Audience{ServerOnly: true, Users: []string{"42"}}, access.Reader{User: "43", Authenticated: true, Signed: true}, false},
	}
	for _, tt := range tests {
		if got := access.Admits(tt.a, tt.r); got != tt.want {
			t.Errorf("%s: Admits = %v; want %v", tt.name, got, tt.want)
		}
	}
}
