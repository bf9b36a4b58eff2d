//! Where resources live. This one keeps them in memory, so they vanish on restart: a real
//! provider replaces the two maps with database tables (a unique index on `uuid` gives the
//! same idempotency) and keeps these method signatures, so the handlers do not change.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use uuid::Uuid;

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The provider's own id, random: never derived from `heroku_id` (PROTOCOL §2).
    pub id: String,
    /// Heroku's id for the add-on (v3 `uuid`), the key for idempotent provisioning and v3 SSO.
    pub uuid: Option<String>,
    pub plan: String,
    pub region: Option<String>,
    pub status: Status,
    /// Set for a resource provisioned asynchronously (v3): how to call Heroku back about it.
    pub callback: Option<Callback>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Provisioned: Heroku has its config.
    Ready,
    /// Answered 202; the background task (src/heroku.rs) has not finished yet.
    Provisioning,
    /// The background task gave up (its log says why); Heroku drops the add-on after 12 hours.
    Failed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Callback {
    /// The request's `callback_url`: `https://api.heroku.com/addons/<uuid>` on Heroku.
    pub url: String,
    /// Issued for the request's `oauth_grant`, once the background task has exchanged it.
    pub tokens: Option<Tokens>,
}

/// OAuth tokens for Heroku's Platform API, scoped to one add-on. A real store keeps them
/// encrypted at rest.
#[derive(Clone, PartialEq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token stops working (Heroku's last 8 hours); `None` if not said.
    pub expires_at: Option<SystemTime>,
}

/// Never shows the tokens themselves, so a `{:?}` in a log cannot leak them.
impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Default)]
pub struct Store {
    inner: Mutex<Maps>,
}

#[derive(Default)]
struct Maps {
    by_id: HashMap<String, Resource>,
    id_by_uuid: HashMap<String, String>,
}

impl Store {
    /// Creates a resource, or returns the one already made for this `uuid`: Heroku delivers at
    /// least once, so a replay must not create a second resource. The flag is true when created.
    /// Lookup and insertion happen under one lock, so concurrent copies of a request also make
    /// exactly one resource (a database gets the same from a unique index on `uuid`).
    /// With a `callback_url` the resource starts out `Provisioning`, for the asynchronous flow.
    pub fn provision(
        &self,
        uuid: Option<String>,
        plan: String,
        region: Option<String>,
        callback_url: Option<String>,
    ) -> (Resource, bool) {
        let mut maps = self.lock();
        if let Some(existing) = uuid
            .as_ref()
            .and_then(|uuid| maps.id_by_uuid.get(uuid))
            .and_then(|id| maps.by_id.get(id))
        {
            return (existing.clone(), false);
        }
        let resource = Resource {
            id: Uuid::new_v4().to_string(),
            uuid,
            plan,
            region,
            status: if callback_url.is_some() {
                Status::Provisioning
            } else {
                Status::Ready
            },
            callback: callback_url.map(|url| Callback { url, tokens: None }),
        };
        if let Some(uuid) = &resource.uuid {
            maps.id_by_uuid.insert(uuid.clone(), resource.id.clone());
        }
        maps.by_id.insert(resource.id.clone(), resource.clone());
        (resource, true)
    }

    pub fn get(&self, id: &str) -> Option<Resource> {
        self.lock().by_id.get(id).cloned()
    }

    pub fn find_by_uuid(&self, uuid: &str) -> Option<Resource> {
        let maps = self.lock();
        maps.id_by_uuid
            .get(uuid)
            .and_then(|id| maps.by_id.get(id))
            .cloned()
    }

    pub fn change_plan(&self, id: &str, plan: String) -> Option<Resource> {
        let mut maps = self.lock();
        let resource = maps.by_id.get_mut(id)?;
        resource.plan = plan;
        Some(resource.clone())
    }

    /// Keeps the tokens of an asynchronously provisioned resource; false if it is gone.
    pub fn set_tokens(&self, id: &str, tokens: Tokens) -> bool {
        let mut maps = self.lock();
        match maps.by_id.get_mut(id).and_then(|r| r.callback.as_mut()) {
            Some(callback) => {
                callback.tokens = Some(tokens);
                true
            }
            None => false,
        }
    }

    /// False if the resource is gone (deprovisioned meanwhile).
    pub fn set_status(&self, id: &str, status: Status) -> bool {
        let mut maps = self.lock();
        match maps.by_id.get_mut(id) {
            Some(resource) => {
                resource.status = status;
                true
            }
            None => false,
        }
    }

    /// Removes the resource; its `uuid` may then be provisioned again as a new resource.
    pub fn remove(&self, id: &str) -> Option<Resource> {
        let mut maps = self.lock();
        let resource = maps.by_id.remove(id)?;
        if let Some(uuid) = &resource.uuid {
            maps.id_by_uuid.remove(uuid);
        }
        Some(resource)
    }

    /// Nothing above can panic halfway through an update, so the maps stay consistent even
    /// if the lock is poisoned: keep serving rather than fail every later request.
    fn lock(&self) -> MutexGuard<'_, Maps> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_uuid_gives_the_same_resource_until_removed() {
        let store = Store::default();
        let (first, created) = store.provision(Some("u1".into()), "test".into(), None, None);
        assert!(created);
        let (again, created) = store.provision(Some("u1".into()), "test".into(), None, None);
        assert!(!created);
        assert_eq!(again, first);
        assert!(store.remove(&first.id).is_some());
        let (fresh, created) = store.provision(Some("u1".into()), "test".into(), None, None);
        assert!(created);
        assert_ne!(fresh.id, first.id);
    }

    #[test]
    fn a_callback_url_makes_it_asynchronous() {
        let store = Store::default();
        let url = "https://api.heroku.com/addons/u1".to_owned();
        let (resource, _) =
            store.provision(Some("u1".into()), "async".into(), None, Some(url.clone()));
        assert_eq!(resource.status, Status::Provisioning);
        let tokens = Tokens {
            access_token: "secret-access".into(),
            refresh_token: Some("secret-refresh".into()),
            expires_at: None,
        };
        assert!(store.set_tokens(&resource.id, tokens.clone()));
        assert!(store.set_status(&resource.id, Status::Ready));
        let stored = store.get(&resource.id).unwrap();
        assert_eq!(stored.status, Status::Ready);
        assert_eq!(
            stored.callback,
            Some(Callback {
                url,
                tokens: Some(tokens)
            })
        );
        let shown = format!("{stored:?}");
        assert!(!shown.contains("secret-"), "{shown}");
        store.remove(&resource.id);
        assert!(!store.set_status(&resource.id, Status::Failed));
    }

    #[test]
    fn concurrent_copies_make_one_resource() {
        let store = std::sync::Arc::new(Store::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store.provision(Some("u1".into()), "test".into(), None, None)
                })
            })
            .collect();
        let results: Vec<(Resource, bool)> =
            threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(results.iter().all(|(r, _)| r.id == results[0].0.id));
        assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    }

    #[test]
    fn no_uuid_always_creates() {
        let store = Store::default();
        let (a, _) = store.provision(None, "test".into(), None, None);
        let (b, _) = store.provision(None, "test".into(), None, None);
        assert_ne!(a.id, b.id);
    }
}
