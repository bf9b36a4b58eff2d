//! Where resources live. This one keeps them in memory, so they vanish on restart: a real
//! provider replaces the two maps with database tables (a unique index on `uuid` gives the
//! same idempotency) and keeps these method signatures, so the handlers do not change.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The provider's own id, random: never derived from `heroku_id` (PROTOCOL §2).
    pub id: String,
    /// Heroku's id for the add-on (v3 `uuid`), the key for idempotent provisioning and v3 SSO.
    pub uuid: Option<String>,
    pub plan: String,
    pub region: Option<String>,
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
    pub fn provision(
        &self,
        uuid: Option<String>,
        plan: String,
        region: Option<String>,
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
        let (first, created) = store.provision(Some("u1".into()), "test".into(), None);
        assert!(created);
        let (again, created) = store.provision(Some("u1".into()), "test".into(), None);
        assert!(!created);
        assert_eq!(again, first);
        assert!(store.remove(&first.id).is_some());
        let (fresh, created) = store.provision(Some("u1".into()), "test".into(), None);
        assert!(created);
        assert_ne!(fresh.id, first.id);
    }

    #[test]
    fn no_uuid_always_creates() {
        let store = Store::default();
        let (a, _) = store.provision(None, "test".into(), None);
        let (b, _) = store.provision(None, "test".into(), None);
        assert_ne!(a.id, b.id);
    }
}
