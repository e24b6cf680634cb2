//! Against kamailio as registrar/proxy: digest REGISTER over UDP and TCP, a wrong password, a silent registrar, and an authenticated, record-routed call to a second registered rapport phone.

use std::time::Duration;

use clap::Parser;
use rapport_phone::cli::{AccountArgs, CallArgs, PhoneCommand, run_call, run_phone};
use rapport_phone::{
    CallState, Phone, PhoneConfig, PhoneError, PhoneEvent, RegistrationFailure, RegistrationState,
};

use crate::peers::{assert_tone, expect_event, kamailio, tone_file, wait_udp_bound, wav_factory};

fn account(user: &str, password: &str, port: u16, extra: &[&str]) -> AccountArgs {
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        account: AccountArgs,
    }
    let uri = format!("sip:{user}@127.0.0.1");
    let registrar = format!("127.0.0.1:{port}");
    let mut args = vec![
        "x",
        "--uri",
        &uri,
        "--password",
        password,
        "--registrar",
        &registrar,
        "--register-timeout",
        "5",
    ];
    args.extend_from_slice(extra);
    Wrap::try_parse_from(args).unwrap().account
}

async fn register(account: AccountArgs) -> anyhow::Result<()> {
    tokio::time::timeout(
        Duration::from_secs(20),
        run_phone(PhoneCommand::Register { account }),
    )
    .await
    .expect("register hung")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_digest_auth_over_udp_and_tcp_and_refuse_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let (kam, port) = kamailio(dir.path(), &[("alice", "s3cret")]);
    wait_udp_bound(port, Duration::from_secs(10)).await;
    register(account("alice", "s3cret", port, &[]))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", kam.log_text()));
    register(account("alice", "s3cret", port, &["--transport", "tcp"]))
        .await
        .unwrap_or_else(|e| panic!("tcp: {e}\n{}", kam.log_text()));
    let err = register(account("alice", "wrong", port, &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<PhoneError>(),
            Some(PhoneError::Registration(RegistrationFailure::AuthFailed))
        ),
        "{err}"
    );
    assert_eq!(err.to_string(), "registration failed: auth failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrar_that_never_answers_times_out() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut acc = account("alice", "x", port, &[]);
    acc.register_timeout = Some(2);
    let started = std::time::Instant::now();
    let err = register(acc).await.unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<PhoneError>(),
            Some(PhoneError::Registration(RegistrationFailure::Timeout))
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
}

/// Issue 12: a registrar port nobody listens on was reported as "timeout" after the whole
/// register timeout. Over UDP the datagram draws an ICMP port-unreachable, over TCP the
/// connect is refused: both are said as refused, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registrar_is_reported_as_refused_not_as_a_timeout() {
    for transport in ["udp", "tcp"] {
        // A port that was just free: nothing listens there (UDP nor TCP).
        let port = crate::peers::free_port_pair(false);
        let started = std::time::Instant::now();
        let err = register(account("alice", "x", port, &["--transport", transport]))
            .await
            .unwrap_err();
        let want = format!("connection refused by 127.0.0.1:{port}");
        assert!(
            matches!(
                err.downcast_ref::<PhoneError>(),
                Some(PhoneError::Registration(RegistrationFailure::Network(r))) if r == &want
            ),
            "{transport}: {err}"
        );
        assert_eq!(
            err.to_string(),
            format!("registration failed: network error: {want}")
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{transport}: took {:?} (register timeout 5 s)",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_through_kamailio_to_a_registered_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (kam, port) = kamailio(dir.path(), &[("alice", "a-pass"), ("bob", "b-pass")]);
    wait_udp_bound(port, Duration::from_secs(10)).await;

    // Bob: a registered rapport phone that answers and plays 880 Hz.
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

    // Alice calls bob through the proxy (INVITE digest auth, record-route).
    let alice_tone = tone_file(dir.path(), "alice.wav", 440.0, 4.0);
    let alice_rec = dir.path().join("alice-heard.wav");
    let mut args =
        CallArgs::try_parse_from(["call", "sip:bob@127.0.0.1", "--hangup-after", "3"]).unwrap();
    args.media.play = Some(alice_tone);
    args.media.record = Some(alice_rec.clone());
    args.account = account("alice", "a-pass", port, &[]);
    tokio::time::timeout(Duration::from_secs(20), run_call(args))
        .await
        .expect("call hung")
        .unwrap_or_else(|e| panic!("{e}\n{}", kam.log_text()));
    let end = tokio::time::timeout(Duration::from_secs(10), bob_task)
        .await
        .expect("bob hung")
        .unwrap();
    assert_eq!(
        end,
        PhoneEvent::Call(CallState::Ended(rapport_phone::EndReason::RemoteHangup))
    );
    eprintln!("alice heard {:?}", assert_tone(&alice_rec, 880.0, 2.0));
    eprintln!("bob heard {:?}", assert_tone(&bob_rec, 440.0, 2.0));
    assert!(
        kam.log_text().contains("INVITE sip:bob@127.0.0.1"),
        "{}",
        kam.log_text()
    );
}
