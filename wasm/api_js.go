package main

import (
	"syscall/js"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// The page's JavaScript API, for the widget's postMessage bridge and for host scripts:
//
//	window.parkway.command(name, args) → Promise
//
// resolves {ok: true, call?: id} once the gateway has done it (the call message that
// shows it), or rejects with {code, message, field?}: the gateway's signaling error
// codes, "bad-command" for an unknown name or malformed arguments, "not-ready" before
// the session is up. Names and arguments: dial{target}, answer{call?}, decline{call?},
// hangup{call?}, hold{call?}, resume{call?}, transfer{call?, target?, consult?},
// park{call?, orbit?}, retrieve{orbit}, mute{call?, muted}, dtmf{digits}; call defaults
// to the focus call, and a transfer with neither target nor consult is the attended
// transfer the Transfer button would do.
//
// Events: window "parkway" CustomEvents whose detail is {event, data}: ready {user},
// state {phase, status, homePool, activePool, resiliency, capabilities}, call {id,
// peer, state, direction, reason, orbit, muted}, parked {pool, calls}, connection
// {state}.

// apiReply settles one command's promise. The loop calls exactly one of its methods.
type apiReply struct {
	resolve, reject js.Value
}

func (r *apiReply) OK(call string) {
	res := map[string]any{"ok": true}
	if call != "" {
		res["call"] = call
	}
	r.resolve.Invoke(res)
}

func (r *apiReply) Fail(e *softphone.APIError) {
	res := map[string]any{"code": e.Code, "message": e.Message}
	if e.Field != "" {
		res["field"] = e.Field
	}
	r.reject.Invoke(res)
}

// apiEvent is a command from the API on its way to the loop.
type apiEvent struct{ cmd softphone.Command }

// installAPI defines window.parkway. Commands go to the loop through fn, which must
// not block; it reports false when the loop cannot take more now.
func installAPI(fn func(softphone.Command) bool) (release func()) {
	command := js.FuncOf(func(this js.Value, args []js.Value) any {
		name := ""
		if len(args) > 0 && args[0].Type() == js.TypeString {
			name = args[0].String()
		}
		var raw js.Value = js.Undefined()
		if len(args) > 1 {
			raw = args[1]
		}
		var executor js.Func
		executor = js.FuncOf(func(this js.Value, pargs []js.Value) any {
			defer executor.Release()
			reply := &apiReply{resolve: pargs[0], reject: pargs[1]}
			argMap, e := jsArgs(raw)
			if e != nil {
				reply.Fail(e)
				return nil
			}
			cmd, e := softphone.ParseCommand(name, argMap)
			if e != nil {
				reply.Fail(e)
				return nil
			}
			cmd.Reply = reply
			if !fn(cmd) {
				reply.Fail(&softphone.APIError{Code: string(signaling.CodeUnavailable), Message: "The softphone is busy; try again."})
			}
			return nil
		})
		return global.Get("Promise").New(executor)
	})
	api := global.Get("Object").New()
	api.Set("command", command)
	api.Set("version", 1)
	global.Set("parkway", api)
	return func() {
		global.Delete("parkway")
		command.Release()
	}
}

// jsArgs reads a command's arguments: an object (or nothing) of JSON values. They go
// through the page's JSON (stringify, then parse) so only plain data is taken, as it
// would arrive through postMessage.
func jsArgs(v js.Value) (args map[string]any, e *softphone.APIError) {
	if v.IsUndefined() || v.IsNull() {
		return map[string]any{}, nil
	}
	notPlain := &softphone.APIError{Code: softphone.CodeBadCommand, Message: "the arguments are not plain data"}
	if v.Type() != js.TypeObject || global.Get("Array").Call("isArray", v).Bool() {
		return nil, &softphone.APIError{Code: softphone.CodeBadCommand, Message: "the arguments must be an object, e.g. {target: 'bob'}"}
	}
	defer func() {
		if recover() != nil { // JSON.stringify throws on a cycle or a BigInt
			args, e = nil, notPlain
		}
	}()
	s := global.Get("JSON").Call("stringify", v)
	if s.Type() != js.TypeString {
		return nil, notPlain
	}
	plain := global.Get("JSON").Call("parse", s)
	keys := global.Get("Object").Call("keys", plain)
	args = make(map[string]any, keys.Length())
	for i := 0; i < keys.Length(); i++ {
		k := keys.Index(i).String()
		switch x := plain.Get(k); x.Type() {
		case js.TypeNull:
			args[k] = nil
		case js.TypeString:
			args[k] = x.String()
		case js.TypeBoolean:
			args[k] = x.Bool()
		case js.TypeNumber:
			args[k] = x.Float()
		default: // an object or an array: ParseCommand takes none
			args[k] = struct{}{}
		}
	}
	return args, nil
}

// publish dispatches a "parkway" event on window with {event, data}.
func publish(event string, data js.Value) {
	detail := global.Get("Object").New()
	detail.Set("event", event)
	detail.Set("data", data)
	init := global.Get("Object").New()
	init.Set("detail", detail)
	global.Call("dispatchEvent", global.Get("CustomEvent").New("parkway", init))
}

// messageData is a signaling message's data as a JavaScript object (null when it cannot
// be written, which none of the messages published can fail).
func messageData(m signaling.Message) js.Value {
	b, err := signaling.MessageJSON(m)
	if err != nil {
		return js.Null()
	}
	return global.Get("JSON").Call("parse", string(b))
}

// callData is a call as the API's call event carries it: {id, peer, state, direction,
// reason, orbit, muted}.
func callData(id, peer string, state signaling.CallState, direction, reason, orbit string, muted bool) js.Value {
	o := global.Get("Object").New()
	o.Set("id", id)
	o.Set("peer", peer)
	o.Set("state", string(state))
	o.Set("direction", direction)
	o.Set("reason", reason)
	o.Set("orbit", orbit)
	o.Set("muted", muted)
	return o
}
