/**
 * The in-process store: one process only, for development, tests and the
 * example app's embedded default. Entries live in a bounded LRU (lru-cache,
 * by count and by bytes, with per-entry TTL); generations and locks follow
 * the same rules as in Redis, so the store contract suite passes on both.
 */
import { LRUCache } from 'lru-cache';
import { encodeKey, encodePart } from '../keys';
import { newGeneration, type LockKind, type PreparedFill, type Store, type StoreLookup } from './store';

interface StoredEntry {
  generation: Buffer;
  payload: Buffer;
}

interface Lock {
  token: string;
  expiresAt: number;
}

/** Bounds of the memory store. */
export interface MemoryStoreOptions {
  maxEntries: number;
  maxBytes: number;
}

/** A Store in process memory. */
export class MemoryStore implements Store {
  readonly inProcess = true;
  readonly kind = 'memory';
  private readonly entries: LRUCache<string, StoredEntry>;
  // Generations are bounded too; losing one makes its namespace miss, never serve old entries.
  private readonly generations = new LRUCache<string, Buffer>({ max: 100_000 });
  private readonly locks = new LRUCache<string, Lock>({ max: 10_000 });

  constructor(options: MemoryStoreOptions) {
    this.entries = new LRUCache<string, StoredEntry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (entry, key) => entry.payload.length + key.length + 64,
    });
  }

  isReady(): boolean {
    return true;
  }

  async whenReady(): Promise<boolean> {
    return true;
  }

  private entryKey(namespace: string, key: string): string {
    return `${encodePart(namespace)}:${encodeKey(key)}`;
  }

  async lookup(namespace: string, key: string, withLock: boolean): Promise<StoreLookup> {
    const generation = this.generations.get(namespace) ?? null;
    const id = this.entryKey(namespace, key);
    const entry = generation ? this.entries.get(id) : undefined;
    const payload = entry && generation && entry.generation.equals(generation) ? entry.payload : null;
    return { generation, payload, locked: withLock ? this.liveLock(`fill:${id}`) !== undefined : false };
  }

  async prepareFill(namespace: string, key: string, lockToken: string | undefined, lockTtlMs: number): Promise<PreparedFill> {
    let generation = this.generations.get(namespace);
    if (!generation) {
      generation = newGeneration();
      this.generations.set(namespace, generation);
    } else {
      const entry = this.entries.get(this.entryKey(namespace, key));
      if (entry && entry.generation.equals(generation)) return { generation, locked: false, payload: entry.payload };
    }
    const locked = lockToken === undefined ? false : await this.acquireLock(namespace, key, 'fill', lockToken, lockTtlMs);
    return { generation, locked, payload: null };
  }

  async write(namespace: string, key: string, seenGeneration: Buffer, payload: Buffer, ttlMs: number, releaseToken?: string): Promise<boolean> {
    if (releaseToken !== undefined) await this.releaseLock(namespace, key, 'fill', releaseToken);
    const generation = this.generations.get(namespace);
    if (!generation || !generation.equals(seenGeneration)) return false;
    // A payload larger than the whole store is refused by lru-cache; that is a not-stored, not an error.
    this.entries.set(this.entryKey(namespace, key), { generation, payload }, { ttl: Math.max(1, Math.ceil(ttlMs)) });
    return true;
  }

  async clear(namespaces: readonly string[]): Promise<void> {
    for (const namespace of namespaces) this.generations.set(namespace, newGeneration());
  }

  private liveLock(id: string): Lock | undefined {
    const lock = this.locks.get(id);
    if (lock && lock.expiresAt <= Date.now()) {
      this.locks.delete(id);
      return undefined;
    }
    return lock;
  }

  async acquireLock(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): Promise<boolean> {
    const id = `${kind}:${this.entryKey(namespace, key)}`;
    if (this.liveLock(id)) return false;
    this.locks.set(id, { token, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async releaseLock(namespace: string, key: string, kind: LockKind, token: string): Promise<void> {
    const id = `${kind}:${this.entryKey(namespace, key)}`;
    if (this.liveLock(id)?.token === token) this.locks.delete(id);
  }

  async holdLock(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): Promise<void> {
    const id = `${kind}:${this.entryKey(namespace, key)}`;
    const lock = this.liveLock(id);
    if (lock === undefined || lock.token === token) this.locks.set(id, { token, expiresAt: Date.now() + ttlMs });
  }

  onReconnect(): void {
    // Process memory never disconnects.
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.locks.clear();
  }
}
