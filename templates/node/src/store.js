import { randomUUID } from 'node:crypto';

// Keeps resources in process memory: fine for a demo and for tests, but lost on restart and not
// shared between dynos. A real provider swaps this class for one backed by its database with the
// same async methods (e.g. a `resources` table with a UNIQUE index on `uuid`, so `provision` can
// be one `INSERT ... ON CONFLICT (uuid) DO NOTHING` and stay idempotent under concurrent retries).
export class MemoryStore {
  #byId = new Map();
  #idByUuid = new Map();

  // Returns { resource, created }. Heroku delivers at least once, so a uuid already seen yields
  // the existing resource instead of a second one. Without a uuid every call creates a resource.
  async provision({ uuid, ...fields }) {
    if (uuid !== undefined && this.#idByUuid.has(uuid)) {
      return { resource: this.#copy(this.#idByUuid.get(uuid)), created: false };
    }
    // The provider's own id: random, never derived from anything Heroku sent.
    const resource = { id: randomUUID(), uuid, ...fields, createdAt: new Date().toISOString() };
    this.#byId.set(resource.id, resource);
    if (uuid !== undefined) this.#idByUuid.set(uuid, resource.id);
    return { resource: structuredClone(resource), created: true };
  }

  async findById(id) {
    return this.#copy(id);
  }

  async findByUuid(uuid) {
    return this.#copy(this.#idByUuid.get(uuid));
  }

  async update(id, changes) {
    const resource = this.#byId.get(id);
    if (!resource) return undefined;
    Object.assign(resource, changes);
    return structuredClone(resource);
  }

  // Also forgets the uuid, so Heroku may provision it again as a new resource.
  async delete(id) {
    const resource = this.#byId.get(id);
    if (!resource) return false;
    this.#byId.delete(id);
    if (resource.uuid !== undefined) this.#idByUuid.delete(resource.uuid);
    return true;
  }

  // Callers get copies, as they would from a database, so they cannot change stored state by accident.
  #copy(id) {
    const resource = id === undefined ? undefined : this.#byId.get(id);
    return resource && structuredClone(resource);
  }
}
