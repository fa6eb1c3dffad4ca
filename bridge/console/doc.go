// Package console is the operator's web console: a single page served by
// the binary (assets embedded, no CDN, no build step) over a small JSON API
// that calls the core like every other face.
//
//	GET  /                       the page (index.html, app.js, app.css under /console/)
//	POST /console/api/login      admin password (+ TOTP) → AdminService.StartSession
//	POST /console/api/login-key  admin session key or user token (form and postMessage SSO)
//	POST /console/api/logout
//	GET  /console/api/me         who is logged in, the CSRF token, the SSO origins
//	GET  /console/api/events     live events as Server-Sent Events (filters, since)
//	POST /console/api/publish    GET history, presence, channels, stats, webhooks
//	POST /console/api/disconnect, /console/api/unsubscribe
//
// The console's own session is a random id in an HttpOnly, SameSite=Strict
// cookie; every mutation needs the session's CSRF token in X-CSRF-Token and a
// same-origin Origin. Administrators' calls run with the face's trusted
// connection, after their session key was validated by AdminService (so a
// revoked key ends the console session); an end user's calls carry the
// user's own token, so the core applies the same read rules as to any user
// client. Pages are sent with a strict Content-Security-Policy whose
// frame-ancestors are the SSO origins.
package console
