//go:build !js

package signaling

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The hand codec (codec.go), which the wasm client speaks, against encoding/json, which
// the gateway speaks: the same bytes out, the same messages and errors in.

// everyMessage is a few of each message type, with the values that test a JSON writer:
// HTML and JavaScript line separators, control characters, invalid UTF-8, empty and nil
// lists, pointers set and not, the largest numbers.
func everyMessage() []Message {
	odd := "a<b>&c\u2028\u2029\x00\x1f\x7f\"\\/\b\f\n\r\t é\xff\xfe😀"
	tr, fa := true, false
	zero, big := uint16(0), uint16(65535)
	return []Message{
		&Auth{Token: "tok"}, &Auth{Token: odd}, &Auth{}, (*Auth)(nil),
		&Ping{}, &Ping{Seq: 1<<64 - 1}, &Pong{Seq: 7},
		&Request{Action: ActionCall, Target: "bob", SDP: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"},
		&Request{Action: ActionMute, Call: "c1", Muted: &tr}, &Request{Action: ActionMute, Call: "c1", Muted: &fa},
		&Request{Action: ActionTransfer, Call: "c1", Consult: "c2", Orbit: "*700", Target: odd},
		&Call{ID: "c1", State: CallActive}, &Call{ID: odd, Peer: "p", State: CallEnded, Direction: CallOutgoing, Reason: odd, SDP: "v=0", Orbit: "7000", Muted: true, Trace: "0123456789abcdef", Media: MediaHere},
		&Parked{}, &Parked{Pool: "pool-a", Calls: []ParkedCall{}},
		&Parked{Pool: "pool-a", Calls: []ParkedCall{{Orbit: "7001", Pool: "pool-b", Peer: "bob", ParkedBy: "alice", Since: -1 << 63, Expires: 1<<63 - 1, State: "ringing-back"}, {Orbit: "7002"}}},
		&ICE{Ref: "1", Candidate: "candidate:1 1 udp 1 127.0.0.1 5 typ host"}, &ICE{Ref: "1", SDPMid: "0", SDPMLineIndex: &zero}, &ICE{SDPMLineIndex: &big},
		&Welcome{User: "alice"}, &Welcome{User: "alice", Session: "s", HeartbeatMillis: -5, Calls: []string{"c1", odd}, NeedsMedia: []string{}, Gateways: []string{"ws://a/ws", "wss://[::1]:8443/ws"}},
		&State{}, NewState(PhaseFailover, "pool-a", "pool-b", CallActive), NewState(PhaseNormal, "", "", CallNone),
		&State{Phase: PhaseOutage, Capabilities: Capabilities{}, Pools: []PoolState{{Name: "pool-a", Orbits: "7000-7099", Up: true}, {Name: odd}}},
		&State{Capabilities: Capabilities{"z<": {Reason: odd}, "a": {Allowed: true}, "\u00e9": {}, "": {}}},
		&Error{Code: CodeRefused, Message: ReasonParkResiliency, Ref: "3"}, &Error{Code: CodeBadField, Field: "sdp", Message: odd},
		&Draining{}, &Draining{DeadlineMillis: 1500},
		&Reauth{}, &Reauth{Deadline: time.Date(2026, 12, 4, 23, 59, 1, 123456789, time.UTC)},
		&Reauth{Deadline: time.Date(1999, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -(5*3600+30*60)))},
		&Reauth{Deadline: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // no JSON for it: both refuse
	}
}

func TestHandCodecWritesWhatEncodingJSONWrites(t *testing.T) {
	for _, m := range everyMessage() {
		for _, id := range []string{"", "7", "a<&>\u2028\xff"} {
			want, wantErr := encode(id, m)
			got, err := handEncode(id, m)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%T %+v id %q: hand codec error %v, encoding/json error %v", m, m, id, err, wantErr)
			}
			if string(got) != string(want) {
				t.Errorf("%T id %q:\n hand codec    %s\n encoding/json %s", m, id, got, want)
			}
		}
	}
}

// sameDecode decodes frame from side with both codecs and fails t where they differ: the
// envelope, the message, and the error's code, field and ref (not its wording, which
// for bad JSON syntax is each codec's own).
func sameDecode(t *testing.T, side Side, frame []byte) {
	t.Helper()
	wantEnv, want, wantErr := Decode(side, frame)
	gotEnv, got, err := decode(side, frame, handReadEnvelope, handReadData)
	if !reflect.DeepEqual(gotEnv, wantEnv) {
		t.Fatalf("%q (side %d): hand codec's envelope %+v, encoding/json's %+v", frame, side, gotEnv, wantEnv)
	}
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q (side %d): hand codec error %v, encoding/json error %v", frame, side, err, wantErr)
	}
	if err != nil {
		var e, we *Error
		if !errors.As(err, &e) || !errors.As(wantErr, &we) {
			t.Fatalf("%q: untyped error: %v / %v", frame, err, wantErr)
		}
		if e.Code != we.Code || e.Field != we.Field || e.Ref != we.Ref {
			t.Fatalf("%q (side %d): hand codec error %+v, encoding/json error %+v", frame, side, e, we)
		}
		if e.Message == "" {
			t.Fatalf("%q: the hand codec's error has no message", frame)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q (side %d): hand codec decoded %#v, encoding/json %#v", frame, side, got, want)
	}
}

// oddFrames are frames where encoding/json does something a hand parser might not.
var oddFrames = []string{
	// syntax
	``, ` `, `{`, `}`, `[]`, `[1,2]`, `"x"`, `1`, `true`, `nul`, `null`, `null}`, `nullx`, ` null `, `{"v":1,}`, `{"v":01}`,
	`{"v":1,"type":"ping"}`, `{"v":1,"type":"ping"}}`, `{"v":1,"type":"ping"}]`, `{"v":1,"type":"ping"} ]x`, `{"v":1,"type":"ping"} {}`,
	`{"v":1,"type":"ping"}x`, "\t\r\n{ \"v\" : 1 , \"type\" : \"ping\" }\n", `{"v":1,"type":"ping"`, `{"v":1 "type":"ping"}`,
	`{"v":1,"type":"ping","data":}`, `{"v":1,"type":"ping","data":{"seq":1}]`, `{"v":1,"type":"ping","data":[}`,
	`{"v":-, "type":"ping"}`, `{"v":1.,"type":"ping"}`, `{"v":1e,"type":"ping"}`, `{"v":.5,"type":"ping"}`, `{"v":+1,"type":"ping"}`,
	`{"v":1,"type":"auth","data":{"token":"a` + "\x01" + `"}}`, `{"v":1,"type":"auth","data":{"token":"\x"}}`, `{"v":1,"type":"auth","data":{"token":"\u12"}}`,
	`{"v":1,"type":"auth","data":{"token":"\'"}}`, `{'v':1}`, `{"v":tru}`, `{"v":True}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"v":1,"type":"ping","data":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"v":1,"type":"ping","data":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	// the envelope's fields
	`{"v":1.0,"type":"ping"}`, `{"v":1e0,"type":"ping"}`, `{"v":-0,"type":"ping"}`, `{"v":"1","type":"ping"}`, `{"v":null,"type":"ping"}`,
	`{"v":99999999999999999999,"type":"ping"}`, `{"V":1,"TYPE":"ping","ID":"x","DATA":{}}`, `{"v":1,"type":"ping","x":1}`, `{"v":1,"x":[1,{"y":2}],"type":"ping"}`,
	`{"v":1,"type":"ping","v":2}`, `{"v":1,"type":"ping","id":"a","id":"b"}`, `{"v":1,"type":"ping","id":5}`, `{"v":1,"type":null}`,
	`{"v":1,"type":"ping","data":null}`, `{"v":1,"type":"ping","data": null }`, `{"v":1,"type":"ping","data":{"seq":1},"data":null}`,
	`{"v":1,"type":"ping","data":5}`, `{"v":1,"type":"ping","data":"x"}`, `{"v":1,"type":"ping","data":[]}`, `{"v":1,"type":"ping","data":true}`,
	`{"v":1,"type":"ping","data":{ "seq" : 1 }}`, `{"v":1,"type":"pi\u006eg"}`, `{"v":1,"type":"PING"}`, `{"v":1,"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`,
	`{"v":1,"type":"ping","data":{"seq":1},"v":"x"}`, `{"x":1,"v":"y","id":"z"}`,
	// the data's fields
	`{"v":1,"type":"ping","data":{"seq":-1}}`, `{"v":1,"type":"ping","data":{"seq":-0}}`, `{"v":1,"type":"ping","data":{"seq":18446744073709551615}}`,
	`{"v":1,"type":"ping","data":{"seq":18446744073709551616}}`, `{"v":1,"type":"ping","data":{"seq":1.5}}`, `{"v":1,"type":"ping","data":{"seq":"1"}}`,
	`{"v":1,"type":"ping","data":{"SEQ":2}}`, `{"v":1,"type":"ping","data":{"seq":2,"seq":null}}`, `{"v":1,"type":"ping","data":{"x":1,"seq":"a"}}`,
	`{"v":1,"type":"ping","data":{"seq":"a","x":1}}`,
	`{"v":1,"type":"auth","data":{"Token":"a"}}`, `{"v":1,"type":"auth","data":{"token":"a","token":"b"}}`, `{"v":1,"type":"auth","data":{"token":"a","token":null}}`,
	`{"v":1,"type":"auth","data":{"token":"\u00e9\ud83d\ude00\ud83d\u0041\ude00\ud800\\"}}`, `{"v":1,"type":"auth","data":{"token":"` + "\xff\xfe\xed\xa0\x80 é" + `"}}`,
	`{"v":1,"type":"auth","data":{"token":"\"\\\/\b\f\n\r\t"}}`, `{"v":1,"type":"auth","data":{"tok\u0065n":"a"}}`, `{"v":1,"type":"auth","data":{"token":["a"]}}`,
	`{"v":1,"type":"auth","data":{"token":{"a":1}}}`, `{"v":1,"type":"auth","data":{"token":true}}`,
	`{"v":1,"type":"action","data":{"action":"call","target":"bob","ſdp":"v=0"}}`, `{"v":1,"type":"action","data":{"action":"call","target":"bob","SDP":"v=0"}}`,
	`{"v":1,"type":"action","data":{"action":"mute","call":"c1","muted":null}}`, `{"v":1,"type":"action","data":{"action":"mute","call":"c1","muted":true,"muted":null}}`,
	`{"v":1,"type":"action","data":{"action":"mute","call":"c1","muted":"true"}}`, `{"v":1,"type":"action","data":{"action":"mute","call":"c1","muted":1}}`,
	`{"v":1,"type":"ice","data":{"ref":"1","candidate":"","sdpMLineIndex":65535}}`, `{"v":1,"type":"ice","data":{"ref":"1","candidate":"","sdpMLineIndex":65536}}`,
	`{"v":1,"type":"ice","data":{"ref":"1","candidate":"","sdpMLineIndex":-1}}`, `{"v":1,"type":"ice","data":{"ref":"1","candidate":"","sdpMLineIndex":null}}`,
	`{"v":1,"type":"ice","data":{"ref":"1","candidate":"","sdpmlineindex":3}}`,
	`{"v":1,"type":"welcome","data":{"user":"a","calls":null}}`, `{"v":1,"type":"welcome","data":{"user":"a","calls":[]}}`,
	`{"v":1,"type":"welcome","data":{"user":"a","calls":["c1","c2","c3"],"calls":["c4"],"calls":["c5",null]}}`,
	`{"v":1,"type":"welcome","data":{"user":"a","calls":[1]}}`, `{"v":1,"type":"welcome","data":{"user":"a","calls":"c1"}}`,
	`{"v":1,"type":"welcome","data":{"user":"a","heartbeatMs":9223372036854775808}}`, `{"v":1,"type":"welcome","data":{"user":"a","heartbeatMs":-9223372036854775808}}`,
	`{"v":1,"type":"welcome","data":{"user":"a","gateways":["ws://a/ws","http://b/"]}}`,
	`{"v":1,"type":"parked","data":{"pool":"p","calls":[{"orbit":"7000","peer":"a","since":1,"expires":2}],"calls":[{"orbit":"7001"}]}}`,
	`{"v":1,"type":"parked","data":{"pool":"p","calls":[{"orbit":"7000","since":"x"}]}}`, `{"v":1,"type":"parked","data":{"pool":"p","calls":[5]}}`,
	`{"v":1,"type":"parked","data":{"pool":"p","calls":[null,{"orbit":"7000","x":1}]}}`, `{"v":1,"type":"parked","data":{"pool":"p","calls":[{"orbit":"7000","since":1.5}]}}`,
	`{"v":1,"type":"parked","data":{"pool":"p","calls":[{"orbit":"7000"},{"orbit":"7001"},{"orbit":"7002"}],"calls":[{"orbit":"7003"}],"calls":[{"peer":"x"},{"peer":"y"}]}}`,
	`{"v":1,"type":"state","data":{"phase":"normal","capabilities":null}}`, `{"v":1,"type":"state","data":{"phase":"normal","capabilities":{}}}`,
	`{"v":1,"type":"state","data":{"phase":"normal","capabilities":{"call":{"allowed":true},"call":{"reason":"r"}}}}`,
	`{"v":1,"type":"state","data":{"phase":"normal","capabilities":{"call":{"allowed":true}},"capabilities":{"park":{}}}}`,
	`{"v":1,"type":"state","data":{"phase":"normal","capabilities":{"call":{"allowed":"yes"}}}}`, `{"v":1,"type":"state","data":{"phase":"normal","capabilities":{"call":5}}}`,
	`{"v":1,"type":"state","data":{"phase":"normal","capabilities":{"call":null}}}`, `{"v":1,"type":"state","data":{"phase":"normal","capabilities":{"call":{"x":1}}}}`,
	`{"v":1,"type":"state","data":{"phase":"normal","capabilities":[]}}`, `{"v":1,"type":"state","data":{"phase":"normal","capabilities":{"teleport":{}}}}`,
	`{"v":1,"type":"state","data":{"phase":"normal","pools":[{"name":"a","up":1}]}}`, `{"v":1,"type":"state","data":{"phase":"normal","pools":[{"name":""}]}}`,
	`{"v":1,"type":"state","data":{"phase":"normal","resiliency":null,"Resiliency":true}}`,
	`{"v":1,"type":"error","data":{"code":"refused","message":"m","ref":"1","field":"f"}}`, `{"v":1,"type":"error","data":{"message":"m"}}`,
	`{"v":1,"type":"draining","data":{"deadlineMs":-1}}`, `{"v":1,"type":"draining","data":{"deadlineMs":1e3}}`,
	`{"v":1,"type":"reauth","data":{"deadline":"2026-12-04T23:59:01.123456789Z"}}`, `{"v":1,"type":"reauth","data":{"deadline":"2026-12-04T23:59:01+05:30"}}`,
	`{"v":1,"type":"reauth","data":{"deadline":"2026-12-04 23:59:01Z"}}`, `{"v":1,"type":"reauth","data":{"deadline":"\u0032026-12-04T23:59:01Z"}}`,
	`{"v":1,"type":"reauth","data":{"deadline":5}}`, `{"v":1,"type":"reauth","data":{"deadline":null}}`, `{"v":1,"type":"reauth","data":{"deadline":{}}}`,
	`{"v":1,"type":"reauth","data":{"x":1,"deadline":5}}`, `{"v":1,"type":"reauth","data":{"deadline":5,"x":1}}`, `{"v":1,"type":"reauth","data":{"deadline":"2026-12-04T24:00:00Z"}}`,
	`{"v":1,"type":"call","data":{"id":"c1","state":"active","muted":true,"Muted":null,"MEDIA":"here"}}`,
}

func TestHandCodecReadsWhatEncodingJSONReads(t *testing.T) {
	for _, side := range []Side{FromClient, FromGateway} {
		for _, f := range oddFrames {
			sameDecode(t, side, []byte(f))
		}
		for _, m := range everyMessage() {
			frame, err := encode("9", m)
			if err != nil {
				continue
			}
			sameDecode(t, side, frame)
		}
	}
}

func FuzzHandCodec(f *testing.F) {
	for _, s := range oddFrames {
		if len(s) < 4096 {
			f.Add([]byte(s))
		}
	}
	for _, m := range everyMessage() {
		if frame, err := encode("1", m); err == nil {
			f.Add(frame)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, side := range []Side{FromClient, FromGateway} {
			sameDecode(t, side, frame)
			// What decodes, both codecs write alike.
			env, m, err := Decode(side, frame)
			if err != nil {
				continue
			}
			want, wantErr := encode(env.ID, m)
			got, err := handEncode(env.ID, m)
			if string(got) != string(want) || (err != nil) != (wantErr != nil) {
				t.Fatalf("%T from %q: hand codec wrote %s (%v), encoding/json %s (%v)", m, frame, got, err, want, wantErr)
			}
		}
	})
}

// The js build's CheckGatewayURL (plainWebsocketURL) accepts nothing the gateway's
// refuses, and every URL a cluster lists.
func TestPlainWebsocketURL(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:8080", "https://phone.example.com/", "https://[::1]:8443", "http://gw-2.internal", "http://[2001:db8::1]",
		"http://[::ffff:10.0.0.1]:80", "http://[1:2:3:4:5:6:7:8]", "http://a_b.c~d:65535", "http://10.1.2.3:1"} {
		ws, err := GatewayWebsocket(base)
		if err != nil {
			t.Fatal(err)
		}
		if err := plainWebsocketURL(ws); err != nil {
			t.Errorf("plainWebsocketURL(%q) refused a gateway's URL: %v", ws, err)
		}
	}
	for _, s := range gatewayURLCorpus {
		plainWithinURL(t, s)
	}
}

var gatewayURLCorpus = []string{"ws://a/ws", "wss://a:1/ws", "ws://[::1]/ws", "ws://[1.2.3.4]/ws", "ws://[::1.2.3.4]/ws", "ws://[::01.2.3.4]/ws",
	"ws://[1::2::3]/ws", "ws://[12345::]/ws", "ws://[1:2:3:4:5:6:7:8:9]/ws", "ws://[1:2:3:4:5:6:7:8::]/ws", "ws://[fe80::1%25eth0]/ws",
	"ws://a:/ws", "ws://:80/ws", "ws://a:b/ws", "ws://a:1:2/ws", "WS://a/ws", "ws://a/WS", "ws://a/ws/", "ws://a/%77s", "ws://u@a/ws",
	"ws://a/ws?", "ws://a/ws#", "ws://a b/ws", "ws://a%41/ws", "ws://[::1]x/ws", "ws://[::1/ws", "ws://::1/ws", "ftp://a/ws", "ws:/a/ws", "ws//a/ws",
	"ws://a:123456/ws", "ws://é/ws", "ws://[::1]:/ws", "ws://[]/ws", "ws://[:]/ws", "ws://[::]/ws", "ws://[1:2:3:4:5:6:1.2.3.4]/ws",
	"ws://[1:2:3:4:5:1.2.3.4]/ws", "ws://[1.2.3.4::]/ws", "ws://[::1.2.3]/ws", "ws://[::256.1.1.1]/ws"}

// plainWithinURL fails t if plainWebsocketURL accepts s and the net/url check does not.
func plainWithinURL(t *testing.T, s string) {
	t.Helper()
	if plainWebsocketURL(s) == nil && CheckGatewayURL(s) != nil {
		t.Fatalf("plainWebsocketURL accepts %q, which CheckGatewayURL refuses: %v", s, CheckGatewayURL(s))
	}
	if err := plainWebsocketURL(s); err != nil && !strings.Contains(err.Error(), quote(s)) {
		t.Fatalf("plainWebsocketURL(%q)'s error %q does not name the URL", s, err)
	}
}

func FuzzPlainWebsocketURL(f *testing.F) {
	for _, s := range gatewayURLCorpus {
		f.Add(s)
	}
	f.Fuzz(plainWithinURL)
}
