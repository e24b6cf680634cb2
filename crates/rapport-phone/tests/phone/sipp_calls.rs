//! Calls against sipp UAS peers: RTP echo with a measured tone, and failures reported with their reason.

use std::time::Duration;

use clap::Parser;
use rapport_phone::cli::{CallArgs, run_call};
use rapport_phone::{EndReason, PhoneError};

use crate::peers::{assert_tone, sipp_uas, tone_file, wait_udp_bound};

fn call_args(args: &[&str]) -> CallArgs {
    CallArgs::try_parse_from(std::iter::once("call").chain(args.iter().copied())).unwrap()
}

fn end_reason(result: anyhow::Result<()>) -> EndReason {
    match result
        .expect_err("the call should fail")
        .downcast::<PhoneError>()
    {
        Ok(PhoneError::CallFailed(reason)) => reason,
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_echo_returns_our_440_hz_tone() {
    let dir = tempfile::tempdir().unwrap();
    let tone = tone_file(dir.path(), "tone.wav", 440.0, 3.0);
    let rec = dir.path().join("echo.wav");
    let (mut sipp, port, _) = sipp_uas(dir.path(), None, &[]);
    wait_udp_bound(port, Duration::from_secs(5)).await;
    let target = format!("sip:service@127.0.0.1:{port}");
    let args = call_args(&[
        &target,
        "--play",
        tone.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
        "--hangup-after",
        "3",
    ]);
    tokio::time::timeout(Duration::from_secs(20), run_call(args))
        .await
        .expect("call hung")
        .expect("call failed");
    let t = assert_tone(&rec, 440.0, 2.0);
    eprintln!("sipp echo: {t:?}");
    assert!(
        sipp.wait_exit(Duration::from_secs(5))
            .is_some_and(|s| s.success()),
        "sipp did not finish cleanly:\n{}",
        sipp.log_text()
    );
}

async fn failing_call(
    scenario: &str,
    extra: &[&str],
    call_extra: &[&str],
) -> (EndReason, crate::peers::Peer) {
    let dir = tempfile::tempdir().unwrap();
    let (sipp, port, _) = sipp_uas(dir.path(), Some(scenario), extra);
    wait_udp_bound(port, Duration::from_secs(5)).await;
    let target = format!("sip:nobody@127.0.0.1:{port}");
    let mut args = vec![target.as_str()];
    args.extend_from_slice(call_extra);
    let result = tokio::time::timeout(Duration::from_secs(20), run_call(call_args(&args)))
        .await
        .expect("call hung");
    (end_reason(result), sipp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_is_reported_as_busy() {
    let (reason, _sipp) = failing_call("reject.xml?CODE=486&REASON=Busy Here", &[], &[]).await;
    assert_eq!(reason, EndReason::Busy);
    assert_eq!(reason.to_string(), "busy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_is_reported_as_not_found() {
    let (reason, _sipp) = failing_call("reject.xml?CODE=404&REASON=Not Found", &[], &[]).await;
    assert_eq!(reason, EndReason::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_is_reported_as_declined() {
    let (reason, _sipp) = failing_call("reject.xml?CODE=603&REASON=Decline", &[], &[]).await;
    assert_eq!(reason, EndReason::Declined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_timeout_sends_cancel_and_gets_487() {
    let started = std::time::Instant::now();
    let (reason, mut sipp) = failing_call("ring_forever.xml", &[], &["--ring-timeout", "2"]).await;
    assert_eq!(reason, EndReason::Timeout);
    // The 487 ended it, not our 5 s grace timer.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    // sipp only exits successfully when it saw CANCEL, sent 487 and got the ACK.
    let status = sipp.wait_exit(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "sipp scenario incomplete:\n{}",
        sipp.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_invite_times_out() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = format!("sip:nobody@{}", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        run_call(call_args(&[&target, "--ring-timeout", "1"])),
    )
    .await
    .expect("call hung");
    assert_eq!(end_reason(result), EndReason::Timeout);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_numbers_are_refused_before_dialling() {
    for bad in ["12ab", "", "sip:bob@host>x", "+0123"] {
        let err = run_call(call_args(&[bad])).await.expect_err(bad);
        assert!(
            matches!(
                err.downcast_ref::<PhoneError>(),
                Some(PhoneError::InvalidTarget { .. })
            ),
            "{bad}: {err}"
        );
    }
    // A number without an account has no domain to be dialled in.
    let err = run_call(call_args(&["12345"])).await.unwrap_err();
    assert!(err.to_string().contains("needs an account"), "{err}");
}
