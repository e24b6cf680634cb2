//! Search in the desktop app as a user uses it: the query box drives the lead list, a bad query
//! keeps the last good results and shows the error and hint, a Smart View is saved with a count.
//! Screenshots go to the artifacts directory.

use anyhow::Result;
use fantoccini::{Client, Locator};
use rapport_tests::*;
use std::time::Duration;

async fn text(c: &Client, css: &str) -> Result<String> {
    Ok(c.find(Locator::Css(css)).await?.text().await?)
}

async fn count(c: &Client) -> Result<u64> {
    Ok(text(c, "[data-testid=lead-count]").await?.trim().parse()?)
}

/// The rendered rows as (lead id, status pill), read in one go.
async fn rows(c: &Client) -> Result<Vec<(String, String)>> {
    let js = "return [...document.querySelectorAll('[data-testid=lead-row]')]
        .map(r => [r.dataset.leadId, r.querySelector('.pill')?.textContent?.trim() ?? '']);";
    let v: Vec<(String, String)> = serde_json::from_value(c.execute(js, vec![]).await?)?;
    Ok(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_box_drives_the_list_and_errors_keep_the_results() -> Result<()> {
    let demo = open_demo(2000).await?;
    let c = demo.client.clone();
    assert_eq!(count(&c).await?, 2000);

    // Typing a query narrows the list to matching leads, all of them customers.
    wait_css(&c, "[data-testid=search-input]", 10)
        .await?
        .send_keys("status:customer")
        .await?;
    eventually(10, "the customer results", || async {
        let n = count(&c).await?;
        let r = rows(&c).await?;
        Ok(n > 0 && n < 2000 && !r.is_empty() && r.iter().all(|(_, pill)| pill == "Customer"))
    })
    .await?;
    let customers = count(&c).await?;
    let shown = rows(&c).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    screenshot(&c, "10-search-results.png").await?;

    // Save it as a Smart View: it appears in the sidebar with its count.
    wait_css(&c, "[data-testid=save-view-button]", 10)
        .await?
        .click()
        .await?;
    wait_css(&c, "[data-testid=save-view-name]", 10)
        .await?
        .send_keys("Customers")
        .await?;
    wait_css(&c, "[data-testid=save-view-submit]", 10)
        .await?
        .click()
        .await?;
    let view = "[data-testid=smart-view][data-name='Customers']";
    wait_css(&c, view, 10).await?;
    eventually(10, "the Smart View's count", || async {
        Ok(
            text(&c, &format!("{view} [data-testid=smart-view-count]")).await?
                == customers.to_string(),
        )
    })
    .await?;

    // A misspelt field: the error and hint show, the list keeps the customer results.
    paste_query(&c, "last_caled:yesterday").await?;
    let error = wait_css(&c, "[data-testid=search-error]", 10)
        .await?
        .text()
        .await?;
    assert!(error.contains("unknown field"), "{error}");
    let hint = text(&c, "[data-testid=search-hint]").await?;
    assert!(hint.contains("last_called"), "{hint}");
    let underlined = text(&c, "[data-testid=search-error-span]").await?;
    assert_eq!(underlined, "last_caled");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        count(&c).await?,
        customers,
        "the count changed on a bad query"
    );
    // same leads in the same order (the error lines make the list a little shorter)
    let after = rows(&c).await?;
    assert!(
        !after.is_empty() && shown.starts_with(&after),
        "the rows changed on a bad query: {after:?}"
    );
    screenshot(&c, "11-search-error.png").await?;

    // The syntax help lists the fields with their help text.
    wait_css(&c, "[data-testid=search-help-button]", 5)
        .await?
        .click()
        .await?;
    let help = wait_css(&c, "[data-testid=search-help]", 5)
        .await?
        .text()
        .await?;
    assert!(
        help.contains("last_called") && help.contains("opportunity_value"),
        "{help}"
    );
    screenshot(&c, "12-search-help.png").await?;
    wait_css(&c, "[data-testid=search-help-button]", 5)
        .await?
        .click()
        .await?;

    // Picking the Smart View puts its query back in the box and clears the error.
    wait_css(&c, &format!("{view} button"), 5)
        .await?
        .click()
        .await?;
    eventually(10, "the view's query in the box", || async {
        let v = c
            .find(Locator::Css("[data-testid=search-input]"))
            .await?
            .prop("value")
            .await?;
        Ok(v.as_deref() == Some("status:customer")
            && c.find(Locator::Css("[data-testid=search-error]"))
                .await
                .is_err())
    })
    .await?;
    assert_eq!(count(&c).await?, customers);

    // Clearing the box shows every lead again.
    paste_query(&c, "").await?;
    eventually(10, "all leads again", || async {
        Ok(count(&c).await? == 2000)
    })
    .await?;
    c.close().await?;
    Ok(())
}
