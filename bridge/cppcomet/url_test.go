package cppcomet_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/cppcomet"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name     string
		uri      string
		want     cppcomet.Params
		wantCode int // handshake error code; 0 = none
	}{
		{
			name: "js client",
			uri:  "/ws/sesion=KEY&myid=5&devid=15&v=4.08&uuid=Db_YTZOMMQc902yluqo7mLns3RXWFz2t&api=js",
			want: cppcomet.Params{Session: "KEY", UserID: 5, DevID: 15, Major: 4, Minor: 8, UUID: "Db_YTZOMMQc902yluqo7mLns3RXWFz2t"},
		},
		{
			name: "undefined values (documentation example)",
			uri:  "/ws/sesion=undefined&myid=undefined&devid=15&v=3.31&uuid=Db_YTZOMMQc902yluqo7mLns3RXWFz2t&api=js",
			want: cppcomet.Params{Session: "undefined", DevID: 15, Major: 3, Minor: 31, UUID: "Db_YTZOMMQc902yluqo7mLns3RXWFz2t"},
		},
		{
			name: "empty values",
			uri:  "/comet-server/ws/sesion=&myid=&devid=&v=4.08",
			want: cppcomet.Params{Major: 4, Minor: 8},
		},
		{
			name: "doubled slash prefix",
			uri:  "//ws/sesion=a&myid=1&devid=0&v=4.0",
			want: cppcomet.Params{Session: "a", UserID: 1, Major: 4},
		},
		{
			name: "names are not checked, only positions",
			uri:  "/ws/x=a&y=2&z=3&w=4.1",
			want: cppcomet.Params{Session: "a", UserID: 2, DevID: 3, Major: 4, Minor: 1},
		},
		{
			name: "negative and garbage ids are 0",
			uri:  "/ws/sesion=a&myid=-4&devid=7x&v=4.08",
			want: cppcomet.Params{Session: "a", Major: 4, Minor: 8},
		},
		{
			name: "uuid only by name, cut to 32",
			uri:  "/ws/sesion=a&myid=1&devid=0&v=4.08&api=js&uuid=zz",
			want: cppcomet.Params{Session: "a", UserID: 1, Major: 4, Minor: 8},
		},
		{
			name: "long uuid",
			uri:  "/ws/sesion=a&myid=1&devid=0&v=4.08&uuid=" + strings.Repeat("u", 40),
			want: cppcomet.Params{Session: "a", UserID: 1, Major: 4, Minor: 8, UUID: strings.Repeat("u", 32)},
		},
		{name: "no =", uri: "/ws/", wantCode: 401},
		{name: "no user part", uri: "/ws/sesion=a", wantCode: 401},
		{name: "user part without =", uri: "/ws/sesion=a&myid", wantCode: 401},
		{name: "no dev part", uri: "/ws/sesion=a&myid=1", wantCode: 406},
		{name: "no version part", uri: "/ws/sesion=a&myid=1&devid=1", wantCode: 418},
		{name: "version without minor", uri: "/ws/sesion=a&myid=1&devid=1&v=4", wantCode: 418},
		{name: "version undefined", uri: "/ws/sesion=a&myid=1&devid=1&v=undefined", wantCode: 418},
		{name: "version with letters", uri: "/ws/sesion=a&myid=1&devid=1&v=4.0b", wantCode: 418},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cppcomet.ParseURL(tt.uri)
			var herr *cppcomet.HandshakeError
			switch {
			case tt.wantCode != 0:
				if !errors.As(err, &herr) || herr.Code != tt.wantCode {
					t.Fatalf("err = %v, want handshake error %d", err, tt.wantCode)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			case got != tt.want:
				t.Fatalf("params = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParamsTenantAndLegacy(t *testing.T) {
	for _, tt := range []struct {
		p      cppcomet.Params
		tenant string
		legacy bool
	}{
		{cppcomet.Params{DevID: 0, Major: 4}, "", false},
		{cppcomet.Params{DevID: 15, Major: 3}, "15", true},
	} {
		if got := tt.p.Tenant(); got != tt.tenant {
			t.Fatalf("Tenant() = %q, want %q", got, tt.tenant)
		}
		if got := tt.p.Legacy(); got != tt.legacy {
			t.Fatalf("Legacy() = %v, want %v", got, tt.legacy)
		}
	}
}

func TestParamsGeneration(t *testing.T) {
	for _, tt := range []struct {
		major int
		want  cppcomet.Generation
	}{
		{5, cppcomet.Gen4}, {4, cppcomet.Gen4}, {3, cppcomet.Gen3}, {2, cppcomet.Gen3}, {1, cppcomet.Gen1}, {0, cppcomet.Gen1},
	} {
		if got := (cppcomet.Params{Major: tt.major}).Generation(); got != tt.want {
			t.Fatalf("v %d: Generation() = %v, want %v", tt.major, got, tt.want)
		}
	}
}
