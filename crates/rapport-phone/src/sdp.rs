//! SDP (RFC 4566/3264) for one audio stream: lenient parsing, offer/answer building and negotiation. No IO.

use std::net::{IpAddr, SocketAddr};

use crate::error::MediaParseError;
use crate::g711::Codec;

/// Default dynamic payload type we offer for telephone-event.
pub const DEFAULT_DTMF_PT: u8 = 101;

/// Media direction attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    #[default]
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// Build from "may send" and "may receive" flags.
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
    /// The same stream seen from the other side.
    pub fn reversed(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// One `a=rtpmap`-resolved payload format of the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// Payload type.
    pub pt: u8,
    /// Encoding name, e.g. `PCMU`, `telephone-event`.
    pub name: String,
    /// Clock rate.
    pub rate: u32,
}

/// Why the audio stream's `c=` line gives no IP address to send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No `c=` line at session or media level.
    Missing,
    /// A host name, to be resolved (`ipv6`: `IN IP6`).
    Host {
        /// The name as written.
        name: String,
        /// Whether the address type is `IP6`.
        ipv6: bool,
    },
    /// Not an address: a bad network or address type, a literal of the other family, garbage.
    Invalid(String),
}

/// The parts of an SDP body this softphone cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` session id and version.
    pub origin: (u64, u64),
    /// Connection address (media-level `c=` wins over session-level), when it is an IP literal
    /// of its address type (or was resolved).
    pub address: Option<IpAddr>,
    /// Why `address` is `None`, when there is a reason: no `c=`, a host name, garbage.
    pub unresolved: Option<Unresolved>,
    /// The audio stream's transport protocol (`RTP/AVP`, `RTP/SAVP`, …).
    pub proto: String,
    /// Audio port; 0 means the stream is rejected.
    pub port: u16,
    /// Formats in preference order.
    pub formats: Vec<Format>,
    /// Direction (media-level wins over session-level).
    pub direction: Direction,
    /// `a=ptime`, if given.
    pub ptime: Option<u32>,
}

fn static_format(pt: u8) -> Option<Format> {
    let codec = Codec::from_payload_type(pt)?;
    Some(Format {
        pt,
        name: codec.name().to_owned(),
        rate: 8000,
    })
}

/// The transport we speak: plain RTP with the audio/video profile (no SRTP, no feedback).
pub const RTP_AVP: &str = "RTP/AVP";

/// Read a `c=` value (`IN IP4 192.0.2.1`, `IN IP6 ::1`, `IN IP4 host.example`, with an
/// optional `/ttl`): the IP literal, or why there is none.
fn parse_connection(value: &str) -> Result<IpAddr, Unresolved> {
    let f: Vec<&str> = value.split_whitespace().collect();
    let invalid = || Unresolved::Invalid(value.trim().to_owned());
    let (Some(&"IN"), Some(kind), Some(addr), None) = (f.first(), f.get(1), f.get(2), f.get(3))
    else {
        return Err(invalid());
    };
    let ipv6 = match *kind {
        "IP4" => false,
        "IP6" => true,
        _ => return Err(invalid()),
    };
    let addr = addr.split('/').next().unwrap_or_default();
    match addr.parse::<IpAddr>() {
        Ok(ip) if ip.is_ipv6() == ipv6 => Ok(ip),
        Ok(_) => Err(invalid()),
        Err(_) if is_host_name(addr) => Err(Unresolved::Host {
            name: addr.to_owned(),
            ipv6,
        }),
        Err(_) => Err(invalid()),
    }
}

/// A DNS name (RFC 1123 labels) that is not an attempt at a dotted-quad.
fn is_host_name(s: &str) -> bool {
    let labels: Vec<&str> = s.trim_end_matches('.').split('.').collect();
    !s.is_empty()
        && s.len() <= 253
        && !labels
            .last()
            .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl SessionDescription {
    /// Parse the first audio stream of an SDP body. Unknown lines are ignored.
    pub fn parse(text: &str) -> Result<Self, MediaParseError> {
        let mut origin = (0, 0);
        let mut session_addr: Option<Result<IpAddr, Unresolved>> = None;
        let mut media_addr: Option<Result<IpAddr, Unresolved>> = None;
        let mut proto = String::new();
        let mut session_dir = None;
        let mut media_dir = None;
        let mut audio: Option<(u16, Vec<u8>)> = None;
        let mut rtpmaps: Vec<Format> = Vec::new();
        let mut ptime = None;
        let mut in_audio = false;
        let mut seen_media = false;
        for line in text.lines().map(str::trim_end).filter(|l| l.len() >= 2) {
            let (Some(kind), Some(value)) = (line.get(..2), line.get(2..)) else {
                continue;
            };
            match kind {
                "o=" => {
                    let f: Vec<&str> = value.split_whitespace().collect();
                    let id = f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                    let ver = f.get(2).and_then(|v| v.parse().ok()).unwrap_or(0);
                    origin = (id, ver);
                }
                "c=" => {
                    let addr = Some(parse_connection(value));
                    if !seen_media {
                        session_addr = addr;
                    } else if in_audio {
                        media_addr = addr;
                    }
                }
                "m=" => {
                    seen_media = true;
                    let f: Vec<&str> = value.split_whitespace().collect();
                    in_audio = audio.is_none() && f.first() == Some(&"audio");
                    if in_audio {
                        let port = f
                            .get(1)
                            .and_then(|p| p.split('/').next())
                            .and_then(|p| p.parse().ok())
                            .ok_or(MediaParseError::new("sdp", "bad audio port"))?;
                        let pts = f.iter().skip(3).filter_map(|p| p.parse().ok()).collect();
                        proto = f.get(2).copied().unwrap_or_default().to_owned();
                        audio = Some((port, pts));
                    }
                }
                "a=" => {
                    let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                    if let Some(dir) = Direction::parse(name) {
                        if !seen_media {
                            session_dir = Some(dir);
                        } else if in_audio {
                            media_dir = Some(dir);
                        }
                    } else if in_audio && name == "rtpmap" {
                        if let Some(f) = parse_rtpmap(arg) {
                            rtpmaps.push(f);
                        }
                    } else if in_audio && name == "ptime" {
                        ptime = arg.trim().parse().ok();
                    }
                }
                _ => {}
            }
        }
        let (port, pts) = audio.ok_or(MediaParseError::new("sdp", "no audio stream"))?;
        let formats = pts
            .into_iter()
            .filter_map(|pt| {
                rtpmaps
                    .iter()
                    .find(|f| f.pt == pt)
                    .cloned()
                    .or_else(|| static_format(pt))
            })
            .collect();
        let (address, unresolved) = match media_addr.or(session_addr) {
            Some(Ok(ip)) => (Some(ip), None),
            Some(Err(why)) => (None, Some(why)),
            None => (None, Some(Unresolved::Missing)),
        };
        Ok(SessionDescription {
            origin,
            address,
            unresolved,
            proto,
            port,
            formats,
            direction: media_dir.or(session_dir).unwrap_or_default(),
            ptime,
        })
    }

    /// The remote RTP address, unless the stream is rejected or on hold by `0.0.0.0`.
    pub fn rtp_addr(&self) -> Option<SocketAddr> {
        let ip = self.address?;
        if self.port == 0 || ip.is_unspecified() {
            return None;
        }
        Some(SocketAddr::new(ip, self.port))
    }

    /// Render as an SDP body.
    pub fn to_sdp(&self) -> String {
        let ip = self.address.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let pts: Vec<String> = self.formats.iter().map(|f| f.pt.to_string()).collect();
        let mut s = format!(
            "v=0\r\no=rapport {} {} IN {fam} {ip}\r\ns=rapport\r\nc=IN {fam} {ip}\r\nt=0 0\r\nm=audio {} {} {}\r\n",
            self.origin.0,
            self.origin.1,
            self.port,
            self.proto,
            pts.join(" ")
        );
        for f in &self.formats {
            s.push_str(&format!("a=rtpmap:{} {}/{}\r\n", f.pt, f.name, f.rate));
            if f.name.eq_ignore_ascii_case("telephone-event") {
                s.push_str(&format!("a=fmtp:{} 0-16\r\n", f.pt));
            }
        }
        s.push_str(&format!("a=ptime:{}\r\n", self.ptime.unwrap_or(20)));
        s.push_str(&format!("a={}\r\n", self.direction.as_str()));
        s
    }
}

fn parse_rtpmap(arg: &str) -> Option<Format> {
    let (pt, rest) = arg.trim().split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let name = parts.next()?.to_owned();
    let rate = parts.next()?.parse().ok()?;
    Some(Format {
        pt: pt.parse().ok()?,
        name,
        rate,
    })
}

/// What both sides agreed on for the audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP (`None` when the peer gave no usable address, e.g. on hold).
    pub remote: Option<SocketAddr>,
    /// Audio codec.
    pub codec: Codec,
    /// Payload type the peer uses for the codec.
    pub codec_pt: u8,
    /// telephone-event payload type, if both support it.
    pub dtmf_pt: Option<u8>,
    /// Our direction for this stream.
    pub direction: Direction,
}

/// Local media parameters used to build offers and answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address advertised in `c=`.
    pub address: IpAddr,
    /// Our RTP port.
    pub port: u16,
    /// Codecs in our preference order.
    pub codecs: Vec<Codec>,
    /// Session id for `o=`.
    pub session_id: u64,
}

impl LocalMedia {
    /// Build an offer with the given direction and `o=` version.
    pub fn offer(&self, direction: Direction, version: u64) -> SessionDescription {
        let mut formats: Vec<Format> = self
            .codecs
            .iter()
            .map(|c| Format {
                pt: c.payload_type(),
                name: c.name().into(),
                rate: 8000,
            })
            .collect();
        formats.push(Format {
            pt: DEFAULT_DTMF_PT,
            name: "telephone-event".into(),
            rate: 8000,
        });
        SessionDescription {
            origin: (self.session_id, version),
            address: Some(self.address),
            unresolved: None,
            proto: RTP_AVP.into(),
            port: self.port,
            formats,
            direction,
            ptime: Some(20),
        }
    }

    /// Whether we can take part in the peer's audio stream as described: plain RTP/AVP (the
    /// transport cannot change between offer and answer, and we have no SRTP), a usable
    /// unicast address of our own family. `0.0.0.0` (the old way to hold) is usable.
    pub fn check_stream(&self, sd: &SessionDescription) -> Result<(), NegotiationError> {
        if sd.port == 0 {
            return Err(NegotiationError::StreamRejected);
        }
        if !sd.proto.eq_ignore_ascii_case(RTP_AVP) {
            return Err(NegotiationError::UnsupportedTransport);
        }
        match (&sd.unresolved, sd.address) {
            (Some(Unresolved::Missing), _) => Err(NegotiationError::NoConnection),
            (Some(Unresolved::Host { .. }), _) => Err(NegotiationError::Unresolved),
            (Some(Unresolved::Invalid(_)), _) | (None, None) => Err(NegotiationError::BadAddress),
            (None, Some(ip)) if ip.is_ipv4() != self.address.is_ipv4() => {
                Err(NegotiationError::AddressFamily)
            }
            (None, Some(ip)) if ip.is_multicast() || ip == IpAddr::from([255, 255, 255, 255]) => {
                Err(NegotiationError::BadAddress)
            }
            (None, Some(_)) => Ok(()),
        }
    }

    /// Answer a remote offer. `want` is the direction we would like (e.g.
    /// `SendOnly` while we hold); the answer never exceeds what the offer allows.
    pub fn answer(
        &self,
        offer: &SessionDescription,
        want: Direction,
        version: u64,
    ) -> Result<(SessionDescription, Negotiated), NegotiationError> {
        self.check_stream(offer)?;
        let (codec, codec_pt) = offer
            .formats
            .iter()
            .find_map(|f| {
                let c = Codec::from_name(&f.name)
                    .filter(|c| f.rate == 8000 && self.codecs.contains(c))?;
                Some((c, f.pt))
            })
            .ok_or(NegotiationError::NoCommonCodec)?;
        let dtmf = offer
            .formats
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case("telephone-event") && f.rate == 8000);
        let offered = offer.direction;
        let direction = Direction::from_flags(
            want.sends() && offered.receives(),
            want.receives() && offered.sends(),
        );
        let mut formats = vec![Format {
            pt: codec_pt,
            name: codec.name().into(),
            rate: 8000,
        }];
        formats.extend(dtmf.cloned());
        let answer = SessionDescription {
            origin: (self.session_id, version),
            address: Some(self.address),
            unresolved: None,
            proto: RTP_AVP.into(),
            port: self.port,
            formats,
            direction,
            ptime: Some(20),
        };
        let negotiated = Negotiated {
            remote: offer.rtp_addr(),
            codec,
            codec_pt,
            dtmf_pt: dtmf.map(|f| f.pt),
            direction,
        };
        Ok((answer, negotiated))
    }

    /// Read the peer's answer to our offer.
    pub fn accept_answer(
        &self,
        answer: &SessionDescription,
    ) -> Result<Negotiated, NegotiationError> {
        self.check_stream(answer)?;
        let (codec, codec_pt) = answer
            .formats
            .iter()
            .find_map(|f| {
                Some((
                    Codec::from_name(&f.name).filter(|c| self.codecs.contains(c))?,
                    f.pt,
                ))
            })
            .ok_or(NegotiationError::NoCommonCodec)?;
        let dtmf_pt = answer
            .formats
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case("telephone-event"))
            .map(|f| f.pt);
        Ok(Negotiated {
            remote: answer.rtp_addr(),
            codec,
            codec_pt,
            dtmf_pt,
            direction: answer.direction.reversed(),
        })
    }
}

/// Why an offer or answer could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The audio stream has port 0.
    #[error("audio stream rejected")]
    StreamRejected,
    /// No codec we support was offered.
    #[error("no common codec")]
    NoCommonCodec,
    /// A transport other than plain `RTP/AVP` (e.g. SRTP-only `RTP/SAVP`).
    #[error("unsupported media transport")]
    UnsupportedTransport,
    /// No `c=` line gives the stream an address.
    #[error("no connection address")]
    NoConnection,
    /// The `c=` address is a host name that has not been resolved (or could not be).
    #[error("unresolved connection address")]
    Unresolved,
    /// The `c=` address is malformed, of the wrong type, multicast or broadcast.
    #[error("invalid connection address")]
    BadAddress,
    /// The address is IPv6 where we have IPv4 (or the reverse): we cannot answer in its family.
    #[error("connection address of another family")]
    AddressFamily,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalMedia {
        LocalMedia {
            address: "127.0.0.1".parse().unwrap(),
            port: 4000,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            session_id: 1,
        }
    }

    const SIPP_ANSWER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn parses_sipp_answer() {
        let sd = SessionDescription::parse(SIPP_ANSWER).unwrap();
        assert_eq!(sd.rtp_addr(), Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(sd.direction, Direction::SendRecv);
        let n = local().accept_answer(&sd).unwrap();
        assert_eq!((n.codec, n.codec_pt, n.dtmf_pt), (Codec::Pcmu, 0, None));
    }

    #[test]
    fn offer_round_trips() {
        let offer = local().offer(Direction::SendOnly, 2);
        let parsed = SessionDescription::parse(&offer.to_sdp()).unwrap();
        assert_eq!(parsed, offer);
    }

    #[test]
    fn answer_picks_first_common_codec_and_dtmf() {
        let offer = SessionDescription::parse(
            "v=0\r\nc=IN IP4 10.0.0.9\r\nm=audio 5004 RTP/AVP 9 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=sendrecv\r\n",
        )
        .unwrap();
        let (answer, n) = local().answer(&offer, Direction::SendRecv, 1).unwrap();
        assert_eq!((n.codec, n.codec_pt, n.dtmf_pt), (Codec::Pcma, 8, Some(96)));
        assert_eq!(
            answer.formats.iter().map(|f| f.pt).collect::<Vec<_>>(),
            [8, 96]
        );
        assert_eq!(n.remote, Some("10.0.0.9:5004".parse().unwrap()));
    }

    #[test]
    fn hold_directions() {
        let check = |offered: Direction, want: Direction, expect: Direction| {
            let mut offer = local().offer(offered, 1);
            offer.port = 5000;
            let (answer, _) = local().answer(&offer, want, 1).unwrap();
            assert_eq!(answer.direction, expect, "{offered:?} / {want:?}");
        };
        check(
            Direction::SendOnly,
            Direction::SendRecv,
            Direction::RecvOnly,
        );
        check(
            Direction::Inactive,
            Direction::SendRecv,
            Direction::Inactive,
        );
        check(
            Direction::RecvOnly,
            Direction::SendRecv,
            Direction::SendOnly,
        );
        check(
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::SendOnly,
        );
        check(
            Direction::SendOnly,
            Direction::SendOnly,
            Direction::Inactive,
        );
    }

    #[test]
    fn rejected_or_incompatible_offers() {
        let no_codec =
            SessionDescription::parse("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 9\r\n")
                .unwrap();
        assert_eq!(
            local()
                .answer(&no_codec, Direction::SendRecv, 1)
                .unwrap_err(),
            NegotiationError::NoCommonCodec
        );
        let zero = SessionDescription::parse("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n")
            .unwrap();
        assert_eq!(
            local().answer(&zero, Direction::SendRecv, 1).unwrap_err(),
            NegotiationError::StreamRejected
        );
        assert!(SessionDescription::parse("v=0\r\nm=video 5 RTP/AVP 0\r\n").is_err());
        assert!(SessionDescription::parse("").is_err());
    }

    /// Offers the phone answered with 200 before (issue 12) and must refuse: each a reason.
    #[test]
    fn unusable_connections_and_transports_are_refused() {
        let refuse = |c_line: &str, proto: &str| {
            let text = format!(
                "v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\n{c_line}t=0 0\r\nm=audio 5004 {proto} 0\r\n"
            );
            let sd = SessionDescription::parse(&text).unwrap();
            let answer = local().answer(&sd, Direction::SendRecv, 1).map(|_| ());
            assert_eq!(
                answer,
                local().accept_answer(&sd).map(|_| ()),
                "{c_line:?} {proto}"
            );
            answer.err()
        };
        use NegotiationError::*;
        let ok = "c=IN IP4 10.0.0.9\r\n";
        assert_eq!(refuse(ok, "RTP/AVP"), None);
        assert_eq!(refuse(ok, "rtp/avp"), None);
        assert_eq!(
            refuse("c=IN IP4 0.0.0.0\r\n", "RTP/AVP"),
            None,
            "hold is usable"
        );
        assert_eq!(refuse(ok, "RTP/SAVP"), Some(UnsupportedTransport));
        assert_eq!(refuse(ok, "UDP/TLS/RTP/SAVPF"), Some(UnsupportedTransport));
        assert_eq!(refuse("", "RTP/AVP"), Some(NoConnection));
        assert_eq!(refuse("c=IN IP6 ::1\r\n", "RTP/AVP"), Some(AddressFamily));
        for bad in [
            "c=IN IP4 999.1.1.1\r\n",
            "c=IN IP4 10.0.0\r\n",
            "c=IN IP4\r\n",
            "c=IN IP4 ::1\r\n",
            "c=IN IP6 10.0.0.1\r\n",
            "c=XX IP4 10.0.0.1\r\n",
            "c=IN IP5 10.0.0.1\r\n",
            "c=IN IP4 bad_host!\r\n",
            "c=IN IP4 224.2.1.1/127\r\n",
            "c=IN IP4 255.255.255.255\r\n",
        ] {
            assert_eq!(refuse(bad, "RTP/AVP"), Some(BadAddress), "{bad:?}");
        }
        assert_eq!(
            refuse("c=IN IP4 media.example.org\r\n", "RTP/AVP"),
            Some(Unresolved)
        );
        let host = SessionDescription::parse(
            "v=0\r\nc=IN IP6 media.example.org\r\nm=audio 5004 RTP/AVP 0\r\n",
        )
        .unwrap();
        assert_eq!(
            host.unresolved,
            Some(super::Unresolved::Host {
                name: "media.example.org".into(),
                ipv6: true
            })
        );
        // Media-level c= wins over a session-level one, also when only one of them is bad.
        let media_wins =
            "v=0\r\nc=IN IP4 999.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\n";
        let sd = SessionDescription::parse(media_wins).unwrap();
        assert_eq!(sd.rtp_addr(), Some("10.0.0.2:5004".parse().unwrap()));
        assert!(local().answer(&sd, Direction::SendRecv, 1).is_ok());
    }
}
