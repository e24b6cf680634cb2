//! Adaptive jitter buffer and packet-loss concealment: deterministic, driven by caller-supplied arrival times, no IO.

use std::collections::BTreeMap;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// Tuning of the jitter buffer, in 20 ms frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Smallest playout delay.
    pub min_frames: usize,
    /// Largest playout delay.
    pub max_frames: usize,
    /// Hard bound on buffered packets (hostile senders cannot grow memory).
    pub capacity: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            min_frames: 2,
            max_frames: 12,
            capacity: 64,
        }
    }
}

/// What the playout clock gets for one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The next frame's payload.
    Frame(Vec<u8>),
    /// The frame is missing: conceal it.
    Lost,
    /// Still prefetching (nothing played yet): play silence.
    Waiting,
}

/// Reorders packets by sequence number and releases one per tick after an
/// adaptive delay derived from the RFC 3550 interarrival jitter.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    packets: BTreeMap<i64, Vec<u8>>,
    highest: Option<i64>,
    next: Option<i64>,
    playing: bool,
    empty_ticks: u32,
    /// Jitter estimate in samples (RFC 3550 §6.4.1), scaled by 16.
    jitter16: i64,
    last_transit: Option<i64>,
    target: usize,
    /// Counters for diagnostics and tests.
    pub stats: JitterStats,
}

/// Counters kept by the jitter buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub received: u64,
    /// Packets that came after their playout time, or duplicates.
    pub late: u64,
    /// Frames reported as lost.
    pub lost: u64,
    /// Packets dropped to shrink the delay or respect the capacity.
    pub dropped: u64,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        let cfg = JitterConfig {
            min_frames: cfg.min_frames.max(1),
            max_frames: cfg.max_frames.max(cfg.min_frames.max(1)),
            capacity: cfg.capacity.max(cfg.max_frames.max(2) * 2),
        };
        JitterBuffer {
            cfg,
            packets: BTreeMap::new(),
            highest: None,
            next: None,
            playing: false,
            empty_ticks: 0,
            jitter16: 0,
            last_transit: None,
            target: cfg.min_frames,
            stats: JitterStats::default(),
        }
    }

    /// Current playout delay target, in frames.
    pub fn target_frames(&self) -> usize {
        self.target
    }

    /// Current interarrival jitter estimate in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter16 as f64 / 16.0 / 8.0
    }

    /// Packets waiting for playout.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Insert a packet. `arrival_ms` is the local receive time in milliseconds.
    pub fn push(&mut self, sequence: u16, timestamp: u32, payload: &[u8], arrival_ms: u64) {
        let ext = match self.highest {
            None => i64::from(sequence) + (1 << 16),
            Some(h) => {
                let delta = i64::from(sequence.wrapping_sub(h as u16) as i16);
                if delta.abs() > 3000 {
                    // A new stream (re-INVITE, SSRC change): start over.
                    self.reset();
                    i64::from(sequence) + (1 << 16)
                } else {
                    h + delta
                }
            }
        };
        if self.next.is_some_and(|n| ext < n) || self.packets.contains_key(&ext) {
            self.stats.late += 1;
            return;
        }
        self.update_jitter(timestamp, arrival_ms);
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.packets.insert(ext, payload.to_vec());
        self.stats.received += 1;
        while self.packets.len() > self.cfg.capacity {
            self.packets.pop_first();
            self.stats.dropped += 1;
        }
    }

    fn update_jitter(&mut self, timestamp: u32, arrival_ms: u64) {
        let transit = (arrival_ms as i64)
            .wrapping_mul(8)
            .wrapping_sub(i64::from(timestamp));
        if let Some(last) = self.last_transit {
            let d = transit.wrapping_sub(last).unsigned_abs().min(80_000) as i64;
            self.jitter16 += d - ((self.jitter16 + 8) >> 4);
        }
        self.last_transit = Some(transit);
        // Two jitter spans of headroom, rounded up to whole frames.
        let jitter_samples = (self.jitter16 >> 4) as usize;
        let frames = (2 * jitter_samples).div_ceil(FRAME_SAMPLES) + self.cfg.min_frames;
        self.target = frames.clamp(self.cfg.min_frames, self.cfg.max_frames);
    }

    fn reset(&mut self) {
        self.packets.clear();
        self.highest = None;
        self.next = None;
        self.playing = false;
        self.last_transit = None;
    }

    /// Release the frame for this 20 ms tick.
    pub fn pop(&mut self) -> Playout {
        if !self.playing {
            if self.packets.len() < self.target {
                return Playout::Waiting;
            }
            self.playing = true;
            self.next = self.packets.keys().next().copied();
        }
        let Some(next) = self.next else {
            return Playout::Waiting;
        };
        if self.packets.is_empty() {
            self.empty_ticks += 1;
            self.stats.lost += 1;
            self.next = Some(next + 1);
            if self.empty_ticks >= 3 {
                // Underrun: prefetch again so playout regains its cushion.
                self.playing = false;
            }
            return Playout::Lost;
        }
        self.empty_ticks = 0;
        // Too much delay built up (e.g. after a burst): skip ahead to the target.
        let excess = self.packets.len().saturating_sub(self.target + 3);
        for _ in 0..excess {
            self.packets.pop_first();
            self.stats.dropped += 1;
        }
        // Buffered keys are never behind `next` (late packets are refused).
        let next = if excess > 0 {
            self.packets
                .keys()
                .next()
                .copied()
                .unwrap_or(next)
                .max(next)
        } else {
            next
        };
        self.next = Some(next + 1);
        match self.packets.remove(&next) {
            Some(payload) => Playout::Frame(payload),
            None => {
                self.stats.lost += 1;
                Playout::Lost
            }
        }
    }
}

/// Packet-loss concealment on decoded PCM: repeats the last good frame with
/// a fading gain for a few frames, then plays silence.
#[derive(Debug, Clone, Default)]
pub struct Concealer {
    last: Vec<i16>,
    lost_run: u32,
}

impl Concealer {
    /// Remember a correctly received frame.
    pub fn good(&mut self, pcm: &[i16]) {
        self.last.clear();
        self.last.extend_from_slice(pcm);
        self.lost_run = 0;
    }

    /// Produce a replacement frame of `FRAME_SAMPLES` samples.
    pub fn conceal(&mut self, out: &mut Vec<i16>) {
        self.lost_run = self.lost_run.saturating_add(1);
        out.clear();
        if self.lost_run > 4 || self.last.is_empty() {
            out.resize(FRAME_SAMPLES, 0);
            return;
        }
        let shift = self.lost_run - 1;
        out.extend(self.last.iter().map(|&s| s >> shift));
        out.resize(FRAME_SAMPLES, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u16) -> Vec<u8> {
        n.to_be_bytes().to_vec()
    }

    /// Push `(seq, arrival_ms)` pairs, popping once per 20 ms of arrival time.
    fn play(buf: &mut JitterBuffer, arrivals: &[(u16, u64)], extra_ticks: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut clock = 0;
        let tick = |buf: &mut JitterBuffer, out: &mut Vec<String>| {
            out.push(match buf.pop() {
                Playout::Frame(f) => u16::from_be_bytes([f[0], f[1]]).to_string(),
                Playout::Lost => "L".into(),
                Playout::Waiting => "W".into(),
            })
        };
        for &(seq, at) in arrivals {
            while clock + 20 <= at {
                clock += 20;
                tick(buf, &mut out);
            }
            buf.push(seq, u32::from(seq) * 160, &frame(seq), at);
        }
        for _ in 0..extra_ticks {
            tick(buf, &mut out);
        }
        out
    }

    #[test]
    fn in_order_stream_plays_after_prefetch() {
        let mut b = JitterBuffer::new(JitterConfig::default());
        let arrivals: Vec<_> = (0..5).map(|i| (i, u64::from(i) * 20 + 1)).collect();
        assert_eq!(play(&mut b, &arrivals, 2).join(" "), "W 0 1 2 3 4");
    }

    #[test]
    fn reordering_is_repaired_and_loss_is_reported() {
        let mut b = JitterBuffer::new(JitterConfig::default());
        let arrivals = [(10, 1), (12, 21), (11, 22), (13, 61), (15, 81), (16, 101)];
        assert_eq!(
            play(&mut b, &arrivals, 3).join(" "),
            "W 10 11 12 13 L 15 16"
        );
        assert_eq!(b.stats.lost, 1);
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped() {
        let mut b = JitterBuffer::new(JitterConfig::default());
        let arrivals = [(1, 1), (2, 21), (2, 22), (3, 41), (1, 45), (4, 61)];
        assert_eq!(play(&mut b, &arrivals, 2).join(" "), "W 1 2 3 4");
        assert_eq!(b.stats.late, 2);
    }

    #[test]
    fn sequence_wraps_around() {
        let mut b = JitterBuffer::new(JitterConfig::default());
        let arrivals = [(65534, 1), (65535, 21), (0, 41), (1, 61)];
        assert_eq!(play(&mut b, &arrivals, 2).join(" "), "W 65534 65535 0 1");
    }

    #[test]
    fn delay_grows_with_jitter_and_is_bounded() {
        let mut b = JitterBuffer::new(JitterConfig::default());
        for i in 0..200u16 {
            let wobble = if i % 2 == 0 { 0 } else { 90 };
            b.push(i, u32::from(i) * 160, &[0], u64::from(i) * 20 + wobble);
            b.pop();
        }
        assert!(b.target_frames() > 4, "target {}", b.target_frames());
        assert!(b.target_frames() <= 12);
        assert!(b.jitter_ms() > 20.0);
    }

    #[test]
    fn burst_is_trimmed_to_target() {
        let mut b = JitterBuffer::new(JitterConfig::default());
        for i in 0..40u16 {
            b.push(i, u32::from(i) * 160, &frame(i), 0);
        }
        assert!(matches!(b.pop(), Playout::Frame(_)));
        assert!(b.len() <= b.target_frames() + 3);
    }

    #[test]
    fn concealment_fades_to_silence() {
        let mut c = Concealer::default();
        c.good(&[1000; FRAME_SAMPLES]);
        let mut out = Vec::new();
        let peaks: Vec<i16> = (0..6)
            .map(|_| {
                c.conceal(&mut out);
                out[0]
            })
            .collect();
        assert_eq!(peaks, [1000, 500, 250, 125, 0, 0]);
        c.good(&[7; FRAME_SAMPLES]);
        c.conceal(&mut out);
        assert_eq!(out[0], 7);
    }
}
