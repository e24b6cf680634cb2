//! The desktop app as a user uses it: the real window under Xvfb, driven over WebDriver
//! (tauri-driver + WebKitWebDriver). Screenshots go to the artifacts directory.

use anyhow::Result;
use fantoccini::{Client, Locator};
use rapport_tests::*;
use std::time::{Duration, Instant};

pub(crate) async fn text(c: &Client, css: &str) -> Result<String> {
    Ok(c.find(Locator::Css(css)).await?.text().await?)
}

pub(crate) async fn click(c: &Client, css: &str) -> Result<()> {
    wait_css(c, css, 15).await?.click().await?;
    Ok(())
}

pub(crate) async fn type_into(c: &Client, css: &str, s: &str) -> Result<()> {
    wait_css(c, css, 15).await?.send_keys(s).await?;
    Ok(())
}

const NOTE: &str =
    "Call notes: budget approved for Q3, decision by Friday. Next step: send the proposal to Ann.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_typed_just_before_kill_minus_nine_survives() -> Result<()> {
    let _machine = machine().await;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("e2e.db");
    let app = bin("rapport-desktop")?;
    let display = Display::start()?;
    let driver = Driver::start(&display, &db).await?;
    let c = driver.session(&app).await?;

    // A fresh store offers the demo data.
    wait_css(&c, "[data-testid=demo-offer]", 30).await?;
    screenshot(&c, "01-first-run.png").await?;

    // Create a lead.
    click(&c, "[data-testid=new-lead-button]").await?;
    type_into(&c, "[data-testid=new-lead-name]", "Kill Test Corp").await?;
    click(&c, "[data-testid=new-lead-submit]").await?;
    wait_css(&c, "[data-testid=lead-page]", 15).await?;
    eventually(10, "the lead page header", || async {
        Ok(text(&c, "[data-testid=lead-name]").await? == "Kill Test Corp")
    })
    .await?;

    // A bad email is refused inline; a good contact appears.
    click(&c, "[data-testid=contact-add-button]").await?;
    type_into(&c, "[data-testid=contact-name]", "Ann Lee").await?;
    type_into(&c, "[data-testid=contact-email]", "ann@").await?;
    click(&c, "[data-testid=contact-submit]").await?;
    let err = wait_css(&c, "[data-testid=contact-error]", 10)
        .await?
        .text()
        .await?;
    assert!(err.contains("not a valid email"), "{err}");
    let email = c.find(Locator::Css("[data-testid=contact-email]")).await?;
    email.clear().await?;
    email.send_keys("ann@killtest.com").await?;
    type_into(&c, "[data-testid=contact-phone]", "+1 415 555 0123").await?;
    click(&c, "[data-testid=contact-submit]").await?;
    eventually(10, "the contact", || async {
        Ok(text(&c, "[data-testid=contact-item]")
            .await?
            .contains("Ann Lee"))
    })
    .await?;

    // Type a note and, without leaving the editor, kill the app within a second.
    let editor = wait_css(&c, "[data-testid=note-editor]", 10).await?;
    editor.click().await?;
    editor.send_keys(NOTE).await?;
    // WebKitWebDriver may answer before the page has handled every key: the window counts
    // from the moment the editor holds the whole note (the last keystroke the app saw).
    eventually(10, "the typed note in the editor", || async {
        Ok(c.execute(
            "return document.querySelector('[data-testid=note-editor]').value",
            vec![],
        )
        .await?
            == serde_json::json!(NOTE))
    })
    .await?;
    let typed = Instant::now();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let pids = app_pids(&db);
    assert!(!pids.is_empty(), "the app process was not found");
    for pid in &pids {
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()?;
    }
    let gap = typed.elapsed();
    assert!(
        gap < Duration::from_secs(1),
        "killed {gap:?} after the last keystroke"
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    drop(driver);

    // Restart (a fresh driver, as WebKitWebDriver keeps the dead session): the note is all there.
    let driver = Driver::start(&display, &db).await?;
    let c = driver.session(&app).await?;
    click(&c, "[data-testid=lead-row]").await?;
    wait_css(&c, "[data-testid=timeline-item][data-type=note]", 15).await?;
    let note = text(&c, "[data-testid=timeline-item][data-type=note]").await?;
    assert!(note.contains(NOTE), "after kill -9 the note reads {note:?}");
    screenshot(&c, "02-lead-page-after-restart.png").await?;
    c.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_writes_show_up_live_and_notes_render_safely() -> Result<()> {
    let _machine = machine().await;
    let demo = open_demo(2000).await?;
    let (c, db) = (demo.client.clone(), demo.db.clone());
    assert_eq!(text(&c, "[data-testid=lead-count]").await?, "2000");
    screenshot(&c, "03-lead-list.png").await?;

    // Another process (the CLI) writes; the open window shows it within a second.
    let (code, out, err) = rapport(
        &db,
        &["--json", "lead", "add", "Live From CLI", "--city", "Boston"],
    )?;
    assert_eq!(code, 0, "{err}");
    let written = Instant::now();
    let id = serde_json::from_str::<serde_json::Value>(&out)?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eventually(5, "the CLI's lead in the list", || async {
        Ok(text(&c, "[data-testid=lead-count]").await? == "2001")
    })
    .await?;
    let row = format!("[data-testid=lead-row][data-lead-id='{id}']");
    wait_css(&c, &row, 5).await?;
    let seen = written.elapsed();
    assert!(
        seen < Duration::from_secs(1),
        "the CLI's write took {seen:?} to appear"
    );

    // A hostile note renders as inert text.
    let evil = "Hello <img src=x onerror=\"document.title='pwned'\"> <script>document.title='pwned'</script> **bold**";
    assert_eq!(rapport(&db, &["note", "add", &id, evil])?.0, 0);
    click(&c, &row).await?;
    let item = wait_css(&c, "[data-testid=timeline-item][data-type=note]", 10).await?;
    let html = item.html(true).await?.to_lowercase();
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(
        !html.contains("onerror") && !html.contains("<script"),
        "{html}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.title().await?, "Rapport", "no script from a note ran");

    // A demo lead's page with a full timeline.
    let first = "[data-testid=lead-row]:nth-child(3)";
    if c.find(Locator::Css(first)).await.is_ok() {
        click(&c, first).await?;
    } else {
        c.find_all(Locator::Css("[data-testid=lead-row]")).await?[2]
            .click()
            .await?;
    }
    wait_css(&c, "[data-testid=timeline-item]", 10).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    screenshot(&c, "04-lead-page.png").await?;
    c.close().await?;
    Ok(())
}
