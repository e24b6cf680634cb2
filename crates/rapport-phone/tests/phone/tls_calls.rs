//! SIP over TLS against kamailio's TLS listener with a throwaway CA: REGISTER and an authenticated call trusting the CA through `tls_ca_file`, and a server whose certificate the configured CA did not sign is refused.

use std::time::Duration;

use clap::Parser;
use rapport_phone::cli::{AccountArgs, CallArgs, PhoneCommand, run_call, run_phone};
use rapport_phone::{
    CallState, EndReason, Phone, PhoneConfig, PhoneError, PhoneEvent, RegistrationState,
};

use crate::peers::{
    TlsFiles, assert_tone, expect_event, free_port_pair, kamailio_on, make_tls_files, tone_file,
    wait_for, wait_tcp_listening, wait_udp_bound, wav_factory,
};

fn tls_account(user: &str, password: &str, tls_port: u16, ca: &std::path::Path) -> AccountArgs {
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        account: AccountArgs,
    }
    let uri = format!("sip:{user}@127.0.0.1");
    let registrar = format!("127.0.0.1:{tls_port}");
    Wrap::try_parse_from([
        "x",
        "--uri",
        &uri,
        "--password",
        password,
        "--registrar",
        &registrar,
        "--transport",
        "tls",
        "--tls-ca-file",
        ca.to_str().unwrap(),
        "--register-timeout",
        "4",
    ])
    .unwrap()
    .account
}

fn saved_over_tls(log: &str, user: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(&format!("SAVED sip:{user}@127.0.0.1")) && l.contains(" over tls "))
        .count()
}

/// Kamailio with UDP/TCP on one port and TLS on another, serving a certificate from `files`.
async fn kamailio_tls(
    dir: &std::path::Path,
    users: &[(&str, &str)],
    files: &TlsFiles,
) -> (crate::peers::Peer, u16, u16) {
    let port = free_port_pair(false);
    let tls_port = free_port_pair(false);
    let kam = kamailio_on(dir, users, port, Some((tls_port, files)), "kamailio.log");
    wait_udp_bound(port, Duration::from_secs(10)).await;
    wait_tcp_listening(tls_port, Duration::from_secs(10)).await;
    (kam, port, tls_port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_over_tls_trusting_our_ca_and_refuse_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let files = make_tls_files(dir.path(), "good");
    let stranger = make_tls_files(dir.path(), "stranger");
    let (kam, _, tls_port) = kamailio_tls(dir.path(), &[("alice", "s3cret")], &files).await;

    let ok = tokio::time::timeout(
        Duration::from_secs(20),
        run_phone(PhoneCommand::Register {
            account: tls_account("alice", "s3cret", tls_port, &files.ca),
        }),
    )
    .await
    .expect("register hung");
    ok.unwrap_or_else(|e| panic!("{e}\n{}", kam.log_text()));
    // The REGISTER and the unregister on exit, both accepted over TLS.
    // (kamailio logs the save just after sending the 200, so give the line a moment.)
    wait_for(
        "both saves in kamailio's log",
        Duration::from_secs(5),
        || saved_over_tls(&kam.log_text(), "alice") >= 2,
    )
    .await;
    let saved = saved_over_tls(&kam.log_text(), "alice");
    assert_eq!(saved, 2, "{}", kam.log_text());

    // The same server, but we trust a different CA: the handshake must fail, nothing is sent.
    let refused = tokio::time::timeout(
        Duration::from_secs(20),
        run_phone(PhoneCommand::Register {
            account: tls_account("alice", "s3cret", tls_port, &stranger.ca),
        }),
    )
    .await
    .expect("register hung")
    .unwrap_err();
    assert!(
        matches!(
            refused.downcast_ref::<PhoneError>(),
            Some(PhoneError::Registration(_))
        ),
        "{refused}"
    );
    eprintln!("with the wrong CA: {refused}");
    let log = kam.log_text();
    assert_eq!(saved_over_tls(&log, "alice"), saved, "{log}");
    // Our side rejected the certificate: rustls sent kamailio an `unknown_ca` alert.
    assert!(log.contains("alert unknown ca"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_over_tls_through_kamailio_to_a_registered_phone() {
    let dir = tempfile::tempdir().unwrap();
    let files = make_tls_files(dir.path(), "good");
    let (kam, port, tls_port) = kamailio_tls(
        dir.path(),
        &[("alice", "a-pass"), ("bob", "b-pass")],
        &files,
    )
    .await;

    // Bob registers over UDP, answers and plays 880 Hz.
    let bob_tone = tone_file(dir.path(), "bob.wav", 880.0, 4.0);
    let bob_rec = dir.path().join("bob-heard.wav");
    let bob_cfg = PhoneConfig::from_toml(&format!(
        "[account]\nuri = \"sip:bob@127.0.0.1\"\npassword = \"b-pass\"\nregistrar = \"127.0.0.1:{port}\"\n"
    ))
    .unwrap();
    let (bob, mut bob_events) =
        Phone::start(bob_cfg, wav_factory(Some(bob_tone), Some(bob_rec.clone())))
            .await
            .unwrap();
    bob.register().await.unwrap();
    expect_event(&mut bob_events, Duration::from_secs(10), |e| {
        matches!(
            e,
            PhoneEvent::Registration(RegistrationState::Registered { .. })
        )
    })
    .await;
    let bob_task = tokio::spawn(async move {
        expect_event(&mut bob_events, Duration::from_secs(15), |e| {
            matches!(e, PhoneEvent::Incoming { .. })
        })
        .await;
        bob.answer().await.unwrap();
        let end = expect_event(&mut bob_events, Duration::from_secs(15), |e| {
            matches!(e, PhoneEvent::Call(CallState::Ended(_)))
        })
        .await;
        bob.shutdown().await.unwrap();
        end
    });

    // Alice calls over TLS: INVITE (digest-challenged), ACK and BYE all on the TLS connection.
    let alice_tone = tone_file(dir.path(), "alice.wav", 440.0, 4.0);
    let alice_rec = dir.path().join("alice-heard.wav");
    let mut args =
        CallArgs::try_parse_from(["call", "sip:bob@127.0.0.1", "--hangup-after", "3"]).unwrap();
    args.media.play = Some(alice_tone);
    args.media.record = Some(alice_rec.clone());
    args.account = tls_account("alice", "a-pass", tls_port, &files.ca);
    tokio::time::timeout(Duration::from_secs(25), run_call(args))
        .await
        .expect("call hung")
        .unwrap_or_else(|e| panic!("{e}\n{}", kam.log_text()));
    let end = tokio::time::timeout(Duration::from_secs(10), bob_task)
        .await
        .expect("bob hung")
        .unwrap();
    assert_eq!(
        end,
        PhoneEvent::Call(CallState::Ended(EndReason::RemoteHangup))
    );
    eprintln!("alice heard {:?}", assert_tone(&alice_rec, 880.0, 2.0));
    eprintln!("bob heard {:?}", assert_tone(&bob_rec, 440.0, 2.0));
    let log = kam.log_text();
    for method in ["INVITE", "ACK", "BYE"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("{method} sip:")) && l.ends_with("over tls")),
            "no {method} over TLS:\n{log}"
        );
    }
}
