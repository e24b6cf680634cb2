//! The media session: a thin tokio task that runs RTP/RTCP over UDP on a 20 ms clock, gluing the pure codec, DTMF, jitter-buffer and source-filter (`latch`) cores to an `AudioIo`.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use crate::audio::{AudioIo, FRAME_SAMPLES};
use crate::dtmf::{DtmfDecoder, DtmfEncoder};
use crate::g711::Codec;
use crate::jitter::{Concealer, JitterBuffer, JitterConfig, Playout};
use crate::latch::{Latch, Verdict};
use crate::rtp::{self, RtpPacket, SenderStats};
use crate::sdp::Negotiated;

/// A bound RTP/RTCP port pair (RTP on an even port, RTCP on the next).
#[derive(Debug)]
pub struct MediaSockets {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl MediaSockets {
    /// Bind an even/odd port pair on `ip`.
    pub async fn bind(ip: IpAddr) -> std::io::Result<Self> {
        let mut last_err = None;
        for _ in 0..64 {
            let rtp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
            let port = rtp.local_addr()?.port();
            if port % 2 != 0 || port == u16::MAX {
                continue;
            }
            match UdpSocket::bind(SocketAddr::new(ip, port + 1)).await {
                Ok(rtcp) => return Ok(MediaSockets { rtp, rtcp }),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no free RTP port pair")))
    }

    /// The local RTP port.
    pub fn rtp_port(&self) -> u16 {
        self.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
    }
}

/// Something the media task noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A telephone-event digit arrived.
    Dtmf(char),
}

enum Command {
    Update(Negotiated),
    Talk,
    Mute(bool),
    Dtmf(String),
    Stop(oneshot::Sender<MediaStats>),
}

/// Counters of one media session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets sent (audio and DTMF).
    pub sent: u32,
    /// RTP packets received and accepted.
    pub received: u64,
    /// Frames concealed.
    pub lost: u64,
    /// RTP packets dropped because they came from another address than the negotiated one.
    pub dropped_address: u64,
    /// RTP packets dropped because they came from the negotiated address with another SSRC
    /// than the stream latched on.
    pub dropped_ssrc: u64,
}

/// Handle to a running media task. Dropping it stops the task.
#[derive(Debug)]
pub struct MediaSession {
    commands: mpsc::UnboundedSender<Command>,
}

impl MediaSession {
    /// Start the media clock. Nothing is sent until `update` supplies a negotiated stream.
    /// Until `talk` (or when started `talking`), nothing is captured: silence is sent, and a
    /// file being played waits for the answer instead of running out during early media.
    pub fn start(
        sockets: MediaSockets,
        negotiated: Option<Negotiated>,
        audio: Box<dyn AudioIo>,
        events: mpsc::UnboundedSender<MediaEvent>,
        talking: bool,
    ) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(sockets, negotiated, audio, events, rx, talking));
        MediaSession { commands }
    }

    /// The call was answered: start sending what the audio backend captures.
    pub fn talk(&self) {
        let _ = self.commands.send(Command::Talk);
    }

    /// Apply a new offer/answer outcome (hold, resume, codec change).
    pub fn update(&self, negotiated: Negotiated) {
        let _ = self.commands.send(Command::Update(negotiated));
    }

    /// Send silence instead of captured audio.
    pub fn mute(&self, muted: bool) {
        let _ = self.commands.send(Command::Mute(muted));
    }

    /// Queue DTMF digits (already validated) as RFC 4733 events.
    pub fn dtmf(&self, digits: &str) {
        let _ = self.commands.send(Command::Dtmf(digits.to_owned()));
    }

    /// Stop the task, flush the audio backend and return the counters.
    pub async fn stop(self) -> MediaStats {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stop(tx)).is_err() {
            return MediaStats::default();
        }
        tokio::time::timeout(Duration::from_secs(2), rx)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

fn random_u32() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut x = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)) as u32
}

fn ntp_now() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() + 2_208_988_800;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

struct Sender {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    stats: SenderStats,
}

impl Sender {
    fn packet(&mut self, pt: u8, marker: bool, timestamp: u32, payload: &[u8]) -> Vec<u8> {
        let bytes = RtpPacket {
            payload_type: pt,
            marker,
            sequence: self.seq,
            timestamp,
            ssrc: self.ssrc,
            payload,
        }
        .to_bytes();
        self.seq = self.seq.wrapping_add(1);
        self.stats.packets = self.stats.packets.wrapping_add(1);
        self.stats.octets = self.stats.octets.wrapping_add(payload.len() as u32);
        self.stats.rtp_timestamp = timestamp;
        bytes
    }
}

async fn run(
    sockets: MediaSockets,
    mut negotiated: Option<Negotiated>,
    mut audio: Box<dyn AudioIo>,
    events: mpsc::UnboundedSender<MediaEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut talking: bool,
) {
    let MediaSockets { rtp, rtcp } = sockets;
    let mut latch = Latch::default();
    latch.set_remote(negotiated.and_then(|n| n.remote));
    let cname = format!(
        "rapport@{}",
        rtp.local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    );
    let start = Instant::now();
    let mut sender = Sender {
        ssrc: random_u32(),
        seq: random_u32() as u16,
        timestamp: random_u32(),
        stats: SenderStats::default(),
    };
    let mut jitter = JitterBuffer::new(JitterConfig::default());
    let mut concealer = Concealer::default();
    let mut dtmf_rx = DtmfDecoder::default();
    let mut dtmf_queue: VecDeque<char> = VecDeque::new();
    let mut dtmf_tx: Option<DtmfEncoder> = None;
    let mut dtmf_gap = 0u8;
    let mut muted = false;
    let mut first_audio = true;
    let mut ticks: u64 = 0;
    let mut frame = vec![0i16; FRAME_SAMPLES];
    let mut pcm = Vec::with_capacity(FRAME_SAMPLES);
    let mut encoded = Vec::with_capacity(FRAME_SAMPLES);
    let mut buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 2048];
    let mut clock = tokio::time::interval(Duration::from_millis(20));
    clock.set_missed_tick_behavior(MissedTickBehavior::Burst);

    let stop_reply = loop {
        tokio::select! {
            _ = clock.tick() => {
                ticks += 1;
                if talking {
                    audio.capture(&mut frame);
                }
                if muted || !talking {
                    frame.fill(0);
                }
                let ts = sender.timestamp;
                sender.timestamp = sender.timestamp.wrapping_add(FRAME_SAMPLES as u32);
                if let Some(n) = negotiated.filter(|n| n.direction.sends())
                    && let Some(remote) = n.remote
                {
                        if dtmf_tx.is_none()
                            && dtmf_gap == 0
                            && let (Some(d), Some(_)) = (dtmf_queue.pop_front(), n.dtmf_pt)
                        {
                            dtmf_tx = DtmfEncoder::new(d, ts, 100);
                        }
                        dtmf_gap = dtmf_gap.saturating_sub(1);
                        let dtmf_packet = dtmf_tx.as_mut().and_then(DtmfEncoder::next_packet);
                        let bytes = match (dtmf_packet, n.dtmf_pt) {
                            (Some(p), Some(pt)) => sender.packet(pt, p.marker, p.timestamp, &p.event.to_bytes()),
                            _ => {
                                if dtmf_tx.take().is_some() {
                                    dtmf_gap = 3;
                                }
                                encoded.clear();
                                n.codec.encode(&frame, &mut encoded);
                                let marker = std::mem::take(&mut first_audio);
                                sender.packet(n.codec_pt, marker, ts, &encoded)
                            }
                        };
                        let _ = rtp.send_to(&bytes, remote).await;
                        if ticks % 250 == 1 {
                            let sr = rtp::rtcp_sender_report(sender.ssrc, ntp_now(), sender.stats, &cname);
                            let _ = rtcp.send_to(&sr, rtcp_addr(remote)).await;
                        }
                }
                match jitter.pop() {
                    Playout::Frame(payload) => {
                        pcm.clear();
                        payload_codec(&negotiated, &payload).decode(&payload[1..], &mut pcm);
                        pcm.resize(FRAME_SAMPLES, 0);
                        concealer.good(&pcm);
                    }
                    Playout::Lost => concealer.conceal(&mut pcm),
                    Playout::Waiting => {
                        pcm.clear();
                        pcm.resize(FRAME_SAMPLES, 0);
                    }
                }
                audio.play(&pcm);
            }
            received = rtp.recv_from(&mut buf) => {
                let Ok((len, from)) = received else { continue };
                let Ok(packet) = RtpPacket::parse(&buf[..len]) else { continue };
                let now_ms = start.elapsed().as_millis() as u64;
                if latch.check(from, packet.ssrc, packet.sequence, now_ms) != Verdict::Accept {
                    continue;
                }
                let Some(n) = negotiated else { continue };
                if Some(packet.payload_type) == n.dtmf_pt {
                    if let Some(digit) = dtmf_rx.push(packet.timestamp, packet.payload) {
                        let _ = events.send(MediaEvent::Dtmf(digit));
                    }
                } else if n.direction.receives() && (packet.payload_type == n.codec_pt || Codec::from_payload_type(packet.payload_type).is_some()) {
                    // The payload type travels with the frame so mid-call codec switches decode right.
                    let mut tagged = Vec::with_capacity(packet.payload.len().min(FRAME_SAMPLES) + 1);
                    tagged.push(packet.payload_type);
                    tagged.extend_from_slice(&packet.payload[..packet.payload.len().min(FRAME_SAMPLES)]);
                    jitter.push(packet.sequence, packet.timestamp, &tagged, start.elapsed().as_millis() as u64);
                }
            }
            received = rtcp.recv_from(&mut rtcp_buf) => {
                // Reports are only checked; a BYE of the latched stream lets a new one take over.
                if let Ok((len, from)) = received
                    && negotiated.and_then(|n| n.remote).map(rtcp_addr) == Some(from)
                    && let Ok(packets) = rtp::parse_rtcp(&rtcp_buf[..len])
                {
                    for p in packets.iter().filter(|p| p.packet_type == rtp::RTCP_BYE) {
                        if let Some(ssrc) = p.ssrc {
                            latch.bye(from, ssrc);
                        }
                    }
                }
            }
            command = commands.recv() => match command {
                Some(Command::Update(n)) => {
                    latch.set_remote(n.remote);
                    negotiated = Some(n);
                }
                Some(Command::Talk) => talking = true,
                Some(Command::Mute(m)) => muted = m,
                Some(Command::Dtmf(digits)) => dtmf_queue.extend(digits.chars()),
                Some(Command::Stop(reply)) => break Some(reply),
                None => break None,
            }
        }
    };
    if let Some(remote) = negotiated.and_then(|n| n.remote) {
        let bye = rtp::rtcp_bye(sender.ssrc, &cname);
        let _ = rtcp.send_to(&bye, rtcp_addr(remote)).await;
    }
    if let Err(e) = audio.close() {
        tracing::warn!(error = %e, "closing audio failed");
    }
    if let Some(reply) = stop_reply {
        let _ = reply.send(MediaStats {
            sent: sender.stats.packets,
            received: jitter.stats.received,
            lost: jitter.stats.lost,
            dropped_address: latch.drops.address,
            dropped_ssrc: latch.drops.ssrc,
        });
    }
}

/// The peer's RTCP address: the port after its RTP port (RFC 3550 §11).
fn rtcp_addr(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
}

fn payload_codec(negotiated: &Option<Negotiated>, tagged: &[u8]) -> Codec {
    let pt = tagged.first().copied().unwrap_or(0);
    match negotiated {
        Some(n) if n.codec_pt == pt => n.codec,
        _ => Codec::from_payload_type(pt).unwrap_or(Codec::Pcmu),
    }
}
