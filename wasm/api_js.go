package main

import (
	"encoding/json"
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

// jsArgs reads a command's arguments: an object (or nothing) of JSON values.
func jsArgs(v js.Value) (map[string]any, *softphone.APIError) {
	if v.IsUndefined() || v.IsNull() {
		return map[string]any{}, nil
	}
	if v.Type() != js.TypeObject || global.Get("Array").Call("isArray", v).Bool() {
		return nil, &softphone.APIError{Code: softphone.CodeBadCommand, Message: "the arguments must be an object, e.g. {target: 'bob'}"}
	}
	s := global.Get("JSON").Call("stringify", v)
	var m map[string]any
	if s.Type() != js.TypeString || json.Unmarshal([]byte(s.String()), &m) != nil {
		return nil, &softphone.APIError{Code: softphone.CodeBadCommand, Message: "the arguments are not plain data"}
	}
	return m, nil
}

// publish dispatches a "parkway" event on window with {event, data}; data is any
// JSON-encodable value.
func publish(event string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		return
	}
	detail := global.Get("Object").New()
	detail.Set("event", event)
	detail.Set("data", global.Get("JSON").Call("parse", string(b)))
	init := global.Get("Object").New()
	init.Set("detail", detail)
	global.Call("dispatchEvent", global.Get("CustomEvent").New("parkway", init))
}

// callData is a call as the API's call event carries it.
type callData struct {
	ID        string              `json:"id"`
	Peer      string              `json:"peer"`
	State     signaling.CallState `json:"state"`
	Direction string              `json:"direction"`
	Reason    string              `json:"reason"`
	Orbit     string              `json:"orbit"`
	Muted     bool                `json:"muted"`
}
