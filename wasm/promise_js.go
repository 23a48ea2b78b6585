package main

import (
	"context"
	"errors"
	"syscall/js"
)

// await blocks the calling goroutine (never a js.Func callback: that would deadlock the
// event loop) until the promise settles or ctx ends. A rejection comes back as an error
// carrying the JavaScript message.
func await(ctx context.Context, promise js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	// Buffered: the promise may settle after ctx ended and nobody is receiving.
	done := make(chan result, 1)
	onOK := js.FuncOf(func(this js.Value, args []js.Value) any {
		done <- result{v: arg0(args)}
		return nil
	})
	onErr := js.FuncOf(func(this js.Value, args []js.Value) any {
		done <- result{err: jsError(arg0(args))}
		return nil
	})
	promise.Call("then", onOK, onErr)
	select {
	case r := <-done:
		onOK.Release()
		onErr.Release()
		return r.v, r.err
	case <-ctx.Done():
		// A promise that settled while this goroutine waited for the CPU still counts:
		// a starved page should not call a fast answer a timeout.
		select {
		case r := <-done:
			onOK.Release()
			onErr.Release()
			return r.v, r.err
		default:
		}
		// The callbacks stay alive until the promise settles; release them then.
		go func() {
			<-done
			onOK.Release()
			onErr.Release()
		}()
		return js.Undefined(), ctx.Err()
	}
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// jsError turns a thrown JavaScript value into a Go error with its message.
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject && v.Get("message").Type() == js.TypeString {
		return errors.New(v.Get("message").String())
	}
	if v.Type() == js.TypeString {
		return errors.New(v.String())
	}
	return errors.New("JavaScript error")
}

// jsCall calls v's method and returns a JavaScript exception it throws as an error
// (syscall/js would panic with it).
func jsCall(v js.Value, method string, args ...any) (result js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = thrown(r)
		}
	}()
	return v.Call(method, args...), nil
}

// jsNew constructs the global class name, returning an exception as an error.
func jsNew(name string, args ...any) (result js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = thrown(r)
		}
	}()
	return global.Get(name).New(args...), nil
}

// thrown turns what syscall/js panicked with into an error with the JavaScript message.
func thrown(r any) error {
	if e, ok := r.(js.Error); ok {
		return jsError(e.Value)
	}
	if e, ok := r.(error); ok {
		return e
	}
	if s, ok := r.(string); ok {
		return errors.New(s)
	}
	return errors.New("a JavaScript call failed")
}

// wrapped is an error with words in front of the one it wraps: fmt.Errorf's %w without
// fmt, which the client leaves out (issue 12).
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func wrap(msg string, err error) error { return &wrapped{msg: msg, err: err} }
