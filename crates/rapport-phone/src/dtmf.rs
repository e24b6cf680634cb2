//! RFC 4733 telephone-event DTMF: digit mapping, a packet-by-packet encoder and a de-duplicating decoder.

use crate::error::MediaParseError;

/// Samples per 20 ms packet at 8 kHz.
const STEP: u16 = 160;

/// Map a DTMF character to its RFC 4733 event code.
pub fn event_code(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// Map an RFC 4733 event code back to its DTMF character.
pub fn event_digit(code: u8) -> Option<char> {
    match code {
        0..=9 => Some(char::from(b'0' + code)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + code - 12)),
        _ => None,
    }
}

/// Validate a DTMF string before it is queued (digits, `*`, `#`, `A`–`D`).
pub fn validate_digits(digits: &str) -> Result<(), char> {
    match digits.chars().find(|c| event_code(*c).is_none()) {
        Some(bad) => Err(bad),
        None => Ok(()),
    }
}

/// The 4-byte telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// Event code (0–15 for DTMF).
    pub code: u8,
    /// End-of-event bit.
    pub end: bool,
    /// Volume in -dBm0 (0–63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl DtmfEvent {
    /// Parse a telephone-event payload.
    pub fn parse(payload: &[u8]) -> Result<Self, MediaParseError> {
        let b = payload
            .get(..4)
            .ok_or(MediaParseError::new("dtmf", "payload shorter than 4 bytes"))?;
        Ok(DtmfEvent {
            code: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// Serialise to the 4-byte payload.
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.code,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// One packet the encoder wants sent: the payload and RTP header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// Telephone-event payload.
    pub event: DtmfEvent,
    /// Marker bit (set on the first packet of an event).
    pub marker: bool,
    /// RTP timestamp: the event's start, the same for all its packets.
    pub timestamp: u32,
}

/// Emits the packets of one digit, one call per 20 ms tick: a marked start,
/// duration updates, then the end packet three times (RFC 4733 §2.5.1.4).
#[derive(Debug, Clone)]
pub struct DtmfEncoder {
    code: u8,
    start: u32,
    tone_ticks: u16,
    tick: u16,
    ends_sent: u8,
}

impl DtmfEncoder {
    /// Start a digit of `duration_ms` at RTP timestamp `start`.
    pub fn new(digit: char, start: u32, duration_ms: u16) -> Option<Self> {
        Some(DtmfEncoder {
            code: event_code(digit)?,
            start,
            tone_ticks: (duration_ms / 20).max(2),
            tick: 0,
            ends_sent: 0,
        })
    }

    /// The next packet, or `None` once the digit is finished.
    pub fn next_packet(&mut self) -> Option<DtmfPacket> {
        if self.ends_sent == 3 {
            return None;
        }
        self.tick = self.tick.saturating_add(1).min(self.tone_ticks);
        let end = self.tick == self.tone_ticks;
        let marker = self.tick == 1 && self.ends_sent == 0;
        if end {
            self.ends_sent += 1;
        }
        Some(DtmfPacket {
            event: DtmfEvent {
                code: self.code,
                end,
                volume: 10,
                duration: self.tick.saturating_mul(STEP),
            },
            marker,
            timestamp: self.start,
        })
    }
}

/// Turns received telephone-event packets into digits, once per event even
/// when start, update and the three end packets all arrive.
#[derive(Debug, Clone, Default)]
pub struct DtmfDecoder {
    last_timestamp: Option<u32>,
}

impl DtmfDecoder {
    /// Feed one packet; returns the digit when a new event starts.
    pub fn push(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let event = DtmfEvent::parse(payload).ok()?;
        if self.last_timestamp == Some(timestamp) {
            return None;
        }
        let digit = event_digit(event.code)?;
        self.last_timestamp = Some(timestamp);
        Some(digit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_mapping_round_trips() {
        for c in "0123456789*#ABCD".chars() {
            assert_eq!(event_digit(event_code(c).unwrap()), Some(c));
        }
        assert_eq!(event_code('a'), Some(12));
        assert_eq!(event_code('x'), None);
        assert_eq!(validate_digits("12#x"), Err('x'));
    }

    #[test]
    fn encoder_emits_start_updates_and_three_ends() {
        let mut enc = DtmfEncoder::new('5', 1000, 100).unwrap();
        let packets: Vec<_> = std::iter::from_fn(|| enc.next_packet()).collect();
        assert_eq!(packets.len(), 5 + 2);
        assert!(packets[0].marker && !packets[1].marker);
        assert!(
            packets
                .iter()
                .all(|p| p.timestamp == 1000 && p.event.code == 5)
        );
        let ends: Vec<_> = packets.iter().filter(|p| p.event.end).collect();
        assert_eq!(ends.len(), 3);
        assert!(ends.iter().all(|p| p.event.duration == 800));
        assert_eq!(packets[0].event.to_bytes(), [5, 10, 0, 160]);
    }

    #[test]
    fn decoder_reports_each_event_once() {
        let mut dec = DtmfDecoder::default();
        let mut digits = String::new();
        for (ts, digit) in [(0u32, '1'), (800, '#')] {
            let mut enc = DtmfEncoder::new(digit, ts, 60).unwrap();
            while let Some(p) = enc.next_packet() {
                digits.extend(dec.push(p.timestamp, &p.event.to_bytes()));
            }
        }
        assert_eq!(digits, "1#");
        assert_eq!(dec.push(5, &[1, 2]), None);
        assert_eq!(dec.push(6, &[99, 0, 0, 0]), None);
    }
}
