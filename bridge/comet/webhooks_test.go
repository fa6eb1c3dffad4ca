package comet_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/webhooktest"
)

func TestWebhookOptionsGetAndSet(t *testing.T) {
	s := start(t, nil)
	r := webhooktest.New(t)
	resp, body := post(t, s, "/api/v1/admin/meta/webhook-options/get", form(adminUser, "Password", adminPass, "", ""))
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("get before any set: %d %v", resp.StatusCode, body)
	}
	set := form(adminUser, "Password", adminPass, "", "")
	set.Set("WebhookOptions", fmt.Sprintf(`{"ExampleOrganization":{"URL":%q,"WhiteListedEventTypes":[],"Level":"full","CustomHeaders":{"Authorization":"Bearer f1d2d2f9"}}}`, r.URL))
	resp, body = post(t, s, "/api/v1/admin/meta/webhook-options/set", set)
	if resp.StatusCode != 200 || body["Status"] != float64(200) {
		t.Fatalf("set: %d %v", resp.StatusCode, body)
	}
	// The new endpoint gets SEVT_META_HELLO at once, then the announcement
	// of the change, without the header's value.
	if q := r.NextOK(t); q.Event.Type != 4000 || q.Header.Get("Authorization") != "Bearer f1d2d2f9" {
		t.Fatalf("first webhook %+v %v", q.Event, q.Header)
	}
	if q := r.NextOK(t); q.Event.Type != 4920 || q.Event.TypeString != "SEVT_WEBHOOK_OPTIONS_UPDATED" || string(q.Event.Data) == "" ||
		strings.Contains(string(q.Event.Data), "f1d2d2f9") {
		t.Fatalf("second webhook %+v %s", q.Event, q.Event.Data)
	}
	resp, body = post(t, s, "/api/v1/admin/meta/webhook-options/get", form(adminUser, "Password", adminPass, "", ""))
	org, _ := body["ExampleOrganization"].(map[string]any)
	if resp.StatusCode != 200 || org["URL"] != r.URL || org["Level"] != "full" {
		t.Fatalf("get after set: %d %v", resp.StatusCode, body)
	}
	cases := []struct {
		name, value string
		status      int
	}{
		{"missing", "", 400},
		{"not JSON", "{", 400},
		{"unknown field", `{"a":{"URL":"http://127.0.0.1:1/","Extra":1}}`, 400},
		{"bad URL", `{"a":{"URL":"ftp://x"}}`, 400},
	}
	for _, c := range cases {
		f := form(adminUser, "Password", adminPass, "", "")
		if c.value != "" {
			f.Set("WebhookOptions", c.value)
		}
		if resp, body := post(t, s, "/api/v1/admin/meta/webhook-options/set", f); resp.StatusCode != c.status || body["Status"] != float64(c.status) {
			t.Errorf("%s: %d %v", c.name, resp.StatusCode, body)
		}
	}
	if resp, body := post(t, s, "/api/v1/admin/meta/webhook-options/get", form(adminUser, "Password", "wrong", "", "")); resp.StatusCode != 403 {
		t.Fatalf("get with a wrong password: %d %v", resp.StatusCode, body)
	}
}
