package bench

// plan says which publication goes where and who sends it. Publication k
// (0 ≤ k < messages) goes to channel k mod N with the sequence number
// k div N, its place among that channel's publications. With several
// channels, publisher p sends the publications of the channels c with
// c mod P = p, in the order of k; with one channel, the publications k with
// k mod P = p. Either way each publisher sends its own publications one
// after the other, so a subscriber can check their order per lane: one
// lane per channel with several channels (one publisher feeds it), P lanes
// on one channel (lane = seq mod P).
type plan struct {
	channels   int
	messages   int
	publishers int
}

// lanes is the number of independently ordered streams on one channel.
func (p plan) lanes() int {
	if p.channels == 1 {
		return p.publishers
	}
	return 1
}

// perChannel is how many publications channel c receives.
func (p plan) perChannel(c int) int {
	n := p.messages / p.channels
	if c < p.messages%p.channels {
		n++
	}
	return n
}

// maxSeq bounds the sequence numbers: the most publications of a channel.
func (p plan) maxSeq() int { return (p.messages + p.channels - 1) / p.channels }

// each calls f for every publication of publisher pub in the order of k,
// with its channel index and sequence number, until f returns false.
func (p plan) each(pub int, f func(k, channel, seq int) bool) {
	if p.channels == 1 {
		for k := pub; k < p.messages; k += p.publishers {
			if !f(k, 0, k) {
				return
			}
		}
		return
	}
	for seq := 0; seq*p.channels < p.messages; seq++ {
		for c := pub; c < p.channels; c += p.publishers {
			k := seq*p.channels + c
			if k >= p.messages {
				return
			}
			if !f(k, c, seq) {
				return
			}
		}
	}
}
