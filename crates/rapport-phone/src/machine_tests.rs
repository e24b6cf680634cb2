//! Scripted exchanges through the pure call machine: the ring-timeout races (issue 12's ghost
//! call), deferred CANCELs, late answers, hang-ups and inbound refusals, and a property over
//! random event orders: every 2xx we did not want gets our BYE.

use super::*;
use crate::g711::Codec;
use crate::sdp::Direction;
use proptest::prelude::*;

const RING_MS: u64 = 2_000;

fn negotiated() -> Negotiated {
    Negotiated {
        remote: Some("127.0.0.1:6000".parse().unwrap()),
        codec: Codec::Pcmu,
        codec_pt: 0,
        dtmf_pt: None,
        direction: Direction::SendRecv,
    }
}

fn ok(answer: bool) -> Event {
    Event::Final {
        status: 200,
        answer: answer.then(negotiated),
    }
}

const RINGING: Event = Event::Provisional { early: None };

/// Feed `(ms, event)` pairs to a fresh outbound call (ring timeout at `RING_MS`); returns the
/// machine and every action with the time of its event.
fn outbound(script: &[(u64, Event)]) -> (CallMachine, Vec<(u64, Action)>) {
    let t0 = Instant::now();
    let mut m = CallMachine::outbound(t0 + Duration::from_millis(RING_MS));
    let mut out = Vec::new();
    for &(ms, event) in script {
        let now = t0 + Duration::from_millis(ms);
        out.extend(m.on(event, now).into_iter().map(|a| (ms, a)));
    }
    (m, out)
}

fn actions(script: &[(u64, Event)]) -> Vec<Action> {
    outbound(script).1.into_iter().map(|(_, a)| a).collect()
}

use Action::*;

/// The ghost call of issue 12: the 200 lands in the last millisecond before the ring timeout
/// and the actor handles its timer first. The old actor ended the call as "timeout" and left
/// the BYE to rsipstack, which sends none when no CANCEL went out: the callee kept a call.
#[test]
fn a_2xx_at_the_ring_timeout_is_byed_when_the_timer_was_handled_first() {
    let script = [(10, RINGING), (RING_MS, Event::Tick), (RING_MS, ok(true))];
    assert_eq!(
        actions(&script),
        [
            State(CallState::Ringing),
            SendCancel,
            SendBye,
            End(EndReason::Timeout)
        ]
    );
    let (m, _) = outbound(&script);
    assert!(!m.invite_pending());
}

/// The same instant the other way round: the 200 was handled first, so the call is answered
/// and the timer no longer applies.
#[test]
fn a_2xx_handled_before_the_ring_timeout_connects() {
    let script = [(10, RINGING), (RING_MS, ok(true)), (RING_MS, Event::Tick)];
    assert_eq!(
        actions(&script),
        [
            State(CallState::Ringing),
            StartMedia(negotiated()),
            Talk,
            State(CallState::Connected)
        ]
    );
    let (m, _) = outbound(&script);
    assert!(m.is_established());
    assert_eq!(m.next_deadline(), None);
}

/// No provisional response yet: a CANCEL may not be sent (RFC 3261 §9.1), and a 2xx that comes
/// instead is ended by us.
#[test]
fn a_2xx_before_any_provisional_after_the_timeout_is_byed() {
    assert_eq!(
        actions(&[(RING_MS, Event::Tick), (RING_MS + 300, ok(true))]),
        [SendBye, End(EndReason::Timeout)]
    );
}

#[test]
fn a_cancel_waits_for_the_first_provisional_response() {
    let script = [
        (RING_MS, Event::Tick),
        (RING_MS + 100, RINGING),
        (RING_MS + 150, RINGING),
        (
            RING_MS + 200,
            Event::Final {
                status: 487,
                answer: None,
            },
        ),
    ];
    assert_eq!(
        actions(&script),
        [SendCancel, End(EndReason::Timeout)],
        "one CANCEL, sent at the provisional; the 487 ends it as our timeout"
    );
}

/// The callee ignores our CANCEL for longer than the grace: the call ends for the user, and the
/// answer that still comes is BYEd (the old actor dropped the INVITE and the CLI exited).
#[test]
fn an_answer_after_the_call_ended_for_the_user_is_still_byed() {
    let give_up = RING_MS + CANCEL_GRACE.as_millis() as u64;
    let (m, out) = outbound(&[
        (10, RINGING),
        (RING_MS, Event::Tick),
        (give_up - 1, Event::Tick),
        (give_up, Event::Tick),
    ]);
    assert_eq!(
        out,
        [
            (10, State(CallState::Ringing)),
            (RING_MS, SendCancel),
            (give_up, End(EndReason::Timeout))
        ]
    );
    assert!(m.is_ended() && m.invite_pending());
    let (m, out) = outbound(&[
        (10, RINGING),
        (RING_MS, Event::Tick),
        (give_up, Event::Tick),
        (give_up + 1_000, ok(true)),
    ]);
    assert_eq!(out.last(), Some(&(give_up + 1_000, SendBye)));
    assert!(!m.invite_pending());
    // No provisional response before the grace ran out: the CANCEL goes out when one comes.
    let (_, out) = outbound(&[
        (RING_MS, Event::Tick),
        (give_up, Event::Tick),
        (give_up + 10, Event::Trying),
        (give_up + 20, RINGING),
        (give_up + 30, ok(true)),
    ]);
    assert_eq!(
        out,
        [
            (give_up, End(EndReason::Timeout)),
            (give_up + 10, SendCancel),
            (give_up + 30, SendBye)
        ]
    );
}

#[test]
fn trying_allows_a_cancel_but_is_not_ringing() {
    assert_eq!(
        actions(&[
            (5, Event::Trying),
            (RING_MS, Event::Tick),
            (RING_MS + 1, RINGING)
        ]),
        [SendCancel]
    );
    assert_eq!(
        actions(&[(5, Event::Trying), (9, RINGING)]),
        [State(CallState::Ringing)]
    );
}

#[test]
fn hanging_up_while_ringing_cancels_and_keeps_the_reason() {
    assert_eq!(
        actions(&[
            (10, RINGING),
            (500, Event::Hangup),
            (510, Event::Hangup),
            (520, ok(true)),
        ]),
        [
            State(CallState::Ringing),
            SendCancel,
            SendBye,
            End(EndReason::Cancelled)
        ]
    );
    assert_eq!(
        actions(&[
            (10, RINGING),
            (500, Event::Hangup),
            (
                600,
                Event::Final {
                    status: 487,
                    answer: None
                }
            )
        ])
        .last(),
        Some(&End(EndReason::Cancelled))
    );
}

#[test]
fn final_answers_while_wanted() {
    let fin = |status| Event::Final {
        status,
        answer: None,
    };
    assert_eq!(actions(&[(5, fin(486))]), [End(EndReason::Busy)]);
    assert_eq!(
        actions(&[(5, ok(false))]),
        [SendBye, End(EndReason::NotAcceptable)],
        "an answer we cannot use is ended"
    );
    assert_eq!(
        actions(&[(5, Event::InviteFailed { timed_out: true })]),
        [End(EndReason::Timeout)]
    );
    assert_eq!(
        actions(&[(5, Event::InviteFailed { timed_out: false })]),
        [End(EndReason::NetworkError)]
    );
    let early = Event::Provisional {
        early: Some(negotiated()),
    };
    assert_eq!(
        actions(&[(5, early), (6, early), (900, ok(true))]),
        [
            StartMedia(negotiated()),
            State(CallState::EarlyMedia),
            StartMedia(negotiated()),
            StartMedia(negotiated()),
            Talk,
            State(CallState::Connected)
        ],
        "early media plays; what we capture goes out only once answered"
    );
}

#[test]
fn established_calls_end_by_either_side() {
    assert_eq!(
        actions(&[(5, ok(true)), (900, Event::Hangup), (901, Event::Hangup)])[3..],
        [SendBye, End(EndReason::LocalHangup)]
    );
    assert_eq!(
        actions(&[
            (5, ok(true)),
            (900, Event::Terminated(EndReason::RemoteHangup)),
            (901, Event::Hangup)
        ])[3..],
        [End(EndReason::RemoteHangup)]
    );
    assert_eq!(
        actions(&[(5, ok(true)), (900, Event::MediaFailed)])[3..],
        [SendBye, End(EndReason::NetworkError)]
    );
    // Nothing is sent twice: a second 2xx (a retransmission) changes nothing.
    assert_eq!(actions(&[(5, ok(true)), (6, ok(true))]).len(), 3);
}

#[test]
fn inbound_calls_answer_reject_or_get_cancelled() {
    let t = Instant::now();
    let run = |events: &[Event]| {
        let mut m = CallMachine::inbound();
        events.iter().flat_map(|&e| m.on(e, t)).collect::<Vec<_>>()
    };
    assert_eq!(
        run(&[Event::Answered, Event::Hangup]),
        [
            State(CallState::Connected),
            SendBye,
            End(EndReason::LocalHangup)
        ]
    );
    assert_eq!(
        run(&[Event::Hangup]),
        [Reject(RejectCode::Decline), End(EndReason::Declined)]
    );
    assert_eq!(
        run(&[Event::Reject(RejectCode::Busy), Event::Answered]),
        [Reject(RejectCode::Busy), End(EndReason::Busy)]
    );
    assert_eq!(
        run(&[Event::Terminated(EndReason::Cancelled), Event::Answered]),
        [End(EndReason::Cancelled)]
    );
    assert!(!CallMachine::inbound().invite_pending());
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Trying),
        Just(RINGING),
        Just(Event::Provisional {
            early: Some(negotiated())
        }),
        Just(Event::Hangup),
        Just(Event::Tick),
        Just(Event::Terminated(EndReason::RemoteHangup)),
        Just(Event::MediaFailed),
    ]
}

fn last_word() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(ok(true)),
        Just(ok(false)),
        Just(Event::Final {
            status: 487,
            answer: None
        }),
        Just(Event::Final {
            status: 486,
            answer: None
        }),
        Just(Event::InviteFailed { timed_out: true }),
    ]
}

proptest! {
    /// Whatever the order of timers, provisional responses, hang-ups and the one final
    /// response: a 2xx either connects the call or is BYEd at once; a CANCEL goes out at most
    /// once and only after a provisional response; the call ends at most once; nothing is sent
    /// after the end but the BYE of a late 2xx.
    #[test]
    fn every_unwanted_2xx_is_byed(
        before in proptest::collection::vec((0u64..4_000, event()), 0..12),
        after in proptest::collection::vec((0u64..4_000, event()), 0..6),
        final_at in 0u64..12_000,
        last in last_word(),
    ) {
        let mut script: Vec<(u64, Event)> = before;
        script.push((final_at, last));
        script.extend(after.into_iter().map(|(ms, e)| (final_at + ms, e)));
        script.sort_by_key(|(ms, _)| *ms); // stable: the final keeps its place among equals
        let t0 = Instant::now();
        let mut m = CallMachine::outbound(t0 + Duration::from_millis(RING_MS));
        let (mut provisional, mut cancels, mut ends, mut byes) = (false, 0, 0, 0);
        for (ms, e) in script {
            let was = m.phase();
            let acts = m.on(e, t0 + Duration::from_millis(ms));
            if let Event::Final { status: 200, answer } = e {
                let connected = acts.contains(&Action::State(CallState::Connected));
                let byed = acts.contains(&Action::SendBye);
                prop_assert!(connected != byed, "2xx in {was:?}: {acts:?}");
                prop_assert_eq!(connected, answer.is_some() && matches!(was, Phase::Inviting { .. }));
            }
            for a in &acts {
                match a {
                    Action::SendCancel => {
                        cancels += 1;
                        let now_allowed = matches!(e, Event::Provisional { .. } | Event::Trying);
                        prop_assert!(provisional || now_allowed, "CANCEL before any 1xx");
                    }
                    Action::SendBye => byes += 1,
                    Action::End(_) => ends += 1,
                    Action::StartMedia(_) | Action::State(_) | Action::Talk => {
                        prop_assert_eq!(ends, 0, "{:?} after the end", a)
                    }
                    Action::Reject(_) => prop_assert!(false, "an outbound call rejects nothing"),
                }
            }
            provisional |= matches!(e, Event::Provisional { .. } | Event::Trying);
        }
        prop_assert!(cancels <= 1 && ends <= 1 && byes <= 1, "{cancels} {ends} {byes}");
        prop_assert!(!m.invite_pending(), "the final response was seen: {:?}", m.phase());
    }
}
