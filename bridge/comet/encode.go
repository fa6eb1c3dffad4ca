package comet

import (
	"encoding/json"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

// The stream's login answers, exactly these bytes (§2.3, §6.1).
var (
	frameOK     = []byte("200 OK")
	frameUnauth = []byte("403 Unauth")
)

// encodeEvent is one StreamableEvent frame: Comet's JSON shape (§3.1).
func encodeEvent(e *pb.StreamableEvent) []byte {
	return streamable.FromProto(e).Marshal()
}

// APIResponse is Comet's CometAPIResponseMessage (§2.2).
type APIResponse struct {
	Status  int    `json:"Status"`
	Message string `json:"Message"`
}

// SessionKeyResponse is Comet's SessionKeyRegeneratedResponse (§2.2).
type SessionKeyResponse struct {
	Status      int    `json:"Status"`
	Message     string `json:"Message"`
	SessionKey  string `json:"SessionKey"`
	SessionType string `json:"SessionType"`
}

// VersionInfo is the part of Comet's ServerMetaVersionInfo that
// Switchboard can fill (§3.2).
type VersionInfo struct {
	Version         string `json:"Version"`
	VersionCodename string `json:"VersionCodename"`
	ServerStartTime int64  `json:"ServerStartTime"`
	CurrentTime     int64  `json:"CurrentTime"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"Status":500,"Message":"Internal error"}`)
	}
	return b
}
