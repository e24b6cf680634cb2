//! `--play` and early media (issue 12): a callee that rings with early media (183 + SDP) for
//! 1.5 s used to hear nothing of a message's first second, played into the early media before
//! anyone answered. Now silence goes out until the answer, and the message starts then. The
//! callee is a socket of the test named in a sipp 183/200, so the test sees what is sent when.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rapport_phone::audio::analysis::{goertzel_ratio, rms};
use rapport_phone::audio::sine;
use rapport_phone::audio::wav::write_wav_8k_mono;
use rapport_phone::g711::Codec;
use rapport_phone::rtp::RtpPacket;
use rapport_phone::{CallState, Phone, PhoneConfig, PhoneEvent};

use crate::peers::{expect_event, free_port_pair, sipp_uas, wait_udp_bound, wav_factory};

/// Fails on the old code: 65 loud packets of the message went out during early media.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_played_message_starts_at_the_answer_not_in_early_media() {
    let dir = tempfile::tempdir().unwrap();
    // The message: 0.6 s at 1000 Hz (its opening), then 2.4 s at 440 Hz.
    let mut message = sine(1000.0, 0.6, 12_000.0);
    message.extend(sine(440.0, 2.4, 12_000.0));
    let play = dir.path().join("message.wav");
    write_wav_8k_mono(&play, &message).unwrap();

    let callee_port = free_port_pair(true);
    let callee = UdpSocket::bind(("127.0.0.1", callee_port)).unwrap();
    callee
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let heard = tokio::task::spawn_blocking(move || {
        let mut packets: Vec<(Instant, Vec<i16>)> = Vec::new();
        let mut buf = [0u8; 2048];
        while !stopped.load(Ordering::Relaxed) {
            if let Ok(len) = callee.recv(&mut buf)
                && let Ok(p) = RtpPacket::parse(&buf[..len])
            {
                let mut pcm = Vec::new();
                Codec::Pcmu.decode(p.payload, &mut pcm);
                packets.push((Instant::now(), pcm));
            }
        }
        packets
    });
    let (_sipp, sip_port, _) = sipp_uas(
        dir.path(),
        Some(&format!("early_media.xml?MEDIA={callee_port}&EARLY=1500")),
        &[],
    );
    wait_udp_bound(sip_port, Duration::from_secs(5)).await;
    let cfg = PhoneConfig {
        bind: Some("127.0.0.1:0".parse().unwrap()),
        ..PhoneConfig::default()
    };
    let (phone, mut events) = Phone::start(cfg, wav_factory(Some(play), None))
        .await
        .unwrap();
    phone
        .dial(&format!("sip:callee@127.0.0.1:{sip_port}"))
        .await
        .unwrap();
    expect_event(&mut events, Duration::from_secs(10), |e| {
        *e == PhoneEvent::Call(CallState::EarlyMedia)
    })
    .await;
    expect_event(&mut events, Duration::from_secs(10), |e| {
        *e == PhoneEvent::Call(CallState::Connected)
    })
    .await;
    let answered = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.hangup().await.unwrap();
    phone.shutdown().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let packets = heard.await.unwrap();

    // The event reaches the test a little after the media task was told to talk.
    let before = answered - Duration::from_millis(200);
    let early: Vec<_> = packets.iter().filter(|(t, _)| *t < before).collect();
    assert!(
        early.len() >= 20,
        "silence keeps the early media's path open: {} packets before the answer",
        early.len()
    );
    let loud_early = early.iter().filter(|(_, pcm)| rms(pcm) > 500.0).count();
    assert_eq!(loud_early, 0, "the message played into early media");
    let after: Vec<&Vec<i16>> = packets
        .iter()
        .filter(|(t, pcm)| *t >= before && rms(pcm) > 500.0)
        .map(|(_, pcm)| pcm)
        .collect();
    let opening = after
        .iter()
        .take_while(|pcm| goertzel_ratio(pcm, 8000, 1000.0) > 0.5)
        .count();
    assert!(
        opening >= 25,
        "the answerer hears the message's opening from its start: {opening} packets of \
         1000 Hz first, of {} loud ones",
        after.len()
    );
}
