//! Hostile input: arbitrary bytes through every media parser (proptest), and garbage SIP datagrams that must not stop the phone.

use std::time::Duration;

use proptest::prelude::*;
use rapport_phone::dtmf::{DtmfDecoder, DtmfEvent};
use rapport_phone::jitter::{Concealer, JitterBuffer, JitterConfig, Playout};
use rapport_phone::rtp::{RtpPacket, parse_rtcp};
use rapport_phone::sdp::{Direction, LocalMedia, SessionDescription};
use rapport_phone::{EndReason, Phone, PhoneConfig, PhoneEvent};

use crate::peers::{expect_event, sipp_uas, wait_udp_bound, wav_factory};

fn local() -> LocalMedia {
    LocalMedia {
        address: "127.0.0.1".parse().unwrap(),
        port: 4000,
        codecs: vec![rapport_phone::g711::Codec::Pcmu],
        session_id: 1,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn media_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = RtpPacket::parse(&bytes) {
            prop_assert!(p.payload.len() <= bytes.len());
        }
        let _ = parse_rtcp(&bytes);
        let _ = DtmfEvent::parse(&bytes);
        let _ = DtmfDecoder::default().push(0, &bytes);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(sd) = SessionDescription::parse(&text) {
            let _ = local().answer(&sd, Direction::SendRecv, 1);
            let _ = local().accept_answer(&sd);
            let _ = sd.to_sdp();
        }
    }

    #[test]
    fn sdp_like_text_never_panics(lines in proptest::collection::vec("[vocmta]=[ -~]{0,40}", 0..20)) {
        let text = lines.join("\r\n");
        if let Ok(sd) = SessionDescription::parse(&text) {
            let _ = local().answer(&sd, Direction::SendOnly, 2);
        }
    }

    #[test]
    fn jitter_buffer_stays_bounded(packets in proptest::collection::vec((any::<u16>(), any::<u32>(), 0u64..100_000, any::<bool>()), 0..300)) {
        let cfg = JitterConfig::default();
        let mut jb = JitterBuffer::new(cfg);
        let mut plc = Concealer::default();
        let mut out = Vec::new();
        for (seq, ts, at, pop) in packets {
            jb.push(seq, ts, &[0xFF; 161], at);
            prop_assert!(jb.len() <= cfg.capacity);
            if pop {
                match jb.pop() {
                    Playout::Lost => plc.conceal(&mut out),
                    Playout::Frame(f) => prop_assert_eq!(f.len(), 161),
                    Playout::Waiting => {}
                }
            }
            prop_assert!(jb.target_frames() >= cfg.min_frames && jb.target_frames() <= cfg.max_frames);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_sip_datagrams_do_not_stop_the_phone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = PhoneConfig {
        bind: Some("127.0.0.1:0".parse().unwrap()),
        ..PhoneConfig::default()
    };
    let (phone, mut events) = Phone::start(cfg, wav_factory(None, None)).await.unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = phone.local_addr();
    let mut junk: Vec<Vec<u8>> = vec![
        b"INVITE sip:x SIP/2.0\r\n\r\n".to_vec(),
        b"INVITE sip:rapport@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nCSeq: banana\r\nContent-Length: 99999\r\n\r\nv=0".to_vec(),
        b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n".to_vec(),
        vec![0u8; 1400],
        "\u{1F4DE}".repeat(300).into_bytes(),
        format!("OPTIONS sip:a@b SIP/2.0\r\nX: {}\r\n\r\n", "a".repeat(60_000)).into_bytes(),
    ];
    junk.extend((0..50u8).map(|i| {
        (0..(i as usize * 23))
            .map(|j| (j as u8).wrapping_mul(i).wrapping_add(7))
            .collect()
    }));
    for d in &junk {
        let _ = sock.send_to(&d[..d.len().min(65_000)], target);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Still alive: a real call gets its real answer.
    let (_sipp, port, _) = sipp_uas(
        dir.path(),
        Some("reject.xml?CODE=486&REASON=Busy Here"),
        &[],
    );
    wait_udp_bound(port, Duration::from_secs(5)).await;
    phone
        .dial(&format!("sip:x@127.0.0.1:{port}"))
        .await
        .unwrap();
    let end = expect_event(&mut events, Duration::from_secs(10), |e| {
        matches!(e, PhoneEvent::Call(rapport_phone::CallState::Ended(_)))
    })
    .await;
    assert_eq!(
        end,
        PhoneEvent::Call(rapport_phone::CallState::Ended(EndReason::Busy))
    );
    phone.shutdown().await.unwrap();
}
