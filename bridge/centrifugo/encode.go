package centrifugo

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// Reply is the answer to one command: one element of the response array.
type Reply struct {
	UID    string // omitted when empty
	Method string
	Error  string // a v1 error string; "" is written as null
	Advice string // "fix" or "retry"; omitted when empty
	Body   []byte // the method's JSON body; nil is written as null
}

// AppendReplies appends the response body: always a JSON array with one
// element per command, in order, also for a single command
// (centrifugo-v1.md §3.2). Elements are written by hand so the key order is
// v1's — uid?, method, error, advice?, body — and bodies keep event data
// byte for byte.
func AppendReplies(dst []byte, replies []Reply) []byte {
	dst = append(dst, '[')
	for i, r := range replies {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendReply(dst, r)
	}
	return append(dst, ']')
}

func appendReply(dst []byte, r Reply) []byte {
	dst = append(dst, '{')
	if r.UID != "" {
		dst = append(dst, `"uid":`...)
		dst = appendString(dst, r.UID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"method":`...)
	dst = appendString(dst, r.Method)
	dst = append(dst, `,"error":`...)
	if r.Error == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, r.Error)
	}
	if r.Advice != "" {
		dst = append(dst, `,"advice":`...)
		dst = appendString(dst, r.Advice)
	}
	dst = append(dst, `,"body":`...)
	if r.Body == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, r.Body...)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string with encoding/json's escaping
// (HTML characters escaped), which is what v1 produced.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	// Printable ASCII without quote, backslash or HTML characters:
	// encoding/json writes it as it is.
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendRaw appends JSON text verbatim. The contract promises Event.data is
// one JSON value; should a stored value not be, it is sent as a JSON string
// so that one bad event cannot make the whole response unparsable.
func appendRaw(dst []byte, raw string) []byte {
	if raw == "" {
		return append(dst, "null"...)
	}
	if !json.Valid([]byte(raw)) {
		return appendString(dst, raw)
	}
	return append(dst, raw...)
}

// presenceBody is {"channel":C,"data":{"<client id>":ClientInfo,...}}. The
// key of an entry is the session's face-level client id, or its session id
// when it has none; entries are sorted by key (v1 marshalled a Go map, which
// sorts too) and a repeated key is kept once.
func presenceBody(channel string, sessions []*pb.Session) []byte {
	type entry struct {
		id string
		s  *pb.Session
	}
	entries := make([]entry, 0, len(sessions))
	for _, s := range sessions {
		id := s.GetClient()
		if id == "" {
			id = s.GetId()
		}
		entries = append(entries, entry{id, s})
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.id, b.id) })

	dst := []byte(`{"channel":`)
	dst = appendString(dst, channel)
	dst = append(dst, `,"data":{`...)
	for i, e := range entries {
		if i > 0 && entries[i-1].id == e.id {
			continue
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, e.id)
		dst = append(dst, ':')
		dst = appendClientInfo(dst, e.s.GetUser(), e.id, e.s.GetInfo())
	}
	return append(dst, "}}"...)
}

// appendClientInfo writes v1's ClientInfo {"user","client","default_info"?,
// "channel_info"?} (centrifugo-v1.md §3.3).
func appendClientInfo(dst []byte, user, client, info string) []byte {
	dst = append(dst, `{"user":`...)
	dst = appendString(dst, user)
	dst = append(dst, `,"client":`...)
	dst = appendString(dst, client)
	def, ch := splitInfo(info)
	if def != "" {
		dst = append(dst, `,"default_info":`...)
		dst = appendRaw(dst, def)
	}
	if ch != "" {
		dst = append(dst, `,"channel_info":`...)
		dst = appendRaw(dst, ch)
	}
	return append(dst, '}')
}

// splitInfo reads a session's info JSON text. A face that speaks v1 stores
// the ClientInfo form {"default_info":...,"channel_info":...}; its members
// are used. Any other value is the connection's info as a whole: v1's
// default_info (the info given at connect).
func splitInfo(info string) (defaultInfo, channelInfo string) {
	if info == "" {
		return "", ""
	}
	if info[0] == '{' {
		var ci struct {
			DefaultInfo json.RawMessage `json:"default_info"`
			ChannelInfo json.RawMessage `json:"channel_info"`
		}
		if json.Unmarshal([]byte(info), &ci) == nil && (ci.DefaultInfo != nil || ci.ChannelInfo != nil) {
			return nonNull(ci.DefaultInfo), nonNull(ci.ChannelInfo)
		}
	}
	return info, ""
}

func nonNull(raw json.RawMessage) string {
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// historyBody is {"channel":C,"data":[message,...]} with the events in the
// order the core returned them (newest first, as requested). Presence
// announcements are not messages and are skipped.
func historyBody(channel string, events []*pb.Event) []byte {
	dst := []byte(`{"channel":`)
	dst = appendString(dst, channel)
	dst = append(dst, `,"data":[`...)
	first := true
	for _, ev := range events {
		if ev.GetKind() != pb.EventKind_EVENT_KIND_UNSPECIFIED {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendMessage(dst, ev)
	}
	return append(dst, "]}"...)
}

// appendMessage writes a v1 message {"uid","timestamp","channel","data",
// "client"?,"info"?}: v1.8's key order, with the "timestamp" (unix seconds
// as a string) of v1 before 1.7 that the v1 docs show; client and info are
// omitted when empty (v1.3+). info is the publisher's ClientInfo JSON as
// stored; an event from a face that only knows the publishing user gets
// {"user","client"}.
func appendMessage(dst []byte, ev *pb.Event) []byte {
	dst = append(dst, `{"uid":`...)
	dst = appendString(dst, ev.GetId())
	dst = append(dst, `,"timestamp":"`...)
	dst = strconv.AppendInt(dst, ev.GetTime().GetSeconds(), 10)
	dst = append(dst, '"')
	dst = append(dst, `,"channel":`...)
	dst = appendString(dst, ev.GetChannel())
	dst = append(dst, `,"data":`...)
	dst = appendRaw(dst, ev.GetData())
	pub := ev.GetPublisher()
	if c := pub.GetClient(); c != "" {
		dst = append(dst, `,"client":`...)
		dst = appendString(dst, c)
	}
	switch {
	case pub.GetInfo() != "":
		dst = append(dst, `,"info":`...)
		dst = appendRaw(dst, pub.GetInfo())
	case pub.GetUser() != "":
		dst = append(dst, `,"info":`...)
		dst = appendClientInfo(dst, pub.GetUser(), pub.GetClient(), "")
	}
	return append(dst, '}')
}

// channelsBody is {"data":["chan",...]}.
func channelsBody(list []*pb.ChannelSummary) []byte {
	dst := []byte(`{"data":[`)
	for i, c := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, c.GetChannel())
	}
	return append(dst, "]}"...)
}

// metricsIntervalSeconds is stats' "metrics_interval". v1 aggregated its
// counters over this many seconds (node_metrics_interval, default 60); the
// contract's counters are cumulative since the node started, so the value
// only keeps the field v1 tools read.
const metricsIntervalSeconds = 60

// statsBody is {"data":{"nodes":[NodeInfo,...],"metrics_interval":60}}.
func statsBody(nodes []*pb.NodeInfo) []byte {
	dst := []byte(`{"data":{"nodes":[`)
	for i, n := range nodes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendNodeInfo(dst, n)
	}
	dst = append(dst, `],"metrics_interval":`...)
	dst = strconv.AppendInt(dst, metricsIntervalSeconds, 10)
	return append(dst, "}}"...)
}

// nodeBody is {"data":NodeInfo}.
func nodeBody(n *pb.NodeInfo) []byte {
	dst := []byte(`{"data":`)
	dst = appendNodeInfo(dst, n)
	return append(dst, '}')
}

// channelErrorBody is the body of a failed presence or history:
// {"channel":C,"data":null}, as v1 sends it.
func channelErrorBody(channel string) []byte {
	dst := []byte(`{"channel":`)
	dst = appendString(dst, channel)
	return append(dst, `,"data":null}`...)
}

// dataErrorBody is the body of a failed channels, stats or node call.
var dataErrorBody = []byte(`{"data":null}`)

// nodeCounter names one NodeInfo counter.
type nodeCounter struct {
	name string
	get  func(*pb.NodeInfo) uint64
}

// v16Metrics maps the contract's counters onto v1.6+ metric names
// (centrifugo-v1.md §3.3, NodeInfo); sorted by name, the order v1's map
// marshalled in. node_num_subscriptions and node_num_slow_consumers have no
// v1 counterpart and are Switchboard's own. v1's HDR histograms are not
// measured and are left out rather than reported as zero.
var v16Metrics = sortedCounters([]nodeCounter{
	{"node_num_clients", (*pb.NodeInfo).GetNumSessions},
	{"node_num_unique_clients", (*pb.NodeInfo).GetNumUsers},
	{"node_num_channels", (*pb.NodeInfo).GetNumChannels},
	{"node_num_goroutine", (*pb.NodeInfo).GetNumGoroutines},
	{"node_memory_sys", (*pb.NodeInfo).GetMemorySysBytes},
	{"node_cpu_usage", (*pb.NodeInfo).GetCpuUsagePercent},
	{"node_uptime_seconds", (*pb.NodeInfo).GetUptimeSeconds},
	{"node_num_client_msg_published", (*pb.NodeInfo).GetNumPublished},
	{"http_api_num_requests", (*pb.NodeInfo).GetNumApiRequests},
	{"client_num_msg_sent", (*pb.NodeInfo).GetNumDelivered},
	{"client_bytes_in", (*pb.NodeInfo).GetBytesClientIn},
	{"client_bytes_out", (*pb.NodeInfo).GetBytesClientOut},
	{"node_num_subscriptions", (*pb.NodeInfo).GetNumSubscriptions},
	{"node_num_slow_consumers", (*pb.NodeInfo).GetNumSlowConsumers},
})

// flatMetrics are the pre-1.6 top-level keys, in the order of the v1
// documentation's node (the seed). Why both forms: the v1 docs show only
// this flat node, and the docs were never updated, so monitoring written
// from them reads these keys; tools written against v1.6–1.8 servers read
// "metrics". JSON readers ignore keys they do not know, so one object
// serves both. num_msg_queued counts events queued to subscription streams
// (v1: to client queues), num_msg_sent those delivered to them.
var flatMetrics = []nodeCounter{
	{"num_goroutine", (*pb.NodeInfo).GetNumGoroutines},
	{"num_clients", (*pb.NodeInfo).GetNumSessions},
	{"num_unique_clients", (*pb.NodeInfo).GetNumUsers},
	{"num_channels", (*pb.NodeInfo).GetNumChannels},
	{"gomaxprocs", func(n *pb.NodeInfo) uint64 { return uint64(n.GetGomaxprocs()) }},
	{"num_cpu", func(n *pb.NodeInfo) uint64 { return uint64(n.GetNumCpu()) }},
	{"num_msg_published", (*pb.NodeInfo).GetNumPublished},
	{"num_msg_queued", (*pb.NodeInfo).GetNumDelivered},
	{"num_msg_sent", (*pb.NodeInfo).GetNumDelivered},
	{"num_api_requests", (*pb.NodeInfo).GetNumApiRequests},
	{"num_client_requests", (*pb.NodeInfo).GetNumClientRequests},
	{"bytes_client_in", (*pb.NodeInfo).GetBytesClientIn},
	{"bytes_client_out", (*pb.NodeInfo).GetBytesClientOut},
	{"memory_sys", (*pb.NodeInfo).GetMemorySysBytes},
	{"cpu_usage", (*pb.NodeInfo).GetCpuUsagePercent},
}

func sortedCounters(cs []nodeCounter) []nodeCounter {
	slices.SortFunc(cs, func(a, b nodeCounter) int { return strings.Compare(a.name, b.name) })
	return cs
}

// appendNodeInfo writes the v1.8 NodeInfo {"uid","version","name",
// "started_at","metrics":{...}} followed by the flat pre-1.6 keys.
func appendNodeInfo(dst []byte, n *pb.NodeInfo) []byte {
	dst = append(dst, `{"uid":`...)
	dst = appendString(dst, n.GetId())
	dst = append(dst, `,"version":`...)
	dst = appendString(dst, n.GetVersion())
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, n.GetName())
	dst = append(dst, `,"started_at":`...)
	dst = strconv.AppendInt(dst, n.GetStartedAt().GetSeconds(), 10)
	dst = append(dst, `,"metrics":{`...)
	for i, m := range v16Metrics {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, m.name)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, m.get(n), 10)
	}
	dst = append(dst, '}')
	for _, m := range flatMetrics {
		dst = append(dst, ',')
		dst = appendString(dst, m.name)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, m.get(n), 10)
	}
	return append(dst, '}')
}
