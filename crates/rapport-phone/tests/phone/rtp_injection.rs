//! Injected RTP (issue 12): while the real peer sends a 440 Hz tone, valid PCMU at 1000 Hz
//! comes from another port on the same host (with the peer's SSRC and with its own) and from
//! the peer's own address under another SSRC. What we hear must be the peer's tone alone, and
//! every injected packet must be counted as dropped. The peer is a socket of the test, named
//! in the SDP of a sipp answer, so the test plays the peer's RTP itself.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use rapport_phone::audio::analysis::goertzel_ratio;
use rapport_phone::audio::sine;
use rapport_phone::audio::wav::read_wav_8k_mono;
use rapport_phone::g711::Codec;
use rapport_phone::rtp::RtpPacket;
use rapport_phone::{CallState, Phone, PhoneConfig, PhoneEvent};

use crate::peers::{
    assert_tone, expect_event, free_port_pair, sipp_uas, wait_udp_bound, wav_factory,
};

/// One RTP stream of a tone: SSRC, next sequence number and timestamp, samples.
struct Stream {
    ssrc: u32,
    seq: u16,
    ts: u32,
    tone: Vec<i16>,
}

impl Stream {
    fn new(ssrc: u32, seq: u16, freq: f64) -> Stream {
        Stream {
            ssrc,
            seq,
            ts: u32::from(seq) * 160,
            tone: sine(freq, 4.0, 12_000.0),
        }
    }

    /// The next 20 ms packet.
    fn next(&mut self, frame: usize) -> Vec<u8> {
        let pcm = &self.tone[frame * 160..(frame + 1) * 160];
        let mut payload = Vec::new();
        Codec::Pcmu.encode(pcm, &mut payload);
        let bytes = RtpPacket {
            payload_type: 0,
            marker: frame == 0,
            sequence: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
            payload: &payload,
        }
        .to_bytes();
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
        bytes
    }
}

/// On the old code nothing was filtered: the 1000 Hz streams reached the jitter buffer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtp_from_elsewhere_or_another_stream_is_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let peer_port = free_port_pair(true);
    let peer = UdpSocket::bind(("127.0.0.1", peer_port)).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (_sipp, sip_port, _) = sipp_uas(
        dir.path(),
        Some(&format!("answer_media.xml?MEDIA={peer_port}")),
        &[],
    );
    wait_udp_bound(sip_port, Duration::from_secs(5)).await;
    let rec = dir.path().join("heard.wav");
    let cfg = PhoneConfig {
        bind: Some("127.0.0.1:0".parse().unwrap()),
        ..PhoneConfig::default()
    };
    let (phone, mut events) = Phone::start(cfg, wav_factory(None, Some(rec.clone())))
        .await
        .unwrap();
    phone
        .dial(&format!("sip:peer@127.0.0.1:{sip_port}"))
        .await
        .unwrap();
    expect_event(&mut events, Duration::from_secs(10), |e| {
        *e == PhoneEvent::Call(CallState::Connected)
    })
    .await;

    // Symmetric RTP: our first packet tells the peer where we receive.
    let mut buf = [0u8; 2048];
    let (_, ours) = peer.recv_from(&mut buf).expect("no RTP from the phone");
    const FRAMES: usize = 100;
    let sent = tokio::task::spawn_blocking(move || {
        let intruder = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut real = Stream::new(0x0A0A_0A0A, 1000, 440.0);
        let mut other_ssrc = Stream::new(0x0B0B_0B0B, 1000, 1000.0);
        let mut spoofed = Stream::new(0x0A0A_0A0A, 1000, 1000.0);
        let mut foreign = Stream::new(0x0C0C_0C0C, 5000, 1000.0);
        let send = |s: &UdpSocket, bytes: Vec<u8>, to: SocketAddr| {
            s.send_to(&bytes, to).unwrap();
        };
        let (mut from_elsewhere, mut other_stream) = (0u64, 0u64);
        for frame in 0..FRAMES {
            send(&peer, real.next(frame), ours);
            if frame > 0 {
                send(&peer, other_ssrc.next(frame), ours);
                other_stream += 1;
                let injected = if frame % 2 == 0 {
                    &mut spoofed
                } else {
                    &mut foreign
                };
                send(&intruder, injected.next(frame), ours);
                from_elsewhere += 1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (from_elsewhere, other_stream)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    phone.hangup().await.unwrap();
    let stats = match expect_event(&mut events, Duration::from_secs(10), |e| {
        matches!(e, PhoneEvent::Media(_))
    })
    .await
    {
        PhoneEvent::Media(s) => s,
        _ => unreachable!(),
    };
    phone.shutdown().await.unwrap();
    eprintln!("injected {sent:?}, media {stats:?}");
    // Exactly the injected ones: none of the peer's own packets was filtered out.
    assert_eq!(
        (stats.dropped_address, stats.dropped_ssrc),
        sent,
        "every injected packet dropped and counted"
    );

    // What we heard is the peer's 440 Hz, and nowhere 1000 Hz.
    assert_tone(&rec, 440.0, 1.5);
    let heard = read_wav_8k_mono(&rec).unwrap();
    let worst = heard
        .chunks_exact(400)
        .map(|b| goertzel_ratio(b, 8000, 1000.0))
        .fold(0.0, f64::max);
    assert!(
        worst < 0.05,
        "1000 Hz heard in a 50 ms block (ratio {worst:.2})"
    );
}
