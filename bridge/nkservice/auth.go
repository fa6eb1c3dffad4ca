package nkservice

import (
	"crypto/subtle"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-hub/switchboard/internal/token"
)

// Admin is an account of the config's admins: it logs in with its user name
// and password (plain or a bcrypt hash) and may use every command.
type Admin struct {
	Username string
	Password string
}

// credentials are what a login presents (§2): user, and a password (NcClient
// sends "pass") or a client token.
type credentials struct {
	User     string
	Password string
	Token    string
}

// identity is who logged in.
type identity struct {
	User  string
	Admin bool
}

// authenticator checks logins against the admins and the token secret.
type authenticator struct {
	admins      []Admin
	tokenSecret []byte
}

// login returns who the credentials prove, or false. A client token (in
// "token", or in the password fields) is checked by internal/token; its
// user is the token's, and a user name given beside it must be the same.
func (a *authenticator) login(c credentials) (identity, bool) {
	if c.User != "" && c.Password != "" && a.isAdmin(c.User, c.Password) {
		return identity{User: c.User, Admin: true}, true
	}
	tok := c.Token
	if tok == "" {
		tok = c.Password
	}
	if tok == "" || len(a.tokenSecret) == 0 {
		return identity{}, false
	}
	user, err := token.VerifyUser(tok, a.tokenSecret)
	if err != nil || (c.User != "" && c.User != user) {
		return identity{}, false
	}
	return identity{User: user}, true
}

// isAdmin tells whether user and password are those of an admin. It is the
// only place that decides it, so that the check can move to a core service.
// Every admin is compared, so the time taken does not tell which names exist.
func (a *authenticator) isAdmin(user, pass string) bool {
	var found *Admin
	for i := range a.admins {
		if subtle.ConstantTimeCompare([]byte(a.admins[i].Username), []byte(user)) == 1 && found == nil {
			found = &a.admins[i]
		}
	}
	if found == nil {
		return false
	}
	if strings.HasPrefix(found.Password, "$2a$") || strings.HasPrefix(found.Password, "$2b$") || strings.HasPrefix(found.Password, "$2y$") {
		return bcrypt.CompareHashAndPassword([]byte(found.Password), []byte(pass)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(found.Password), []byte(pass)) == 1
}

// Permissions say which classes users that are not admins may use.
type Permissions struct {
	// SubscribeClasses and SendClasses: classes a user may subscribe to and
	// send events of; "*" is every class but core. nil: ["*"].
	SubscribeClasses []string
	SendClasses      []string
}

// may reports whether who may subscribe to (send=false) or send an event
// with address addr. Everyone may use its own user and session events;
// admins everything (§2, issue defaults).
func (p Permissions) may(who identity, session string, addr Sub, send bool) bool {
	if who.Admin {
		return true
	}
	if addr.Class == ClassCore {
		switch addr.Subclass {
		case SubclassUserEvent:
			if addr.ObjID == who.User && addr.ObjID != "" {
				return true
			}
		case SubclassSessionEvent:
			if addr.ObjID == session && addr.ObjID != "" {
				return true
			}
		}
	}
	list := p.SubscribeClasses
	if send {
		list = p.SendClasses
	}
	if list == nil {
		list = []string{Wildcard}
	}
	for _, c := range list {
		if c == addr.Class || (c == Wildcard && addr.Class != ClassCore) {
			return true
		}
	}
	return false
}
