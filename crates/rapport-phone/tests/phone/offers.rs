//! Offers the phone must refuse with 488 rather than answer (issue 12), from real sipp callers,
//! with an auto-answering phone: a `c=` address that is garbage or does not resolve, no `c=`
//! at all, IPv6 where we have IPv4, SRTP-only `RTP/SAVP`. None becomes a call, and since those
//! junk callers never ACK, the next real caller (whose `c=` is a name that resolves) must ring
//! at once, not get 486 Busy for the 32 s an answered-but-never-ACKed junk call used to hold.

use std::time::Duration;

use rapport_phone::{CallState, Phone, PhoneConfig, PhoneEvent};
use tokio::sync::mpsc;

use crate::peers::{sipp_uac, wav_factory};

/// A phone on loopback that answers every call; returns it and every event it saw.
async fn auto_answering_phone() -> (Phone, mpsc::UnboundedReceiver<PhoneEvent>) {
    let cfg = PhoneConfig {
        bind: Some("127.0.0.1:0".parse().unwrap()),
        ..PhoneConfig::default()
    };
    let (phone, mut events) = Phone::start(cfg, wav_factory(None, None)).await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let answering = phone.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if matches!(e, PhoneEvent::Incoming { .. }) {
                let _ = answering.answer().await;
            }
            let _ = tx.send(e);
        }
    });
    (phone, rx)
}

/// Fails on the old code: the first offer (`c=IN IP4 999.1.1.1`) was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_offers_get_488_and_block_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let (phone, mut events) = auto_answering_phone().await;
    let target = phone.local_addr();
    let refused = [
        ("c=IN IP4 999.1.1.1", "RTP/AVP"),
        ("c=IN IP4 not_an address", "RTP/AVP"),
        ("c=IN IP4 nowhere.invalid", "RTP/AVP"),
        ("a=x-no-connection-line", "RTP/AVP"),
        ("c=IN IP6 ::1", "RTP/AVP"),
        ("c=IN IP4 127.0.0.1", "RTP/SAVP"),
    ];
    for (c_line, proto) in refused {
        let mut sipp = sipp_uac(
            dir.path(),
            &format!("offer.xml?CLINE={c_line}&PROTO={proto}"),
            target,
        );
        let status = sipp.wait_exit(Duration::from_secs(15));
        assert!(
            status.is_some_and(|s| s.success()),
            "{c_line} / {proto}: no 488\n{}",
            sipp.log_text()
        );
        while let Ok(e) = events.try_recv() {
            assert!(
                !matches!(e, PhoneEvent::Incoming { .. } | PhoneEvent::Call(_)),
                "{c_line} / {proto} became a call: {e:?}"
            );
        }
    }
    // Right after them (none of them ACKed its 488), a real caller rings, is answered, hangs up.
    let mut sipp = sipp_uac(dir.path(), "call.xml?CLINE=c=IN IP4 localhost", target);
    let status = sipp.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "the real call failed:\n{}",
        sipp.log_text()
    );
    let mut seen = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(3), events.recv()).await {
        let end = matches!(e, PhoneEvent::Call(CallState::Ended(_)));
        seen.push(e);
        if end {
            break;
        }
    }
    assert!(
        seen.contains(&PhoneEvent::Call(CallState::Connected)),
        "{seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&PhoneEvent::Call(CallState::Ended(
            rapport_phone::EndReason::RemoteHangup
        )))
    );
    phone.shutdown().await.unwrap();
}
