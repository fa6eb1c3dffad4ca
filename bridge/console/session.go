package console

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"sync"
	"time"
)

// kind of a console session.
const (
	kindAdmin = "admin"
	kindUser  = "user"
)

// session is one logged-in browser.
type session struct {
	kind     string
	username string
	key      string // admin session key, or the user's token
	csrf     string
	owned    bool // the console started the admin key: logout revokes it
	expires  time.Time
}

// sessions are kept in memory: a console session lives on the node that
// served the login (a restart logs the browser out; the admin key it was
// made from stays valid until it expires).
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	max int
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, max: 10000}
}

const cookieName = "sb_console"

func (s *sessions) create(w http.ResponseWriter, r *http.Request, sess *session) {
	id := rand.Text() + rand.Text()
	sess.csrf = rand.Text()
	sess.expires = time.Now().Add(s.ttl)
	s.mu.Lock()
	now := time.Now()
	for k, v := range s.m { // keep the map bounded: drop expired ones
		if len(s.m) < s.max {
			break
		}
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[id] = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: sess.expires,
	})
}

// get returns the request's live session, or nil.
func (s *sessions) get(r *http.Request) (string, *session) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[c.Value]
	if sess == nil {
		return "", nil
	}
	if time.Now().After(sess.expires) {
		delete(s.m, c.Value)
		return "", nil
	}
	return c.Value, sess
}

func (s *sessions) drop(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// csrfOK checks a mutation: the session's token in X-CSRF-Token, and an
// Origin (when the browser sends one) equal to the console's own.
func csrfOK(r *http.Request, sess *session) bool {
	if o := r.Header.Get("Origin"); o != "" && o != selfOrigin(r) {
		return false
	}
	t := r.Header.Get("X-CSRF-Token")
	return t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(sess.csrf)) == 1
}

func selfOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
