//! The softphone in the app, against real sipp peers on loopback: a busy call logged once by
//! the facade (no window), and click-to-call in the real window — call bar, notes typed
//! during the call, hang-up, and the call in the lead's timeline with its note and duration;
//! an unknown caller given a lead of its own, in one transaction (a failure inside SQLite
//! leaves no half of it); a call cut off by kill -9 logged as interrupted; the `rapport`
//! CLI reading `phone.toml` beside the store or `$RAPPORT_PHONE_CONFIG`, and saying a failure
//! (a busy callee, a registrar that refuses connections) once.

use anyhow::{Context, Result, bail};
use fantoccini::{Client, Locator};
use rapport_app::{App, CallMarker, CallView, PhoneSnapshot, Softphone, call_marker_path};
use rapport_core::ops::{NewContact, NewLead, PhoneInput};
use rapport_core::{ActivityKind, Contact, Direction, Lead};
use rapport_tests::*;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const NUMBER: &str = "+1 415 555 0123";

/// A UDP port on 127.0.0.1 that is free now, with its successor free too (RTP/RTCP pairs).
fn free_udp_pair() -> Result<u16> {
    for _ in 0..200 {
        let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        if port % 2 == 0 && port < 60000 && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free UDP port pair")
}

/// A sipp UAS on fresh loopback ports: the built-in `uas` with RTP echo, or one that answers
/// every INVITE with `code reason` (the phone crate's `reject.xml`). Stopped on drop.
struct Sipp {
    port: u16,
    _guard: Guard,
}

impl Sipp {
    fn start(dir: &Path, reject: Option<(u16, &str)>) -> Result<Sipp> {
        let port = free_udp_pair()?;
        let media = free_udp_pair()?;
        let mut cmd = Command::new("sipp");
        match reject {
            Some((code, reason)) => {
                let source = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../crates/rapport-phone/tests/sipp/reject.xml");
                let xml = std::fs::read_to_string(&source)
                    .with_context(|| source.display().to_string())?
                    .replace("@CODE@", &code.to_string())
                    .replace("@REASON@", reason);
                let file = dir.join(format!("reject-{code}.xml"));
                std::fs::write(&file, xml)?;
                cmd.arg("-sf").arg(file);
            }
            None => {
                cmd.args(["-sn", "uas", "-rtp_echo"]);
            }
        }
        cmd.args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-mp",
            &media.to_string(),
        ])
        .args(["-m", "1", "-nostdin", "-timeout", "60", "-timeout_error"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let guard = Guard::spawn("sipp", &mut cmd)?;
        let end = Instant::now() + Duration::from_secs(10);
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            if Instant::now() > end {
                bail!("sipp did not bind udp port {port} (is sip-tester installed?)");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Sipp {
            port,
            _guard: guard,
        })
    }

    /// A `phone.toml` with no account: numbers go straight to this sipp.
    fn phone_toml(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join("phone.toml");
        std::fs::write(
            &path,
            format!(
                "# Test phone: no account, numbers dialled at sipp, no sound device.\n\
                 dial_domain = \"127.0.0.1:{}\"\naudio = \"none\"\nring_timeout_secs = 15\n",
                self.port
            ),
        )?;
        Ok(path)
    }
}

async fn lead_with_contact(app: &App, name: &str) -> Result<(Lead, Contact)> {
    let lead = app
        .create_lead(NewLead {
            name: name.into(),
            ..Default::default()
        })
        .await?;
    let contact = NewContact {
        name: "Ann Lee".into(),
        phones: vec![PhoneInput {
            phone: NUMBER.into(),
            kind: Some("office".into()),
        }],
        ..Default::default()
    };
    let contact = app.add_contact(lead.id, contact).await?;
    Ok((lead, contact))
}

async fn next_ended(rx: &mut mpsc::UnboundedReceiver<PhoneSnapshot>) -> Result<PhoneSnapshot> {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(s) = rx.recv().await {
            if s.call.as_ref().is_some_and(|c| c.state == "ended") {
                return Ok(s);
            }
        }
        bail!("the phone stopped")
    })
    .await
    .context("the call did not end within 20 s")?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_call_is_logged_once_as_busy_and_bad_numbers_never_dial() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sipp = Sipp::start(dir.path(), Some((486, "Busy Here")))?;
    let app = App::open(dir.path().join("busy.db")).await?;
    let (lead, contact) = lead_with_contact(&app, "Busy Corp").await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let phone = Softphone::start(app.clone(), sipp.phone_toml(dir.path())?, move |s| {
        let _ = tx.send(s.clone());
    })
    .await;
    assert_eq!(phone.snapshot().await.registration.state, "none");

    // Invalid input is refused before anything is dialled or logged.
    for bad in ["12ab", "", "+0123", "555"] {
        let e = phone
            .dial(lead.id, Some(contact.id), bad)
            .await
            .unwrap_err();
        assert_eq!(e.code, "invalid_field", "{bad}: {e:?}");
        assert!(
            e.message.contains("not a valid phone number"),
            "{}",
            e.message
        );
    }
    assert!(phone.snapshot().await.call.is_none());

    let started = phone.dial(lead.id, Some(contact.id), NUMBER).await?;
    let call = started.call.context("no call after dial")?;
    assert_eq!(call.contact_name.as_deref(), Some("Ann Lee"));
    assert_eq!(call.number, "+14155550123");
    let ended = next_ended(&mut rx).await?.call.context("no call")?;
    assert_eq!(ended.end_reason.as_deref(), Some("busy"));
    assert_eq!(ended.duration, Some(0));

    let page = app.lead_page(lead.id).await?;
    let calls: Vec<_> = page
        .timeline
        .iter()
        .filter(|a| a["_type"] == "call")
        .collect();
    assert_eq!(calls.len(), 1, "one call, one activity: {calls:?}");
    let a = calls[0];
    assert_eq!(
        a["id"].as_str(),
        call.activity_id.map(|i| i.to_string()).as_deref()
    );
    assert_eq!(
        (a["status"].as_str(), a["disposition"].as_str()),
        (Some("busy"), Some("busy"))
    );
    assert_eq!(a["direction"], "outbound");
    assert_eq!(a["remote_phone"], "+14155550123");
    assert_eq!(a["duration"], 0);
    assert_eq!(
        a["contact_id"].as_str(),
        Some(contact.id.to_string().as_str())
    );
    assert_eq!(
        a["activity_at"].as_str(),
        Some(rapport_core::time::fmt(&call.started_at).as_str())
    );
    phone.shutdown().await;
    Ok(())
}

async fn state_of(c: &Client) -> Result<String> {
    let el = c.find(Locator::Css("[data-testid=call-state]")).await?;
    Ok(el.attr("data-state").await?.unwrap_or_default())
}

const CALL_NOTE: &str = "Wants the annual plan; send the quote by Monday.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_shows_the_call_bar_and_logs_the_call_with_its_notes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("calls.db");
    let sipp = Sipp::start(dir.path(), None)?;
    sipp.phone_toml(dir.path())?;
    let (lead, _) = {
        let app = App::open(&db).await?;
        let made = lead_with_contact(&app, "Echo Corp").await?;
        app.store().clone().close().await;
        made
    };

    let display = Display::start()?;
    let driver = Driver::start(&display, &db).await?;
    let c = driver.session(&bin("rapport-desktop")?).await?;
    wait_css(&c, "[data-testid=lead-row]", 30)
        .await?
        .click()
        .await?;
    let status = wait_css(&c, "[data-testid=phone-status]", 15).await?;
    assert_eq!(status.attr("data-state").await?.as_deref(), Some("none"));

    wait_css(&c, "[data-testid=call-button]", 15)
        .await?
        .click()
        .await?;
    wait_css(&c, "[data-testid=call-bar]", 10).await?;
    if let Err(e) = eventually(15, "the call to connect", || async {
        Ok(state_of(&c).await? == "connected")
    })
    .await
    {
        screenshot(&c, "05-call-not-connected.png").await?;
        let bar = c
            .find(Locator::Css("[data-testid=call-bar]"))
            .await?
            .text()
            .await?;
        bail!("{e}; the call bar reads {bar:?}");
    }
    eventually(5, "the call bar to name the contact", || async {
        let who = c.find(Locator::Css("[data-testid=call-who]")).await?;
        Ok(who.prop("textContent").await?.as_deref() == Some("Ann Lee"))
    })
    .await?;

    let notes = wait_css(&c, "[data-testid=call-notes]", 5).await?;
    notes.click().await?;
    notes.send_keys(CALL_NOTE).await?;
    eventually(5, "the notes to save", || async {
        let s = c
            .find(Locator::Css("[data-testid=call-notes-status]"))
            .await?;
        Ok(s.attr("data-state").await?.as_deref() == Some("saved"))
    })
    .await?;
    eventually(10, "the timer to pass 00:01", || async {
        let t = c
            .find(Locator::Css("[data-testid=call-timer]"))
            .await?
            .text()
            .await?;
        Ok(t.as_str() >= "00:02")
    })
    .await?;
    screenshot(&c, "05-call-bar-connected.png").await?;

    c.find(Locator::Css("[data-testid=call-hangup]"))
        .await?
        .click()
        .await?;
    eventually(10, "the call to end", || async {
        Ok(state_of(&c).await? == "ended")
    })
    .await?;

    // The timeline shows the call, with the note and its duration.
    let item = "[data-testid=timeline-item][data-type=call]";
    eventually(10, "the logged call in the timeline", || async {
        let t = c.find(Locator::Css(item)).await?.text().await?;
        Ok(t.contains(CALL_NOTE) && t.to_lowercase().contains("answered"))
    })
    .await?;
    let text = c.find(Locator::Css(item)).await?.text().await?;
    assert!(
        !text.contains("00:00"),
        "a call of 2 s shows a duration: {text}"
    );
    screenshot(&c, "06-call-logged.png").await?;
    c.close().await?;
    drop(driver);

    let app = App::open(&db).await?;
    let page = app.store().lead_page(lead.id).await?;
    let calls: Vec<_> = page
        .timeline
        .iter()
        .filter_map(|a| match &a.kind {
            ActivityKind::Call(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let f = calls[0];
    assert!(f.duration >= 1, "{f:?}");
    assert_eq!(
        (f.status.as_str(), f.disposition.as_str()),
        ("completed", "answered")
    );
    assert_eq!(f.direction, Direction::Outbound);
    assert_eq!(f.note.as_deref(), Some(CALL_NOTE));
    Ok(())
}

/// A UAC calling from `+14155550123`, hanging up 1.5 s after the answer.
const CALL_FROM_NUMBER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call from a contact's number">
  <send retrans="500"><![CDATA[

      INVITE sip:rapport@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "@NAME@" <sip:+14155550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:rapport@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:+14155550123@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=ann 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]></send>
  <recv response="100" optional="true" />
  <recv response="180" optional="true" />
  <recv response="200" />
  <send><![CDATA[

      ACK sip:rapport@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "@NAME@" <sip:+14155550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:rapport@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:+14155550123@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <pause milliseconds="1500" />
  <send retrans="500"><![CDATA[

      BYE sip:rapport@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "@NAME@" <sip:+14155550123@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:rapport@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:+14155550123@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <recv response="200" />
</scenario>
"#;

/// Starts a sipp UAC that calls `target` from +14155550123 ("Ann") and hangs up 1.5 s
/// after the answer.
fn call_from_number(dir: &Path, target: std::net::SocketAddr) -> Result<Guard> {
    call_from(dir, target, "Ann")
}

/// Like `call_from_number`, with `name` as the caller's display name.
fn call_from(dir: &Path, target: std::net::SocketAddr, name: &str) -> Result<Guard> {
    let scenario = dir.join("call_from.xml");
    std::fs::write(&scenario, CALL_FROM_NUMBER.replace("@NAME@", name))?;
    let (port, media) = (free_udp_pair()?, free_udp_pair()?);
    Guard::spawn(
        "sipp",
        Command::new("sipp")
            .arg("-sf")
            .arg(&scenario)
            .arg(target.to_string())
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-mp",
                &media.to_string(),
            ])
            .args(["-m", "1", "-nostdin", "-timeout", "30", "-timeout_error"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

async fn next_ringing(rx: &mut mpsc::UnboundedReceiver<PhoneSnapshot>) -> Result<CallView> {
    tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(s) = rx.recv().await {
            if let Some(c) = s.call.filter(|c| c.state == "ringing") {
                return Some(c);
            }
        }
        None
    })
    .await?
    .context("no inbound call")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_call_rings_matched_to_its_contact_and_is_logged_on_the_lead() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let toml = dir.path().join("phone.toml");
    std::fs::write(&toml, "audio = \"none\"\n")?;
    let app = App::open(dir.path().join("in.db")).await?;
    let (lead, contact) = lead_with_contact(&app, "Inbound Corp").await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let phone = Softphone::start(app.clone(), toml, move |s| {
        let _ = tx.send(s.clone());
    })
    .await;
    let target = phone
        .local_addr()
        .await
        .context("the phone did not start")?;
    let _sipp = call_from_number(dir.path(), target)?;

    let ringing = next_ringing(&mut rx).await?;
    assert_eq!(ringing.direction, Direction::Inbound);
    assert_eq!(ringing.contact_name.as_deref(), Some("Ann Lee"));
    assert_eq!(ringing.lead_name.as_deref(), Some("Inbound Corp"));
    assert_eq!(ringing.lead_id, Some(lead.id));
    assert_eq!(ringing.number, "+14155550123");
    phone.answer().await?;
    let ended = next_ended(&mut rx).await?.call.context("no call")?;
    assert_eq!(ended.end_reason.as_deref(), Some("remote hangup"));

    let page = app.store().lead_page(lead.id).await?;
    let logged: Vec<_> = page
        .timeline
        .iter()
        .filter_map(|a| match &a.kind {
            ActivityKind::Call(f) => Some((a, f)),
            _ => None,
        })
        .collect();
    assert_eq!(logged.len(), 1);
    let (a, f) = logged[0];
    assert_eq!(a.contact_id, Some(contact.id));
    assert_eq!(f.direction, Direction::Inbound);
    assert_eq!(
        (f.status.as_str(), f.disposition.as_str()),
        ("completed", "answered")
    );
    assert_eq!(f.remote_phone.as_deref(), Some("+14155550123"));
    assert!(f.duration >= 1, "{f:?}");
    assert!(
        !call_marker_path(app.store().path()).exists(),
        "the crash marker outlived a call that ended normally"
    );
    phone.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_no_contact_matches_gets_a_lead_and_the_call_is_logged_on_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let toml = dir.path().join("phone.toml");
    std::fs::write(&toml, "audio = \"none\"\n")?;
    let app = App::open(dir.path().join("unknown.db")).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let phone = Softphone::start(app.clone(), toml.clone(), move |s| {
        let _ = tx.send(s.clone());
    })
    .await;
    let target = phone.local_addr().await.context("no phone")?;
    let sipp = call_from_number(dir.path(), target)?;

    let ringing = next_ringing(&mut rx).await?;
    let lead_id = ringing.lead_id.context("no lead was made for the caller")?;
    assert_eq!(ringing.contact_name.as_deref(), Some("Ann"));
    assert_eq!(
        ringing.lead_name.as_deref(),
        Some(format!("Caller {}", ringing.number_display).as_str())
    );
    phone.reject(false).await?;
    let ended = next_ended(&mut rx).await?.call.context("no call")?;
    assert_eq!(ended.status.as_deref(), Some("declined"));
    drop(sipp);

    let page = app.store().lead_page(lead_id).await?;
    assert_eq!(page.contacts.len(), 1);
    assert_eq!(page.contacts[0].phones[0].phone, "+14155550123");
    let calls: Vec<_> = page
        .timeline
        .iter()
        .filter_map(|a| match &a.kind {
            ActivityKind::Call(f) => Some((a, f)),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0.contact_id, Some(page.contacts[0].id));
    assert_eq!(calls[0].1.status, "declined");
    assert_eq!(calls[0].1.direction, Direction::Inbound);
    phone.shutdown().await;

    // The next call from that number is matched to the lead made for it: no second lead.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let phone = Softphone::start(app.clone(), toml, move |s| {
        let _ = tx.send(s.clone());
    })
    .await;
    let target = phone.local_addr().await.context("no phone")?;
    let _sipp = call_from_number(dir.path(), target)?;
    let again = next_ringing(&mut rx).await?;
    assert_eq!(again.lead_id, Some(lead_id));
    phone.reject(true).await?;
    next_ended(&mut rx).await?;
    assert_eq!(app.info().await?.lead_count, 1);
    phone.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_off_by_kill_9_is_logged_as_interrupted_at_the_next_start() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("crash.db");
    let sipp = Sipp::start(dir.path(), None)?;
    let toml = sipp.phone_toml(dir.path())?;
    let lead = {
        let app = App::open(&db).await?;
        let (lead, _) = lead_with_contact(&app, "Crash Corp").await?;
        app.store().clone().close().await;
        lead
    };

    let display = Display::start()?;
    let driver = Driver::start(&display, &db).await?;
    let c = driver.session(&bin("rapport-desktop")?).await?;
    wait_css(&c, "[data-testid=lead-row]", 30)
        .await?
        .click()
        .await?;
    wait_css(&c, "[data-testid=call-button]", 15)
        .await?
        .click()
        .await?;
    eventually(15, "the call to connect", || async {
        Ok(state_of(&c).await? == "connected")
    })
    .await?;
    let marker = call_marker_path(&db);
    eventually(15, "a heartbeat 5 s into the call", || async {
        let Ok(bytes) = std::fs::read(&marker) else {
            return Ok(false);
        };
        let m: CallMarker = serde_json::from_slice(&bytes)?;
        Ok(m.connected_at
            .is_some_and(|t| (m.seen_at - t).num_seconds() >= 5))
    })
    .await?;
    let pids = app_pids(&db);
    assert!(!pids.is_empty(), "the app process was not found");
    for pid in &pids {
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()?;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    drop(driver);

    let app = App::open(&db).await?;
    let call = |timeline: &[rapport_core::Activity]| {
        timeline.iter().find_map(|a| match &a.kind {
            ActivityKind::Call(f) => Some(f.clone()),
            _ => None,
        })
    };
    let before = call(&app.store().lead_page(lead.id).await?.timeline).context("no call")?;
    assert_eq!(before.status, "in-progress", "{before:?}");

    let phone = Softphone::start(app.clone(), toml, |_| {}).await;
    let after = call(&app.store().lead_page(lead.id).await?.timeline).context("no call")?;
    assert_eq!(
        (after.status.as_str(), after.disposition.as_str()),
        ("interrupted", "answered"),
        "{after:?}"
    );
    assert!(
        after.duration >= 5,
        "talk time up to the last heartbeat: {after:?}"
    );
    assert!(!marker.exists(), "the marker was not cleared");
    phone.shutdown().await;
    Ok(())
}

/// Runs `sqlite3` on the store (fault injection from outside, as another process would).
fn sqlite(db: &Path, sql: &str) -> Result<()> {
    let out = Command::new("sqlite3").arg(db).arg(sql).output()?;
    if !out.status.success() {
        bail!("sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Fails on the old code, which wrote the caller's lead, then its contact, in two
/// transactions: with the contact's insert failing inside SQLite, an empty "Caller …" lead
/// stayed behind. Now the lead, its contact and the call are one transaction: none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_callers_lead_contact_and_call_are_written_together_or_not_at_all() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let toml = dir.path().join("phone.toml");
    std::fs::write(&toml, "audio = \"none\"\n")?;
    let db = dir.path().join("atomic.db");
    let app = App::open(&db).await?;
    sqlite(
        &db,
        "CREATE TRIGGER no_contacts BEFORE INSERT ON contacts \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let phone = Softphone::start(app.clone(), toml.clone(), move |s| {
        let _ = tx.send(s.clone());
    })
    .await;
    let target = phone.local_addr().await.context("no phone")?;
    let sipp = call_from_number(dir.path(), target)?;
    let ringing = next_ringing(&mut rx).await?;
    assert_eq!(ringing.lead_id, None, "{ringing:?}");
    assert_eq!(ringing.activity_id, None);
    phone.reject(false).await?;
    next_ended(&mut rx).await?;
    drop(sipp);
    assert_eq!(
        app.info().await?.lead_count,
        0,
        "half of the caller's records stayed"
    );
    phone.shutdown().await;

    // Without the failure, all three are written; a display name too long for a contact
    // name gives way to the number, so the call is still logged.
    sqlite(&db, "DROP TRIGGER no_contacts;")?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let phone = Softphone::start(app.clone(), toml, move |s| {
        let _ = tx.send(s.clone());
    })
    .await;
    let target = phone.local_addr().await.context("no phone")?;
    let _sipp = call_from(dir.path(), target, &"A".repeat(400))?;
    let ringing = next_ringing(&mut rx).await?;
    let lead = ringing.lead_id.context("no lead for the caller")?;
    assert_eq!(
        ringing.contact_name.as_deref(),
        Some(ringing.number_display.as_str())
    );
    phone.reject(false).await?;
    next_ended(&mut rx).await?;
    let page = app.store().lead_page(lead).await?;
    assert_eq!(page.contacts.len(), 1);
    assert_eq!(page.timeline.len(), 1);
    assert_eq!(page.timeline[0].contact_id, Some(page.contacts[0].id));
    phone.shutdown().await;
    Ok(())
}

/// Runs `rapport --db DB ARGS…` with extra environment; returns (exit code, stderr).
fn rapport_env(db: &Path, args: &[&str], env: &[(&str, &Path)]) -> Result<(i32, String)> {
    let mut cmd = Command::new(bin("rapport")?);
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RAPPORT_PHONE_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Fails on the old code three ways: the CLI ignored `phone.toml` beside the store ("a number
/// needs an account"), ignored `$RAPPORT_PHONE_CONFIG`, and printed every failure twice
/// ("call ended: busy" and "error: call failed: busy").
#[test]
fn the_cli_dials_through_phone_toml_or_rapport_phone_config_and_says_a_failure_once() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("cli.db");
    let busy = Sipp::start(dir.path(), Some((486, "Busy Here")))?;
    busy.phone_toml(dir.path())?;
    let (code, err) = rapport_env(&db, &["call", "415 555 0123"], &[])?;
    assert_eq!(code, 2, "{err}");
    // Progress lines ("call: dialing") come first; the reason once, as the error.
    assert_eq!(
        err.lines().last(),
        Some("error: call failed: busy"),
        "{err}"
    );
    assert_eq!(err.matches("busy").count(), 1, "{err}");

    // $RAPPORT_PHONE_CONFIG wins over the file beside the store.
    let other = dir.path().join("elsewhere");
    std::fs::create_dir(&other)?;
    let missing = Sipp::start(&other, Some((404, "Not Found")))?;
    let elsewhere = missing.phone_toml(&other)?;
    let (code, err) = rapport_env(
        &db,
        &["call", "415 555 0123"],
        &[("RAPPORT_PHONE_CONFIG", &elsewhere)],
    )?;
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.lines().last(),
        Some("error: call failed: not found"),
        "{err}"
    );
    assert_eq!(err.matches("not found").count(), 1, "{err}");
    Ok(())
}

/// Fails on the old code: the CLI ignored the account in `phone.toml`, a refused registrar
/// was "timeout" after the whole register timeout, and the reason was printed twice.
#[test]
fn a_refused_registrar_is_said_once_as_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("reg.db");
    let closed = free_udp_pair()?;
    std::fs::write(
        dir.path().join("phone.toml"),
        format!(
            "register_timeout_secs = 10\n[account]\nuri = \"sip:alice@127.0.0.1\"\n\
             registrar = \"127.0.0.1:{closed}\"\n"
        ),
    )?;
    let started = Instant::now();
    let (code, err) = rapport_env(&db, &["phone", "register"], &[])?;
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "error: registration failed: network error: connection refused by 127.0.0.1:{closed}"
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}
