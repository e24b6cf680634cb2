//! The client state machine driven by scripted events: no sockets, no sleeps.

use super::*;

fn sends(actions: &[Action]) -> Vec<Request> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn wake(actions: &[Action]) -> u64 {
    actions
        .iter()
        .rev()
        .find_map(|a| match a {
            Action::WakeAt(t) => Some(*t),
            _ => None,
        })
        .unwrap()
}

fn ok(c: &mut Client, r: Request, more: bool, now: u64) -> Vec<Action> {
    c.step(Event::Done(r, Outcome::Ok { more }), now)
}

fn api(code: ErrorCode) -> Outcome {
    Outcome::Failed(Failure::Api {
        code,
        message: "m".into(),
        server_time: None,
    })
}

/// A store that never synced: register, push what it has, bootstrap, pull, then synced.
#[test]
fn first_sync_runs_register_push_bootstrap_pull() {
    let mut c = Client::new(Config::default(), 1);
    let a = c.step(
        Event::Start {
            registered: false,
            bootstrapped: false,
            pending: true,
        },
        0,
    );
    assert_eq!(sends(&a), [Request::Register]);
    assert!(
        !a.contains(&Action::Connect),
        "no socket before registering"
    );
    let a = ok(&mut c, Request::Register, false, 1);
    assert_eq!(sends(&a), [Request::Push]);
    assert!(a.contains(&Action::Connect));
    let a = ok(&mut c, Request::Push, true, 2);
    assert_eq!(sends(&a), [Request::Push], "more outbox: push again");
    let a = ok(&mut c, Request::Push, false, 3);
    assert_eq!(sends(&a), [Request::Bootstrap]);
    let a = ok(&mut c, Request::Bootstrap, false, 4);
    assert_eq!(sends(&a), [Request::Pull]);
    let a = ok(&mut c, Request::Pull, true, 5);
    assert_eq!(sends(&a), [Request::Pull]);
    let a = ok(&mut c, Request::Pull, false, 6);
    assert!(sends(&a).is_empty());
    assert!(c.idle());
    assert_eq!(c.status(), &Status::Synced);
    assert_eq!(
        wake(&a),
        Config::default().poll_ms,
        "poll while the socket is down"
    );
}

fn synced() -> Client {
    let mut c = Client::new(Config::default(), 7);
    c.step(
        Event::Start {
            registered: true,
            bootstrapped: true,
            pending: false,
        },
        0,
    );
    ok(&mut c, Request::Pull, false, 1);
    c.step(Event::SocketUp, 2);
    ok(&mut c, Request::Pull, false, 3);
    assert!(c.idle());
    c
}

#[test]
fn one_request_at_a_time_and_local_changes_push_next() {
    let mut c = synced();
    let a = c.step(Event::LocalChange, 10);
    assert_eq!(sends(&a), [Request::Push]);
    let a = c.step(Event::LocalChange, 11);
    assert!(sends(&a).is_empty(), "the push in flight is not doubled");
    let a = c.step(Event::Poke { seq: 9, cursor: 5 }, 12);
    assert!(sends(&a).is_empty());
    let a = ok(&mut c, Request::Push, false, 13);
    assert_eq!(sends(&a), [Request::Pull], "then what the poke announced");
}

#[test]
fn a_poke_at_or_behind_the_cursor_pulls_nothing() {
    let mut c = synced();
    assert!(sends(&c.step(Event::Poke { seq: 5, cursor: 5 }, 10)).is_empty());
    assert_eq!(
        sends(&c.step(Event::Poke { seq: 6, cursor: 5 }, 11)),
        [Request::Pull]
    );
}

#[test]
fn unreachable_backs_off_with_jitter_up_to_the_cap_and_reports_offline_since() {
    let cfg = Config::default();
    let mut c = synced();
    c.step(Event::LocalChange, 100);
    let mut now = 100;
    let mut delays = Vec::new();
    for i in 0..14 {
        let a = c.step(
            Event::Done(
                Request::Push,
                Outcome::Failed(Failure::Unreachable("refused".into())),
            ),
            now,
        );
        assert!(sends(&a).is_empty(), "no retry before the backoff");
        let Status::Offline {
            since_ms, retry_ms, ..
        } = c.status().clone()
        else {
            panic!("{:?}", c.status())
        };
        assert_eq!(since_ms, 100, "offline since the first failure");
        let d = retry_ms - now;
        let full = (cfg.backoff_ms << i.min(20)).min(cfg.max_backoff_ms);
        assert!(
            d >= full / 2 && d <= full,
            "attempt {i}: {d} in [{}, {full}]",
            full / 2
        );
        delays.push(d);
        assert_eq!(wake(&a), retry_ms.min(c.next_poll));
        assert!(sends(&c.step(Event::Tick, retry_ms - 1)).is_empty());
        now = retry_ms;
        assert_eq!(sends(&c.step(Event::Tick, now)), [Request::Push]);
    }
    assert!(delays.last().unwrap() <= &cfg.max_backoff_ms);
    assert!(delays[8] > delays[1]);
    ok(&mut c, Request::Push, false, now);
    assert!(!matches!(c.status(), Status::Offline { .. }));
}

#[test]
fn clock_skew_restamps_with_the_servers_offset_then_pushes() {
    let mut c = synced();
    c.step(Event::LocalChange, 1_000);
    let a = c.step(
        Event::Done(
            Request::Push,
            Outcome::Failed(Failure::Api {
                code: ErrorCode::ClockSkew,
                message: "ahead".into(),
                server_time: Some(400),
            }),
        ),
        1_000,
    );
    assert_eq!(sends(&a), [Request::Restamp { offset_ms: -600 }]);
    let a = ok(&mut c, Request::Restamp { offset_ms: -600 }, false, 1_001);
    assert_eq!(sends(&a), [Request::Push]);
}

#[test]
fn revoked_credentials_stop_everything_until_sync_now() {
    let mut c = synced();
    c.step(Event::LocalChange, 10);
    let a = c.step(Event::Done(Request::Push, api(ErrorCode::Unauthorized)), 11);
    assert!(a.contains(&Action::Disconnect));
    assert!(matches!(c.status(), Status::Stopped { code, .. } if code == "unauthorized"));
    for e in [
        Event::Tick,
        Event::LocalChange,
        Event::SocketDown,
        Event::Poke { seq: 9, cursor: 1 },
    ] {
        let a = c.step(e, 1_000_000);
        assert!(sends(&a).is_empty() && !a.contains(&Action::Connect));
    }
    let a = c.step(Event::SyncNow, 2_000_000);
    assert_eq!(sends(&a), [Request::Push]);
}

#[test]
fn an_epoch_change_restarts_registers_repushes_and_bootstraps_again() {
    let mut c = synced();
    let a = c.step(Event::Poke { seq: 9, cursor: 1 }, 10);
    assert_eq!(sends(&a), [Request::Pull]);
    let a = c.step(Event::Done(Request::Pull, api(ErrorCode::EpochChanged)), 11);
    assert_eq!(
        sends(&a),
        [Request::Restart {
            fork: false,
            restored: true
        }]
    );
    let a = ok(
        &mut c,
        Request::Restart {
            fork: false,
            restored: true,
        },
        false,
        12,
    );
    assert_eq!(sends(&a), [Request::Register]);
    assert_eq!(
        sends(&ok(&mut c, Request::Register, false, 13)),
        [Request::Push]
    );
    assert_eq!(
        sends(&ok(&mut c, Request::Push, false, 14)),
        [Request::Bootstrap]
    );
    assert_eq!(
        sends(&ok(&mut c, Request::Bootstrap, false, 15)),
        [Request::Pull]
    );
}

#[test]
fn a_fork_restarts_as_a_new_node() {
    let mut c = synced();
    c.step(Event::LocalChange, 10);
    let a = c.step(Event::Done(Request::Push, api(ErrorCode::ClientForked)), 11);
    assert_eq!(
        sends(&a),
        [Request::Restart {
            fork: true,
            restored: false
        }]
    );
    let a = ok(
        &mut c,
        Request::Restart {
            fork: true,
            restored: false,
        },
        false,
        12,
    );
    assert_eq!(sends(&a), [Request::Register]);
    assert_eq!(
        sends(&ok(&mut c, Request::Register, false, 13)),
        [Request::Push]
    );
    assert_eq!(
        sends(&ok(&mut c, Request::Push, false, 14)),
        [Request::Pull],
        "no re-bootstrap"
    );
}

#[test]
fn behind_the_horizon_pushes_first_then_bootstraps() {
    let mut c = synced();
    c.step(Event::Poke { seq: 9, cursor: 1 }, 10);
    let a = c.step(
        Event::Done(Request::Pull, api(ErrorCode::MustRebootstrap)),
        11,
    );
    assert_eq!(sends(&a), [Request::Push]);
    assert_eq!(
        sends(&ok(&mut c, Request::Push, false, 12)),
        [Request::Bootstrap]
    );
}

#[test]
fn without_a_socket_it_polls_and_reconnects_with_backoff() {
    let cfg = Config::default();
    let mut c = synced();
    let a = c.step(Event::SocketDown, 1_000);
    assert!(!a.contains(&Action::Connect), "not at once");
    let w = wake(&a);
    assert!(w > 1_000 && w <= 1_000 + cfg.backoff_ms);
    let a = c.step(Event::Tick, w);
    assert!(a.contains(&Action::Connect));
    // Still down: the next poll is a full interval away at most.
    let a = c.step(Event::Tick, 1_000 + cfg.poll_ms);
    assert_eq!(sends(&a), [Request::Pull]);
}

#[test]
fn a_revoked_token_on_the_socket_stops_and_says_so() {
    let mut c = synced();
    let a = c.step(Event::Revoked, 10);
    assert!(a.contains(&Action::Disconnect));
    assert!(matches!(c.status(), Status::Stopped { code, .. } if code == "revoked"));
    assert!(sends(&c.step(Event::LocalChange, 11)).is_empty());
}

/// A viewer: the server refuses the push; the client keeps pulling, finishes, and does not
/// push local changes again until asked to sync now (the role may have changed).
#[test]
fn a_refused_push_makes_the_client_read_only_but_it_keeps_pulling() {
    let mut c = synced();
    c.step(Event::LocalChange, 10);
    let a = c.step(Event::Done(Request::Push, api(ErrorCode::Forbidden)), 11);
    assert!(!a.contains(&Action::Disconnect));
    assert!(!matches!(c.status(), Status::Stopped { .. }));
    let a = c.step(Event::Poke { seq: 9, cursor: 1 }, 12);
    assert_eq!(sends(&a), [Request::Pull]);
    ok(&mut c, Request::Pull, false, 13);
    assert!(
        c.idle(),
        "a read-only client finishes with its changes pending"
    );
    let a = c.step(Event::LocalChange, 14);
    assert!(sends(&a).is_empty());
    let a = c.step(Event::SyncNow, 15);
    assert_eq!(sends(&a), [Request::Push]);
}
