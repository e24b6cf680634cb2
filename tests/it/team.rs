//! The team in the real window (Xvfb + WebDriver): a store signed in from Settings against a
//! real `rapport-server`, coworkers' changes (from their own CLI stores) arriving live on the
//! open lead page, the "someone just called" guard, note-conflict review and change history.

use crate::desktop::{click, text, type_into};
use anyhow::Result;
use fantoccini::Locator;
use rapport_tests::*;
use std::time::{Duration, Instant};

/// Close's Sally-and-Joe rule in the real window: Sally signs in to the team server from
/// Settings (a wrong password is refused and nothing is joined), her empty store fills with
/// the org's leads, Joe's call (logged and synced from his CLI store) shows on the open lead
/// page as "joe called just now", and dialling asks first; Sally's note reaches Joe's store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coworkers_call_shows_on_the_open_lead_before_you_dial() -> Result<()> {
    let _machine = machine().await;
    let dir = tempfile::tempdir()?;
    let server = team::TeamServer::start(&dir.path().join("server"))?;
    server.org(
        "Acme",
        &[
            ("sally@acme.example", "member", "sally-password-1"),
            ("joe@acme.example", "member", "joe-password-1"),
        ],
    )?;
    let joe = dir.path().join("joe.db");
    let (code, _, err) = team::login(
        &joe,
        &server.url,
        "Acme",
        "joe@acme.example",
        "joe-password-1",
    )?;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = rapport(&joe, &["--json", "lead", "add", "Initech"])?;
    assert_eq!(code, 0, "{err}");
    let lead = serde_json::from_str::<serde_json::Value>(&out)?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (code, _, err) = rapport(
        &joe,
        &[
            "contact",
            "add",
            &lead,
            "Peter Gibbons",
            "--phone",
            "+1 415 555 0142",
        ],
    )?;
    assert_eq!(code, 0, "{err}");
    team::sync_until_done(&joe, 5)?;

    // Sally's app, on an empty store: the status line says she is not signed in.
    let sally = dir.path().join("sally.db");
    let app = bin("rapport-desktop")?;
    let display = Display::start()?;
    let driver = Driver::start(&display, &sally).await?;
    let c = driver.session(&app).await?;
    let status = wait_css(&c, "[data-testid=sync-status]", 30).await?;
    assert_eq!(
        status.attr("data-state").await?.as_deref(),
        Some("signed-out")
    );
    click(&c, "[data-testid=sync-status]").await?;
    // Nobody listens on this port: the form says the server cannot be reached.
    let nowhere = format!("http://127.0.0.1:{}", free_port()?);
    type_into(&c, "[data-testid=sync-server]", &nowhere).await?;
    type_into(&c, "[data-testid=sync-org]", "Acme").await?;
    type_into(&c, "[data-testid=sync-email]", "sally@acme.example").await?;
    type_into(&c, "[data-testid=sync-password]", "sally-password-1").await?;
    click(&c, "[data-testid=sync-login-submit]").await?;
    let err = wait_css(&c, "[data-testid=sync-login-error]", 20)
        .await?
        .text()
        .await?;
    assert!(!err.is_empty(), "an unreachable server says why");
    let url = c.find(Locator::Css("[data-testid=sync-server]")).await?;
    url.clear().await?;
    url.send_keys(&server.url).await?;
    let pw = c.find(Locator::Css("[data-testid=sync-password]")).await?;
    pw.clear().await?;
    pw.send_keys("wrong-password").await?;
    click(&c, "[data-testid=sync-login-submit]").await?;
    eventually(15, "a wrong password refused", || async {
        let e = text(&c, "[data-testid=sync-login-error]")
            .await
            .unwrap_or_default();
        Ok(!e.is_empty() && e != err)
    })
    .await?;
    let wrong = text(&c, "[data-testid=sync-login-error]").await?;
    println!("unreachable: {err}\nwrong password: {wrong}");
    let (_, st, _) = rapport(&sally, &["sync", "status"])?;
    assert!(
        !st.contains("Acme"),
        "a refused sign-in joins nothing: {st}"
    );
    let pw = c.find(Locator::Css("[data-testid=sync-password]")).await?;
    pw.clear().await?;
    pw.send_keys("sally-password-1").await?;
    click(&c, "[data-testid=sync-login-submit]").await?;
    eventually(20, "Settings says synced", || async {
        Ok(text(&c, "[data-testid=sync-details-status]")
            .await
            .unwrap_or_default()
            == "Synced")
    })
    .await?;
    eventually(10, "Joe's lead in Sally's list", || async {
        Ok(text(&c, "[data-testid=lead-count]").await? == "1")
    })
    .await?;
    screenshot(&c, "05-team-settings-signed-in.png").await?;
    click(&c, "[data-testid=settings-close]").await?;
    // (its text is read from the DOM: WebKitWebDriver reports an ellipsized span as empty)
    let line = c
        .find(Locator::Css("[data-testid=sync-status-text]"))
        .await?
        .prop("textContent")
        .await?
        .unwrap_or_default();
    assert!(line.contains("Acme") && line.contains("Synced"), "{line}");

    // Sally opens the lead: nobody called it yet.
    click(
        &c,
        &format!("[data-testid=lead-row][data-lead-id='{lead}']"),
    )
    .await?;
    wait_css(&c, "[data-testid=call-button]", 15).await?;
    assert!(
        c.find(Locator::Css("[data-testid=recent-touch]"))
            .await
            .is_err(),
        "no call yet, no warning"
    );

    // Joe calls it and syncs; Sally's open page says so before she dials.
    let (code, _, err) = rapport(
        &joe,
        &[
            "call",
            "log",
            &lead,
            "--disposition",
            "answered",
            "--duration",
            "185",
        ],
    )?;
    assert_eq!(code, 0, "{err}");
    team::sync_until_done(&joe, 5)?;
    let synced = Instant::now();
    let banner = wait_css(&c, "[data-testid=recent-touch]", 10).await?;
    let seen = synced.elapsed();
    let said = banner.text().await?;
    assert!(
        said.contains("joe called just now — answered, 3 min"),
        "{said}"
    );
    assert!(
        seen < Duration::from_secs(3),
        "Joe's call took {seen:?} to show"
    );
    click(&c, "[data-testid=call-button]").await?;
    let ask = wait_css(&c, "[data-testid=dial-confirm]", 5)
        .await?
        .text()
        .await?;
    assert!(ask.contains("Call Peter Gibbons anyway?"), "{ask}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    screenshot(&c, "06-coworker-just-called.png").await?;
    click(&c, "[data-testid=dial-confirm-no]").await?;
    assert!(
        c.find(Locator::Css("[data-testid=call-bar]"))
            .await
            .is_err(),
        "nothing was dialled"
    );

    // Sally's note autosaves and syncs to Joe's store.
    let note = "Spoke after Joe: they want the annual plan.";
    let editor = wait_css(&c, "[data-testid=note-editor]", 10).await?;
    editor.click().await?;
    editor.send_keys(note).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        team::sync_until_done(&joe, 5)?;
        let (_, out, _) = rapport(&joe, &["export", "--format", "jsonl"])?;
        if out.contains(note) {
            break;
        }
        assert!(Instant::now() < deadline, "Sally's note never reached Joe");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    click(&c, "[data-testid=note-new-button]").await?;

    // Joe and Sally change the same line of a note at once: the window badges the note,
    // the review shows both texts, and the choice made there reaches Joe.
    let (code, out, err) = rapport(
        &joe,
        &["--json", "note", "add", &lead, "Agenda:\nprice\nterms"],
    )?;
    assert_eq!(code, 0, "{err}");
    let note_id = serde_json::from_str::<serde_json::Value>(&out)?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    team::sync_until_done(&joe, 5)?;
    let item = format!("[data-testid=timeline-item][data-activity-id='{note_id}']");
    wait_css(&c, &item, 10).await?;
    let (joes, sallys) = (
        "Agenda:\nprice by joe\nterms",
        "Agenda:\nprice by sally\nterms",
    );
    assert_eq!(rapport(&joe, &["note", "edit", &note_id, joes])?.0, 0);
    assert_eq!(rapport(&sally, &["note", "edit", &note_id, sallys])?.0, 0);
    pushed(&sally).await?;
    team::sync_until_done(&joe, 5)?;
    team::sync_until_done(&joe, 5)?;
    click(&c, &format!("{item} [data-testid=note-conflict-badge]")).await?;
    let review = wait_css(&c, "[data-testid=conflict-review]", 10).await?;
    let (now, other) = (
        text(&c, "[data-testid=conflict-current]").await?,
        text(&c, "[data-testid=conflict-theirs-text]").await?,
    );
    let mut both = [now.replace('\n', " "), other.replace('\n', " ")];
    both.sort();
    assert_eq!(
        both,
        ["Agenda: price by joe terms", "Agenda: price by sally terms"],
        "the review shows both texts"
    );
    assert!(
        review.text().await?.contains("Use "),
        "a way to take the other text"
    );
    screenshot(&c, "07-note-conflict-review.png").await?;
    click(&c, "[data-testid=conflict-theirs]").await?;
    eventually(10, "the badge gone", || async {
        Ok(c.find(Locator::Css("[data-testid=note-conflict-badge]"))
            .await
            .is_err())
    })
    .await?;
    pushed(&sally).await?;
    team::sync_until_done(&joe, 5)?;
    let (_, open, _) = rapport(&joe, &["--json", "note", "conflicts"])?;
    assert_eq!(
        open.trim(),
        "[]",
        "resolved in the window, resolved for Joe"
    );
    let (_, out, _) = rapport(&joe, &["export", "--format", "jsonl"])?;
    let kept = other.replace('\n', "\\n");
    assert!(
        out.contains(&kept),
        "Joe's store has the chosen text {kept:?}"
    );

    // Sally's status change, replaced by Joe's newer one, shows in her change history.
    assert_eq!(
        rapport(&sally, &["lead", "edit", &lead, "--status", "Qualified"])?.0,
        0
    );
    pushed(&sally).await?;
    assert_eq!(
        rapport(&joe, &["lead", "edit", &lead, "--status", "Customer"])?.0,
        0
    );
    team::sync_until_done(&joe, 5)?;
    let ov = wait_css(&c, "[data-testid=override]", 10)
        .await?
        .text()
        .await?;
    assert_eq!(
        ov, "Your status “Qualified” was replaced by joe’s newer “Customer”",
        "{ov}"
    );
    screenshot(&c, "08-change-history.png").await?;
    c.close().await?;
    Ok(())
}

/// Waits until the window's background sync has pushed every local change of `db`.
async fn pushed(db: &std::path::Path) -> Result<()> {
    eventually(10, "the window pushed its changes", || async {
        let (_, out, _) = rapport(db, &["--json", "sync", "status"])?;
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        Ok(v["pending"] == 0)
    })
    .await
}
