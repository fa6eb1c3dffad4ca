// Package admin implements AdminService: it authenticates the
// administrators of the `admins` config section (password, bcrypt hash or
// plain; password + RFC 6238 TOTP, each code accepted once; session keys),
// issues and revokes session keys kept in the engine, limits failed logins
// per account and per address, and streams the hub's events as Comet
// StreamableEvents (package internal/streamable has the mapping).
//
// Login events (SEVT_ACCOUNT_ADMIN_LOGIN, _LOGIN_FAILED, _SESSION_START,
// _SESSION_REVOKE) are published through the hub on the reserved channel
// sys:admin, so that every node's streams see them.
package admin
