package pool

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// onRegister is the registrar, following RFC 3261 §10.3 step by step.
func (n *node) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	p := n.pool
	// Steps 1–2: the Request-URI names our domain (or our address); Require is not
	// supported for any extension.
	if !n.isOurDomain(req.Recipient) {
		n.respond(req, tx, newSIPError(404, "Domain Not Served"))
		return
	}
	if h := req.GetHeader("Require"); h != nil {
		e := newSIPError(420, "Bad Extension")
		e.Headers = []sip.Header{sip.NewHeader("Unsupported", h.Value())}
		n.respond(req, tx, e)
		return
	}
	// Step 3: authenticate (RFC 3261 §22).
	authUser, ok := n.authenticate(req, tx)
	if !ok {
		return
	}
	// Step 4: the authenticated user may change only its own bindings.
	aor := req.To().Address.User
	if aor != authUser {
		n.respond(req, tx, newSIPError(403, "Forbidden: Not Your Address-Of-Record"))
		return
	}
	// Step 5: the address-of-record must be one of ours (it is: authUser is in users).

	// Step 6: contacts and their expiry.
	now := p.opt.Now()
	headerExpires := -1
	if h := req.GetHeader("Expires"); h != nil {
		v, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			n.respond(req, tx, newSIPError(400, "Bad Expires"))
			return
		}
		headerExpires = int(min(v, 1<<31-1))
	}
	contacts, e := n.contacts(req, headerExpires)
	if e != nil {
		n.respond(req, tx, e)
		return
	}
	callID := req.CallID().Value()
	cseq := req.CSeq().SeqNo
	if len(contacts) == 1 && contacts[0].wildcard {
		// "Contact: *" with Expires: 0 removes every binding (§10.2.2).
		p.bindings.RemoveAll(aor)
		n.log.Info("unregistered all", "user", aor)
	} else {
		existing := map[string]Binding{}
		for _, b := range p.bindings.Get(aor, now) {
			existing[contactKey(b.Contact)] = b
		}
		for _, c := range contacts {
			key := contactKey(c.uri)
			if old, ok := existing[key]; ok && old.CallID == callID && cseq <= old.CSeq {
				// Step 7: an older or repeated request of the same registration.
				n.respond(req, tx, newSIPError(500, "Out Of Order Registration"))
				return
			}
		}
		for _, c := range contacts {
			key := contactKey(c.uri)
			if c.expires == 0 {
				p.bindings.Remove(aor, key)
				continue
			}
			p.bindings.Put(aor, Binding{
				Contact: c.uri,
				Source:  req.Source(),
				Expires: now.Add(time.Duration(c.expires) * time.Second),
				CallID:  callID,
				CSeq:    cseq,
				Updated: now,
			})
		}
		// Bound contacts per user: the oldest refreshed ones go first.
		if bs := p.bindings.Get(aor, now); len(bs) > p.opt.MaxContacts {
			for _, b := range bs[p.opt.MaxContacts:] {
				p.bindings.Remove(aor, contactKey(b.Contact))
			}
		}
		n.log.Debug("registered", "user", aor, "contacts", len(contacts))
	}
	// Step 8: 200 listing every current binding with its remaining time.
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range p.bindings.Get(aor, now) {
		ch := &sip.ContactHeader{Address: b.Contact}
		left := int(b.Expires.Sub(now).Round(time.Second) / time.Second)
		ch.Params.Add("expires", strconv.Itoa(left))
		res.AppendHeader(ch)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	if err := tx.Respond(res); err != nil {
		n.log.Debug("register respond failed", "error", err)
	}
}

type regContact struct {
	uri      sip.Uri
	expires  int
	wildcard bool
}

// contacts reads the Contact headers of a REGISTER and the expiry each asks for,
// answering 423 when one is shorter than MinExpires (§10.3 step 6) and clamping long ones
// to MaxExpires.
func (n *node) contacts(req *sip.Request, headerExpires int) ([]regContact, *sipError) {
	o := n.pool.opt
	minExp := int(o.MinExpires / time.Second)
	maxExp := int(o.MaxExpires / time.Second)
	var out []regContact
	for _, h := range req.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, newSIPError(400, "Bad Contact")
		}
		if ch.Address.Wildcard {
			if headerExpires != 0 || len(req.GetHeaders("Contact")) != 1 {
				// §10.3 step 6: "*" only with Expires: 0 and alone.
				return nil, newSIPError(400, "Wildcard Contact Needs Expires 0")
			}
			return []regContact{{wildcard: true}}, nil
		}
		if s := strings.ToLower(ch.Address.Scheme); s != "sip" && s != "sips" {
			return nil, newSIPError(416, "Unsupported Contact URI Scheme")
		}
		if _, err := netip.ParseAddr(ch.Address.Host); err != nil {
			// The proxy never resolves names: it must not send a packet to an address
			// that nobody configured, and a hostname in a Contact is rare in practice.
			return nil, newSIPError(400, "Contact Host Must Be An IP Address")
		}
		exp := headerExpires
		if v, ok := ch.Params.Get("expires"); ok {
			e, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return nil, newSIPError(400, "Bad Contact Expires")
			}
			exp = int(min(e, 1<<31-1))
		}
		if exp < 0 {
			exp = int(o.DefaultExpires / time.Second)
		}
		if exp > 0 && exp < minExp {
			e := newSIPError(423, "Interval Too Brief")
			e.Headers = []sip.Header{sip.NewHeader("Min-Expires", strconv.Itoa(minExp))}
			return nil, e
		}
		if exp > maxExp {
			exp = maxExp
		}
		u := ch.Address
		out = append(out, regContact{uri: *u.Clone(), expires: exp})
	}
	if len(out) > o.MaxContacts {
		return nil, newSIPError(403, "Too Many Contacts")
	}
	return out, nil
}

// isOurDomain accepts the pool's domain, its name and its own address as the registrar's
// Request-URI host.
func (n *node) isOurDomain(u sip.Uri) bool {
	cfg := n.pool.cfg
	switch u.Host {
	case cfg.Domain, cfg.Name, n.host:
		return true
	}
	return false
}
