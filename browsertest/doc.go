// Package browsertest is a Go stand-in for the browser softphone, for tests: a
// websocket client speaking the signaling contract (github.com/coder/websocket,
// signaling.Encode and Decode) and, per call, a native pion PeerConnection that offers
// G.711 on loopback, plays a known tone into the call and listens with a Goertzel
// detector (media/tone), so a test proves that the audio one side sent is what the
// other side heard.
//
// Entry points: [Connect] signs a user in (demo sign-in, or a session token in
// [Options]) and authenticates the websocket; [Phone.Call], [Phone.Retrieve] and
// [Phone.WaitIncoming] give a [Call], whose Answer, Hold, Resume, Transfer, Park and
// Hangup each wait for either the gateway's refusal (returned as its
// *signaling.Error) or the call state the action leads to. [Phone.WaitPhase] and
// [Phone.WaitCapability] follow the pushed pool state; [Call.WaitHeard] and
// [Call.Quiet] check the audio.
//
// It drives any gateway over HTTP and websocket, in this process or another, and
// never looks inside it.
package browsertest
