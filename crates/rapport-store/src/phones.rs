//! Caller lookup for the softphone: live contacts (of live leads) that carry a given E.164
//! number, with their lead's name. Binds the number as a parameter; never builds SQL from it.

use crate::Store;
use crate::error::Result;
use crate::rows::decode;
use rapport_core::Contact;
use sqlx::Row;

/// A contact whose phones include the number looked up, with its lead's name.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneMatch {
    pub contact: Contact,
    pub lead_name: String,
}

impl Store {
    /// Contacts with `e164` among their phones, newest lead activity first (at most 20).
    /// Phones are stored normalised to E.164, so this is an exact comparison.
    pub async fn contacts_by_phone(&self, e164: &str) -> Result<Vec<PhoneMatch>> {
        let rows = sqlx::query(
            "SELECT c.data, l.name FROM contacts c JOIN leads l ON l.id = c.lead_id
             WHERE c.deleted = 0 AND l.deleted = 0
               AND EXISTS (SELECT 1 FROM json_each(c.data, '$.phones') p WHERE p.value ->> 'phone' = ?)
             ORDER BY l.last_activity DESC, c.id LIMIT 20",
        )
        .bind(e164)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PhoneMatch {
                    contact: decode(&r.get::<String, _>(0))?,
                    lead_name: r.get(1),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use rapport_core::ops::*;

    #[tokio::test]
    async fn finds_live_contacts_by_their_e164_number() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("t.db")).await.unwrap();
        let mut w = s.begin_write().await.unwrap();
        let (lead, plan) = create_lead(
            NewLead {
                name: "Acme".into(),
                ..Default::default()
            },
            &mut w.ctx,
        )
        .unwrap();
        w.apply(plan).await.unwrap();
        let contact = |name: &str, phone: &str| NewContact {
            name: name.into(),
            phones: vec![PhoneInput {
                phone: phone.into(),
                kind: None,
            }],
            ..Default::default()
        };
        let (ann, plan) = add_contact(&lead, contact("Ann", "(415) 555-0123"), &mut w.ctx).unwrap();
        w.apply(plan).await.unwrap();
        let (_, plan) = add_contact(&lead, contact("Bob", "+44 20 7946 0000"), &mut w.ctx).unwrap();
        w.apply(plan).await.unwrap();
        w.commit().await.unwrap();

        let found = s.contacts_by_phone("+14155550123").await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].contact.id, found[0].lead_name.as_str()),
            (ann.id, "Acme")
        );
        assert!(
            s.contacts_by_phone("+14155550124")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(s.contacts_by_phone("' OR 1=1 --").await.unwrap().is_empty());

        let mut w = s.begin_write().await.unwrap();
        let current = w.contact(ann.id).await.unwrap();
        w.apply(delete_contact(&current)).await.unwrap();
        w.commit().await.unwrap();
        assert!(
            s.contacts_by_phone("+14155550123")
                .await
                .unwrap()
                .is_empty(),
            "tombstones are not callers"
        );
    }
}
