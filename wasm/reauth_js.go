package main

import (
	"context"
	"syscall/js"
	"time"

	"github.com/parkway/parkway/signaling"
)

// renewSession answers the gateway's reauth (its token expires at r.Deadline): it signs
// in again as the same user for a fresh token, keeps it for this tab, and presents it
// on the live websocket with an auth message, so a signed-in page goes on without a
// reconnect and without the user noticing. It never blocks the read loop.
//
// A page that cannot get a token by itself — sign-in by name is demo-only, and a widget
// session comes from a ticket its host page bought — lets the deadline pass: the gateway
// then closes the session saying the token expired, and the usual reconnect asks for a
// new sign-in.
func (c *client) renewSession(ws *socket, r *signaling.Reauth) {
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	if user == "" {
		if s, ok := loadSession(); ok {
			user = s.User
		}
	}
	warn := func(msg string) { global.Get("console").Call("warn", "parkway: "+msg) }
	if user == "" {
		warn("the session token expires at " + r.Deadline.Format(time.RFC3339) + " and this page has no user to renew it for")
		return
	}
	go func() {
		ctx, cancel := context.WithDeadline(context.Background(), r.Deadline)
		defer cancel()
		s, err := signIn(ctx, user, js.Undefined())
		if err != nil {
			warn("could not renew the session token before it expires at " + r.Deadline.Format(time.RFC3339) + ": " + err.Error())
			return
		}
		saveSession(s)
		if err := c.write(ws, "", &signaling.Auth{Token: s.Token}); err != nil {
			warn("could not present the renewed token: " + err.Error())
		}
	}()
}
