package comet

import pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"

// toProto builds the AdminService credentials; address and resource say
// where the credentials came from (rate limits, logs, login events).
func (c Credentials) toProto(address, resource string) *pb.AdminCredentials {
	return &pb.AdminCredentials{
		Username:   c.Username,
		AuthType:   c.AuthType,
		Password:   c.Password,
		SessionKey: c.SessionKey,
		Totp:       c.TOTP,
		Address:    address,
		Resource:   resource,
	}
}

// WebhookOption is Comet's JSON shape of one webhook endpoint (§3.4).
type WebhookOption struct {
	URL                   string            `json:"URL"`
	WhiteListedEventTypes []int32           `json:"WhiteListedEventTypes"`
	Level                 string            `json:"Level"`
	CustomHeaders         map[string]string `json:"CustomHeaders"`
	// Parallel is Switchboard's own: deliveries in flight at once (absent
	// or 1: in order).
	Parallel uint32 `json:"Parallel,omitempty"`
}

// webhookOptionsFromProto maps the contract's endpoint map onto Comet's.
func webhookOptionsFromProto(m map[string]*pb.WebhookOption) map[string]WebhookOption {
	out := make(map[string]WebhookOption, len(m))
	for name, o := range m {
		w := WebhookOption{URL: o.GetUrl(), WhiteListedEventTypes: o.GetWhiteListedEventTypes(), Level: o.GetLevel(), CustomHeaders: o.GetCustomHeaders(), Parallel: o.GetParallel()}
		if w.WhiteListedEventTypes == nil {
			w.WhiteListedEventTypes = []int32{}
		}
		if w.CustomHeaders == nil {
			w.CustomHeaders = map[string]string{}
		}
		if w.Level == "" {
			w.Level = "full"
		}
		out[name] = w
	}
	return out
}

// webhookOptionsToProto maps Comet's endpoint map onto the contract's.
func webhookOptionsToProto(m map[string]WebhookOption) map[string]*pb.WebhookOption {
	out := make(map[string]*pb.WebhookOption, len(m))
	for name, w := range m {
		out[name] = &pb.WebhookOption{Url: w.URL, WhiteListedEventTypes: w.WhiteListedEventTypes, Level: w.Level, CustomHeaders: w.CustomHeaders, Parallel: w.Parallel}
	}
	return out
}
