//! RTP (RFC 3550) packet parsing/building and minimal RTCP sender reports and BYE: bytes only, no sockets.

use crate::error::MediaParseError;

/// Fixed RTP header length without CSRCs or extensions.
pub const RTP_HEADER_LEN: usize = 12;

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload with CSRCs, header extension and padding removed.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parse a datagram. Never panics; hostile input yields an error.
    pub fn parse(buf: &'a [u8]) -> Result<Self, MediaParseError> {
        if buf.len() < RTP_HEADER_LEN {
            return Err(MediaParseError::new("rtp", "shorter than a header"));
        }
        if buf[0] >> 6 != 2 {
            return Err(MediaParseError::new("rtp", "version is not 2"));
        }
        let padding = buf[0] & 0x20 != 0;
        let extension = buf[0] & 0x10 != 0;
        let csrc_count = usize::from(buf[0] & 0x0F);
        let payload_type = buf[1] & 0x7F;
        if (72..=76).contains(&payload_type) {
            return Err(MediaParseError::new("rtp", "RTCP packet on the RTP port"));
        }
        let mut offset = RTP_HEADER_LEN + 4 * csrc_count;
        if extension {
            let ext = buf
                .get(offset..offset + 4)
                .ok_or(MediaParseError::new("rtp", "truncated header extension"))?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            offset += 4 + 4 * words;
        }
        let mut end = buf.len();
        if padding {
            let pad = usize::from(*buf.last().unwrap_or(&0));
            if pad == 0 || pad > end.saturating_sub(offset) {
                return Err(MediaParseError::new("rtp", "bad padding length"));
            }
            end -= pad;
        }
        let payload = buf
            .get(offset..end)
            .ok_or(MediaParseError::new("rtp", "header longer than packet"))?;
        Ok(RtpPacket {
            payload_type,
            marker: buf[1] & 0x80 != 0,
            sequence: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            payload,
        })
    }

    /// Serialise with a plain 12-byte header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RTP_HEADER_LEN + self.payload.len());
        out.push(0x80);
        out.push((u8::from(self.marker) << 7) | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(self.payload);
        out
    }
}

/// Counters a sender keeps for its RTCP sender reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Packets sent so far.
    pub packets: u32,
    /// Payload octets sent so far.
    pub octets: u32,
    /// RTP timestamp of the last packet sent.
    pub rtp_timestamp: u32,
}

/// Build an RTCP compound packet: a sender report without report blocks, plus SDES CNAME.
pub fn rtcp_sender_report(ssrc: u32, ntp: u64, stats: SenderStats, cname: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&[0x80, 200, 0, 6]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&ntp.to_be_bytes());
    out.extend_from_slice(&stats.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&stats.packets.to_be_bytes());
    out.extend_from_slice(&stats.octets.to_be_bytes());
    push_sdes(&mut out, ssrc, cname);
    out
}

/// RTCP packet type of a BYE.
pub const RTCP_BYE: u8 = 203;

/// Build an RTCP compound packet announcing that `ssrc` leaves the session.
pub fn rtcp_bye(ssrc: u32, cname: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    // An empty receiver report must lead a compound packet.
    out.extend_from_slice(&[0x80, 201, 0, 1]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    push_sdes(&mut out, ssrc, cname);
    out.extend_from_slice(&[0x81, 203, 0, 1]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out
}

fn push_sdes(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    let name = &cname.as_bytes()[..cname.len().min(255)];
    // ssrc + type + len + text + terminating null, padded to 32 bits.
    let body = 4 + 2 + name.len() + 1;
    let padded = body.div_ceil(4) * 4;
    let words = (padded / 4) as u16;
    out.extend_from_slice(&[0x81, 202]);
    out.extend_from_slice(&words.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(1);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.resize(out.len() + (padded - body) + 1, 0);
}

/// One RTCP packet header inside a compound datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpHeader {
    /// Packet type (200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP).
    pub packet_type: u8,
    /// Sender SSRC (first word of the body), if the body has one.
    pub ssrc: Option<u32>,
}

/// Walk the packets of an RTCP compound datagram. Never panics; stops at the first malformed packet.
pub fn parse_rtcp(buf: &[u8]) -> Result<Vec<RtcpHeader>, MediaParseError> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 4 || rest[0] >> 6 != 2 {
            return Err(MediaParseError::new("rtcp", "bad packet header"));
        }
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let packet = rest
            .get(..len)
            .ok_or(MediaParseError::new("rtcp", "length beyond datagram"))?;
        let ssrc = packet
            .get(4..8)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        out.push(RtcpHeader {
            packet_type: rest[1],
            ssrc,
        });
        rest = &rest[len..];
    }
    if out.is_empty() {
        return Err(MediaParseError::new("rtcp", "empty datagram"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = RtpPacket {
            payload_type: 0,
            marker: true,
            sequence: 65535,
            timestamp: 0xDEAD_BEEF,
            ssrc: 42,
            payload: &[1, 2, 3],
        };
        let bytes = p.to_bytes();
        assert_eq!(bytes[..2], [0x80, 0x80]);
        assert_eq!(RtpPacket::parse(&bytes).unwrap(), p);
    }

    #[test]
    fn csrc_extension_and_padding_are_skipped() {
        let mut b = vec![0x80 | 0x20 | 0x10 | 1, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
        b.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        b.extend_from_slice(&[0xBE, 0xDE, 0, 1, 5, 5, 5, 5]); // one-word extension
        b.extend_from_slice(&[0xAA, 0xBB]); // payload
        b.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(p.payload, &[0xAA, 0xBB]);
        assert_eq!(p.payload_type, 8);
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert!(RtpPacket::parse(&[0x80; 11]).is_err());
        assert!(RtpPacket::parse(&[0x40; 12]).is_err());
        assert!(RtpPacket::parse(&[0x8F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(RtpPacket::parse(&[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn rtcp_reports_parse_back() {
        let sr = rtcp_sender_report(7, 1, SenderStats::default(), "rapport@127.0.0.1");
        let types: Vec<u8> = parse_rtcp(&sr)
            .unwrap()
            .iter()
            .map(|h| h.packet_type)
            .collect();
        assert_eq!(types, [200, 202]);
        assert_eq!(sr.len() % 4, 0);
        let bye = rtcp_bye(7, "x");
        let types: Vec<u8> = parse_rtcp(&bye)
            .unwrap()
            .iter()
            .map(|h| h.packet_type)
            .collect();
        assert_eq!(types, [201, 202, 203]);
    }
}
