// Package bench is the load generator behind `switchboard bench`: it opens
// many subscribers on one face of a Switchboard server, publishes stamped
// messages through the server API and reports delivered messages per
// second, publish-to-receive latency, loss, duplication and reordering,
// connection set-up rate, the server's resident memory per idle
// connection and its CPU time per million deliveries (speed and memory are
// measured here, never asserted by a timed test). The same load generator
// measures a spawned Centrifugo v6 for `switchboard bench compare` (make
// compare).
//
// Files, in the order a run passes them:
//
//	options.go    what to run, defaults and bounds (loopback only)
//	target.go     the server: in-process, a spawned `switchboard serve`, or a running one
//	spawn.go      the child processes (one, or two nodes on a Redis), temporary configs, readiness
//	rlimit.go     raising the open-file limit; rss.go: VmRSS, cpu.go: user+sys time from /proc
//	face*.go      subscribers: drp, cppcomet and nkservice websockets, grpc streams, rest lines
//	centrifugo.go the Centrifugo target: its config, JSON client protocol face and /api/publish
//	plan.go       which publication goes to which channel, sent by which publisher
//	publisher.go  the publishers, P at once, each sequential: Centrifugo v1 HTTP API or gRPC
//	stamp.go      the payload {"ts":<unix nanos>,"seq":N} and its scanner
//	tally.go      per-subscriber accounting; histogram.go: latency buckets
//	run.go        the phases: connect, settle and measure, publish, drain
//	report.go     the table and the JSON report; progress.go: the live line
//	compare.go    the rows of the comparison with Centrifugo, medians and the markdown table
//	redis.go      a private redis-server for the comparison's Redis rows
//
// The load generator is built to stay small next to the server on a small
// machine: one reader goroutine per subscriber with a pooled read buffer,
// no JSON decoding per message (the scanner finds the stamp in the raw
// frame, whatever the face's envelope), lock-free counters sharded by
// subscriber.
//
// What it must not do: talk to anything but loopback (127.0.0.0/8), run
// without a bound on clients, messages and time, or reach into the server's
// internals — it is a client of the faces and the API like any other.
package bench
