//! Which received RTP belongs to the call: the pure source filter of symmetric RTP (RFC 4961).
//! Packets count only when they come from the address the peer negotiated (where we send), and
//! from the one stream (SSRC) latched on there; everything else is dropped and counted. No IO.
//!
//! Re-latching follows what RFC 4961 and RFC 3550 allow: a new offer/answer that moves the
//! peer starts over at the new address; on the same address a new SSRC takes over only once
//! the latched stream has said goodbye (RTCP BYE) or fallen silent for [`SSRC_TAKEOVER_MS`],
//! and only after [`PROBATION`] packets in sequence (RFC 3550 §6.2.1's source validation), so
//! an injected packet now and then never steals the stream.

use std::net::SocketAddr;

/// How long the latched stream must be silent before another SSRC from the same address may
/// take over (a peer that restarted its stream).
pub const SSRC_TAKEOVER_MS: u64 = 1_000;

/// Packets in sequence a new SSRC must send before it is latched (RFC 3550 `MIN_SEQUENTIAL`).
pub const PROBATION: u16 = 2;

/// What to do with one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Ours: play it.
    Accept,
    /// From an address other than the negotiated one (or before there is one).
    ForeignAddress,
    /// From the right address, but another stream than the latched one.
    ForeignSsrc,
}

/// Counters of what the filter dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops {
    /// Packets from another address than the negotiated one.
    pub address: u64,
    /// Packets from the negotiated address with another SSRC than the latched one.
    pub ssrc: u64,
}

/// The source filter of one RTP stream.
#[derive(Debug, Clone, Default)]
pub struct Latch {
    remote: Option<SocketAddr>,
    /// The latched SSRC and when its last packet came (ms on the caller's clock).
    ssrc: Option<(u32, u64)>,
    /// The latched stream said goodbye: another may take over at once (after probation).
    bye: bool,
    /// A new SSRC on probation: its last sequence number and how many in a row so far.
    candidate: Option<(u32, u16, u16)>,
    /// What was dropped.
    pub drops: Drops,
}

impl Latch {
    /// Where the peer said it sends from (the negotiated address); a change starts over.
    pub fn set_remote(&mut self, remote: Option<SocketAddr>) {
        if self.remote != remote {
            self.remote = remote;
            self.ssrc = None;
            self.bye = false;
            self.candidate = None;
        }
    }

    /// The latched SSRC, if any.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc.map(|(s, _)| s)
    }

    /// An RTCP packet from `from` announced that `ssrc` leaves (BYE).
    pub fn bye(&mut self, from: SocketAddr, ssrc: u32) {
        if self.ssrc() == Some(ssrc) && self.remote.is_some_and(|r| r.ip() == from.ip()) {
            self.bye = true;
        }
    }

    /// Judge one packet from `from` with `ssrc` and sequence number `seq`, received at `now_ms`.
    pub fn check(&mut self, from: SocketAddr, ssrc: u32, seq: u16, now_ms: u64) -> Verdict {
        if self.remote != Some(from) {
            self.drops.address += 1;
            return Verdict::ForeignAddress;
        }
        match self.ssrc {
            None => {
                self.ssrc = Some((ssrc, now_ms));
                Verdict::Accept
            }
            Some((latched, _)) if latched == ssrc => {
                self.ssrc = Some((ssrc, now_ms));
                self.candidate = None;
                Verdict::Accept
            }
            Some((_, last)) => {
                let may_take_over = self.bye || now_ms.saturating_sub(last) >= SSRC_TAKEOVER_MS;
                let run = match self.candidate {
                    Some((c, prev, n)) if c == ssrc && seq == prev.wrapping_add(1) => n + 1,
                    _ => 1,
                };
                self.candidate = Some((ssrc, seq, run));
                if may_take_over && run >= PROBATION {
                    self.ssrc = Some((ssrc, now_ms));
                    self.bye = false;
                    self.candidate = None;
                    return Verdict::Accept;
                }
                self.drops.ssrc += 1;
                Verdict::ForeignSsrc
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_the_negotiated_address_and_the_first_stream_there_count() {
        let peer = addr("10.0.0.2:4000");
        let mut l = Latch::default();
        // Nothing is negotiated yet: nobody is heard.
        assert_eq!(l.check(peer, 1, 0, 0), Verdict::ForeignAddress);
        l.set_remote(Some(peer));
        assert_eq!(l.check(peer, 7, 10, 0), Verdict::Accept);
        assert_eq!(l.ssrc(), Some(7));
        // Another port or host on the same machine, however valid the packet.
        assert_eq!(
            l.check(addr("10.0.0.2:4002"), 7, 11, 20),
            Verdict::ForeignAddress
        );
        assert_eq!(
            l.check(addr("10.0.0.3:4000"), 7, 11, 20),
            Verdict::ForeignAddress
        );
        // Another stream from the right address while ours is alive, even in sequence.
        for (i, seq) in (500u16..520).enumerate() {
            assert_eq!(
                l.check(peer, 99, seq, 20 + i as u64 * 20),
                Verdict::ForeignSsrc
            );
            assert_eq!(
                l.check(peer, 7, 11 + i as u16, 20 + i as u64 * 20),
                Verdict::Accept
            );
        }
        assert_eq!(
            l.drops,
            Drops {
                address: 3,
                ssrc: 20
            }
        );
    }

    #[test]
    fn a_new_stream_takes_over_after_silence_or_bye_and_probation() {
        let peer = addr("10.0.0.2:4000");
        let mut l = Latch::default();
        l.set_remote(Some(peer));
        assert_eq!(l.check(peer, 7, 1, 0), Verdict::Accept);
        // Silent for less than the takeover time: still refused.
        assert_eq!(l.check(peer, 8, 100, 500), Verdict::ForeignSsrc);
        assert_eq!(l.check(peer, 8, 101, 520), Verdict::ForeignSsrc);
        // Long enough: the first packet is on probation, the second in sequence latches.
        assert_eq!(l.check(peer, 8, 102, 1_100), Verdict::Accept);
        assert_eq!(l.ssrc(), Some(8));
        // The old stream is now the foreign one.
        assert_eq!(l.check(peer, 7, 2, 1_120), Verdict::ForeignSsrc);
        // A BYE lets a new stream in at once, but only in sequence.
        l.bye(peer, 8);
        assert_eq!(l.check(peer, 9, 50, 1_140), Verdict::ForeignSsrc);
        assert_eq!(l.check(peer, 9, 52, 1_160), Verdict::ForeignSsrc);
        assert_eq!(l.check(peer, 9, 53, 1_180), Verdict::Accept);
        // A BYE for a stream that is not latched changes nothing.
        l.bye(peer, 1234);
        assert_eq!(l.check(peer, 10, 1, 1_200), Verdict::ForeignSsrc);
        assert_eq!(l.check(peer, 10, 2, 1_220), Verdict::ForeignSsrc);
    }

    #[test]
    fn a_new_offer_moves_the_latch() {
        let (a, b) = (addr("10.0.0.2:4000"), addr("10.0.0.9:6000"));
        let mut l = Latch::default();
        l.set_remote(Some(a));
        assert_eq!(l.check(a, 7, 1, 0), Verdict::Accept);
        l.set_remote(Some(a));
        assert_eq!(l.ssrc(), Some(7), "the same answer again keeps the latch");
        l.set_remote(Some(b));
        assert_eq!(l.check(a, 7, 2, 20), Verdict::ForeignAddress);
        assert_eq!(l.check(b, 42, 1, 40), Verdict::Accept);
        l.set_remote(None);
        assert_eq!(l.check(b, 42, 2, 60), Verdict::ForeignAddress);
    }
}
