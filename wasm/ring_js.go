package main

import "syscall/js"

// ringer plays the ring of an incoming call with WebAudio: two tones (400 and 450 Hz,
// the British double ring: 0.4 s on, 0.2 s off, 0.4 s on, 2 s off), scheduled a few
// cycles ahead on the audio clock and topped up every second by keep, so the pattern
// never stutters when the page is busy. It stops the moment no call rings (answered,
// declined, ended), and its audio context is suspended until the next ring. A page the
// user has not touched yet may not be allowed to play sound; the ring then starts with
// the first click or key press.
type ringer struct {
	ctx, gain js.Value
	oscs      []js.Value
	until     float64 // audio-clock time the pattern is scheduled up to
	on        bool
}

const (
	ringCycle = 3.0 // seconds
	ringAhead = 6.0 // seconds scheduled ahead
	ringLevel = 0.12
)

func (r *ringer) set(on bool) {
	if on == r.on {
		return
	}
	r.on = on
	if on {
		setAttr(document.Get("documentElement"), "data-ringing", "true")
		r.start()
	} else {
		removeAttr(document.Get("documentElement"), "data-ringing")
		r.stop()
	}
}

// unlock lets a ring that the browser held back start: called on every user input,
// which is what the browser's autoplay policy waits for.
func (r *ringer) unlock() {
	if r.on && present(r.ctx) && r.ctx.Get("state").String() == "suspended" {
		r.ctx.Call("resume")
	}
}

func (r *ringer) start() {
	ctor := global.Get("AudioContext")
	if ctor.Type() != js.TypeFunction {
		return
	}
	if !present(r.ctx) {
		r.ctx = ctor.New()
	}
	// Always: a suspend that stop asked for may still be under way (state "running"),
	// and a resume asked after it wins.
	r.ctx.Call("resume")
	r.gain = r.ctx.Call("createGain")
	r.gain.Get("gain").Set("value", 0)
	r.gain.Call("connect", r.ctx.Get("destination"))
	for _, f := range []float64{400, 450} {
		o := r.ctx.Call("createOscillator")
		o.Get("frequency").Set("value", f)
		o.Call("connect", r.gain)
		o.Call("start")
		r.oscs = append(r.oscs, o)
	}
	r.until = r.ctx.Get("currentTime").Float()
	r.keep()
}

// keep schedules the pattern up to ringAhead seconds from now.
func (r *ringer) keep() {
	if !r.on || !present(r.gain) {
		return
	}
	now := r.ctx.Get("currentTime").Float()
	if r.until < now {
		r.until = now
	}
	g := r.gain.Get("gain")
	for r.until < now+ringAhead {
		t := r.until
		for _, burst := range [][2]float64{{0, 0.4}, {0.6, 1.0}} {
			g.Call("setValueAtTime", 0, t+burst[0])
			g.Call("linearRampToValueAtTime", ringLevel, t+burst[0]+0.02)
			g.Call("setValueAtTime", ringLevel, t+burst[1]-0.02)
			g.Call("linearRampToValueAtTime", 0, t+burst[1])
		}
		r.until += ringCycle
	}
}

func (r *ringer) stop() {
	for _, o := range r.oscs {
		o.Call("stop")
		o.Call("disconnect")
	}
	r.oscs = nil
	if present(r.gain) {
		r.gain.Call("disconnect")
		r.gain = js.Undefined()
	}
	// A running context renders silence on the audio thread for as long as the page
	// lives: suspended, it costs nothing until the next ring resumes it.
	if present(r.ctx) && r.ctx.Get("state").String() == "running" {
		r.ctx.Call("suspend")
	}
}
