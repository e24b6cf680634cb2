//! Against baresip: auto-answered calls with tones verified at both ends, DTMF, hold/resume, BYE from the remote, and an inbound call from baresip answered by our listener.

use std::time::Duration;

use rapport_phone::{CallState, EndReason, Phone, PhoneConfig, PhoneEvent};

use crate::peers::{
    assert_tone, baresip, baresip_command, baresip_command_raw, baresip_recordings, expect_event,
    free_port_pair, tone_file, wait_udp_bound, wav_factory,
};

fn state(s: CallState) -> impl FnMut(&PhoneEvent) -> bool {
    move |e| *e == PhoneEvent::Call(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_auto_answer_tones_both_ways_dtmf_hold_and_remote_bye() {
    let dir = tempfile::tempdir().unwrap();
    let theirs = tone_file(dir.path(), "baresip.wav", 660.0, 20.0);
    let ours = tone_file(dir.path(), "ours.wav", 440.0, 20.0);
    let heard = dir.path().join("heard.wav");
    let (bs, port, cons) = baresip(dir.path(), &theirs, "auto");
    wait_udp_bound(port, Duration::from_secs(10)).await;
    let cfg = PhoneConfig {
        bind: Some("127.0.0.1:0".parse().unwrap()),
        ..PhoneConfig::default()
    };
    let (phone, mut events) = Phone::start(cfg, wav_factory(Some(ours), Some(heard.clone())))
        .await
        .unwrap();
    phone
        .dial(&format!("sip:baresip@127.0.0.1:{port}"))
        .await
        .unwrap();
    expect_event(
        &mut events,
        Duration::from_secs(10),
        state(CallState::Connected),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    phone.dtmf("159#").await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.hold().await.unwrap();
    expect_event(
        &mut events,
        Duration::from_secs(5),
        state(CallState::OnHold),
    )
    .await;
    phone.resume().await.unwrap();
    expect_event(
        &mut events,
        Duration::from_secs(5),
        state(CallState::Connected),
    )
    .await;
    // The peer holds and resumes us.
    baresip_command(cons, "/hold");
    expect_event(
        &mut events,
        Duration::from_secs(5),
        state(CallState::HeldByRemote),
    )
    .await;
    baresip_command(cons, "/resume");
    expect_event(
        &mut events,
        Duration::from_secs(5),
        state(CallState::Connected),
    )
    .await;
    // A digit pressed on the peer arrives as an RFC 4733 event.
    baresip_command_raw(cons, "7");
    let dtmf = expect_event(&mut events, Duration::from_secs(5), |e| {
        matches!(e, PhoneEvent::Dtmf(_))
    })
    .await;
    assert_eq!(dtmf, PhoneEvent::Dtmf('7'));
    tokio::time::sleep(Duration::from_secs(1)).await;
    baresip_command(cons, "/hangup");
    let end = expect_event(&mut events, Duration::from_secs(10), |e| {
        matches!(e, PhoneEvent::Call(CallState::Ended(_)))
    })
    .await;
    assert_eq!(
        end,
        PhoneEvent::Call(CallState::Ended(EndReason::RemoteHangup)),
        "{}",
        bs.log_text()
    );
    phone.shutdown().await.unwrap();
    let log = bs.log_text();
    for digit in ["1", "5", "9", "#"] {
        assert!(
            log.contains(&format!("received event: '{digit}' (end=1)")),
            "baresip did not get DTMF {digit}:\n{log}"
        );
    }
    eprintln!("we heard {:?}", assert_tone(&heard, 660.0, 3.0));
    let (dec, _) = baresip_recordings(dir.path());
    let dec = dec.unwrap_or_else(|| panic!("no baresip recording\n{}", bs.log_text()));
    eprintln!("baresip heard {:?}", assert_tone(&dec, 440.0, 3.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_call_from_baresip_is_answered_by_our_listener() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let theirs = tone_file(dir.path(), "baresip.wav", 660.0, 20.0);
    let ours = tone_file(dir.path(), "ours.wav", 440.0, 20.0);
    let heard = dir.path().join("heard.wav");
    let (bs, port, cons) = baresip(dir.path(), &theirs, "manual");
    wait_udp_bound(port, Duration::from_secs(10)).await;
    let our_port = free_port_pair(false);
    let bind = format!("127.0.0.1:{our_port}");
    let args = rapport_phone::cli::ListenArgs::try_parse_from([
        "listen",
        "--auto-answer",
        "--play",
        ours.to_str().unwrap(),
        "--record",
        heard.to_str().unwrap(),
        "--hangup-after",
        "3",
        "--calls",
        "1",
        "--duration",
        "20",
        "--bind",
        &bind,
    ])
    .unwrap();
    let listener = tokio::spawn(rapport_phone::cli::run_listen(args));
    wait_udp_bound(our_port, Duration::from_secs(5)).await;
    baresip_command(cons, &format!("/dial sip:rapport@{bind}"));
    tokio::time::timeout(Duration::from_secs(20), listener)
        .await
        .expect("listener hung")
        .unwrap()
        .unwrap();
    let log = bs.log_text();
    assert!(log.contains("Call established"), "{log}");
    eprintln!("we heard {:?}", assert_tone(&heard, 660.0, 2.0));
    let (dec, _) = baresip_recordings(dir.path());
    eprintln!(
        "baresip heard {:?}",
        assert_tone(&dec.expect("no baresip recording"), 440.0, 2.0)
    );
}
