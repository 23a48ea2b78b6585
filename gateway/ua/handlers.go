package ua

import (
	"github.com/emiago/sipgo/sip"
)

// routes installs the request handlers. New requests go to users by Request-URI user
// (the pool retargets to our Contact, which names the user); in-dialog requests go to
// the dialog their To tag names.
func (m *Manager) routes() {
	m.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		if hasToTag(req) {
			d := m.dialogFor(req)
			if d == nil {
				respond(req, tx, 481, "Call/Transaction Does Not Exist")
				return
			}
			m.onReinvite(d, req, tx)
			return
		}
		m.onNewInvite(req, tx)
	})
	m.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		d := m.dialogFor(req)
		if d == nil {
			return
		}
		if d.ss != nil && d.ss.LoadState() < sip.DialogStateConfirmed {
			_ = d.ss.ReadAck(req, tx)
			return
		}
		select { // the ACK of a 2xx to a re-INVITE: stop retransmitting it
		case d.acks <- req.CSeq().SeqNo:
		default:
		}
	})
	m.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		d := m.dialogFor(req)
		if d == nil {
			respond(req, tx, 481, "Call/Transaction Does Not Exist")
			return
		}
		d.readBye(req, tx)
	})
	m.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL matching a pending INVITE is taken by the transaction layer; one that
		// reaches us matched nothing (RFC 3261 §9.2).
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
	})
	m.srv.OnRefer(func(req *sip.Request, tx sip.ServerTransaction) {
		d := m.dialogFor(req)
		if d == nil {
			// Out-of-dialog REFER would let anyone make our users call anywhere.
			respond(req, tx, 403, "Forbidden: REFER Only Within A Call")
			return
		}
		m.onRefer(d, req, tx)
	})
	m.srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		if d := m.dialogFor(req); d != nil {
			m.onReferNotify(d, req, tx)
			return
		}
		if w := m.watcherFor(req); w != nil {
			w.onNotify(req, tx)
			return
		}
		respond(req, tx, 481, "Subscription Does Not Exist")
	})
	m.srv.OnMessage(m.onMessage)
	m.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		respond(req, tx, 200, "OK", sip.NewHeader("Allow", allow), sip.NewHeader("Accept", "application/sdp"))
	})
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params.Has("tag")
}
