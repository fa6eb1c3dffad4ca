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
