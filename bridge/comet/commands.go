package comet

import pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"

// Paths the face serves (§1, §2.2).
const (
	// PathAPI is the prefix the face owns: everything under it that is not
	// served below answers Comet's 404 shape, never another face's.
	PathAPI           = "/api/v1/"
	PathEventStream   = "/api/v1/events/stream"
	PathSessionStart  = "/api/v1/admin/account/session-start"
	PathSessionRevoke = "/api/v1/admin/account/session-revoke"
	PathMetaVersion   = "/api/v1/admin/meta/version"
	// AdminMetaWebhookOptionsGet and AdminMetaWebhookOptionsSet (§3.4).
	PathWebhookOptionsGet = "/api/v1/admin/meta/webhook-options/get"
	PathWebhookOptionsSet = "/api/v1/admin/meta/webhook-options/set"
)

// Credentials are the admin fields of a request: the five login frames of
// the event stream, or the form fields / X-Comet-Admin-* headers of an API
// call (§2.1).
type Credentials struct {
	Username   string
	AuthType   pb.AdminAuthType
	Password   string
	SessionKey string
	TOTP       string
}

// endpoint is one admin API call.
type endpoint int

const (
	endpointUnknown endpoint = iota
	endpointSessionStart
	endpointSessionRevoke
	endpointMetaVersion
	endpointWebhookOptionsGet
	endpointWebhookOptionsSet
)

// endpoints maps paths to the admin calls served. Every call is a POST
// (the SDKs post forms; §2.2).
var endpoints = map[string]endpoint{
	PathSessionStart:  endpointSessionStart,
	PathSessionRevoke: endpointSessionRevoke,
	PathMetaVersion:   endpointMetaVersion,

	PathWebhookOptionsGet: endpointWebhookOptionsGet,
	PathWebhookOptionsSet: endpointWebhookOptionsSet,
}
