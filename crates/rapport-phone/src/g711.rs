//! G.711 µ-law (PCMU) and A-law (PCMA) codecs: pure sample conversions, no IO, no state.

/// A narrowband G.711 codec as negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Look a codec up by its static payload type.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// Look a codec up by its rtpmap encoding name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }

    /// Encode linear PCM samples, appending one byte per sample to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        match self {
            Codec::Pcmu => out.extend(pcm.iter().map(|&s| linear_to_ulaw(s))),
            Codec::Pcma => out.extend(pcm.iter().map(|&s| linear_to_alaw(s))),
        }
    }

    /// Decode G.711 bytes, appending one sample per byte to `out`.
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        match self {
            Codec::Pcmu => out.extend(payload.iter().map(|&b| ulaw_to_linear(b))),
            Codec::Pcma => out.extend(payload.iter().map(|&b| alaw_to_linear(b))),
        }
    }
}

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encode one 16-bit linear sample to µ-law (ITU-T G.711).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(ULAW_CLIP) + ULAW_BIAS;
    // Segment = position of the highest set bit above bit 7.
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decode one µ-law byte to a 16-bit linear sample.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encode one 16-bit linear sample to A-law (ITU-T G.711).
pub fn linear_to_alaw(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes.
    let s = i32::from(sample) >> 3;
    let (mask, magnitude) = if s >= 0 { (0xD5, s) } else { (0x55, -s - 1) };
    let magnitude = magnitude.min(0x0FFF);
    let code = if magnitude < 0x20 {
        magnitude >> 1
    } else {
        let mut segment = 1;
        while magnitude >> (segment + 4) > 1 && segment < 7 {
            segment += 1;
        }
        (segment << 4) | ((magnitude >> segment) & 0x0F)
    };
    (code ^ mask) as u8
}

/// Decode one A-law byte to a 16-bit linear sample.
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = i32::from(byte ^ 0x55);
    let segment = (a & 0x70) >> 4;
    let mut t = (a & 0x0F) << 4;
    match segment {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (segment - 1),
    }
    if a & 0x80 != 0 { t as i16 } else { -t as i16 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_vectors() {
        // Reference values of the ITU-T G.711 / Sun g711.c tables.
        let check = |sample: i16, byte: u8| assert_eq!(linear_to_ulaw(sample), byte, "{sample}");
        check(0, 0xFF);
        check(-1, 0x7F);
        check(32767, 0x80);
        check(-32768, 0x00);
        check(1000, 0xCE);
        check(-1000, 0x4E);
        let decode = |byte: u8, sample: i16| assert_eq!(ulaw_to_linear(byte), sample, "{byte:#x}");
        decode(0xFF, 0);
        decode(0x7F, 0);
        decode(0x80, 32124);
        decode(0x00, -32124);
        decode(0xCE, 988);
    }

    #[test]
    fn alaw_known_vectors() {
        let check = |sample: i16, byte: u8| assert_eq!(linear_to_alaw(sample), byte, "{sample}");
        check(0, 0xD5);
        check(-8, 0x55);
        check(32767, 0xAA);
        check(-32768, 0x2A);
        let decode = |byte: u8, sample: i16| assert_eq!(alaw_to_linear(byte), sample, "{byte:#x}");
        decode(0xD5, 8);
        decode(0x55, -8);
        decode(0xAA, 32256);
        decode(0x2A, -32256);
    }

    #[test]
    fn every_code_round_trips_through_linear() {
        for byte in 0..=255u8 {
            let u = ulaw_to_linear(byte);
            // 0x7F and 0xFF are both zero in µ-law; zero encodes to 0xFF.
            if byte != 0x7F {
                assert_eq!(linear_to_ulaw(u), byte, "ulaw {byte:#x}");
            }
            assert_eq!(linear_to_alaw(alaw_to_linear(byte)), byte, "alaw {byte:#x}");
        }
    }

    #[test]
    fn quantisation_error_is_small_relative_to_signal() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for sample in (-32000i16..32000).step_by(97) {
                let mut enc = Vec::new();
                codec.encode(&[sample], &mut enc);
                let mut dec = Vec::new();
                codec.decode(&enc, &mut dec);
                let err = (i32::from(dec[0]) - i32::from(sample)).abs();
                assert!(
                    err <= 16 + i32::from(sample).abs() / 16,
                    "{codec:?} {sample} -> {}",
                    dec[0]
                );
            }
        }
    }
}
