/**
 * The in-process store: one process only, for development, tests and the
 * example app's embedded default. Entries live in a bounded LRU (lru-cache,
 * by count and by bytes, with per-entry TTL); generations, tags, the
 * all-generation, the clear clock and locks follow the same rules as in
 * Redis (design in store.ts), so the store contract suite passes on both.
 * Records are bounded LRUs too: losing one is an eviction, and an absent
 * record validates nothing, as in Redis.
 */
import { LRUCache } from 'lru-cache';
import { encodeKey, encodePart } from '../keys';
import { uniqueToken } from '../tokens';
import { uniqueEncodedTags, type HeaderTag } from './entry-header';
import {
  maxFillAgeMicros,
  type ClearOptions,
  type EntryLookup,
  type FillTicket,
  type LockKind,
  type LookupEntryOptions,
  type Store,
  type WriteEntryOptions,
  type WriteOutcome,
} from './store';

interface NamespaceRecord {
  token: string;
  /** Clock of the last soft clear (0: none). */
  soft: number;
}

interface TagRecord {
  token: string;
  /** Clock of the last hard clear. */
  cleared: number;
  /** Clock of the last soft clear. */
  soft: number;
}

interface AllRecord {
  token: string;
  clock: number;
}

interface StoredEntry {
  generation: string;
  allGeneration: string;
  clock: number;
  tags: HeaderTag[];
  payload: Buffer;
}

/** A record kind, for evictRecord. */
export type RecordKind = 'namespace' | 'tag' | 'all';

const CLEARED_RECORD_TTL_MS = 60 * 60 * 1000;
const DEFAULT_FILL_TTL_MS = 5000;

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
  private readonly locks = new LRUCache<string, Lock>({ max: 10_000 });
  private readonly entries: LRUCache<string, StoredEntry>;
  // Records are bounded too; losing one makes its entries miss, never serve old ones.
  private readonly namespaceRecords = new LRUCache<string, NamespaceRecord>({ max: 100_000 });
  private readonly tagRecords = new LRUCache<string, TagRecord>({ max: 100_000 });
  private readonly allRecord = new LRUCache<'all', AllRecord>({ max: 1 });

  constructor(options: MemoryStoreOptions) {
    this.entries = new LRUCache<string, StoredEntry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (entry, key) => entry.payload.length + key.length + 64 + entry.tags.length * 48,
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

  async lookupEntry(namespace: string, key: string, options: LookupEntryOptions = {}): Promise<EntryLookup> {
    const id = this.entryKey(namespace, key);
    let ns = this.namespaceRecords.get(namespace);
    let all = this.allRecord.get('all');
    const entry = ns && all ? this.entries.get(id) : undefined;
    if (entry && ns && all) {
      const status = this.check(entry, ns, all);
      if (status !== 'miss') {
        const tags = entry.tags.map((tag) => tag.encoded);
        return { status, payload: entry.payload, ticket: ticketOf(ns, all, this.nowClock()), lock: 'free', tags };
      }
    }
    const fill = options.fill;
    if (fill !== undefined) {
      // Created with the short fill TTL, or kept at least that long: only a write makes them outlive an entry.
      if (!all) {
        all = { token: uniqueToken(), clock: this.nowClock() };
        this.allRecord.set('all', all, { ttl: ms(fill.fillTtlMs) });
      } else atLeast(this.allRecord, 'all', fill.fillTtlMs);
      if (!ns) {
        ns = { token: uniqueToken(), soft: 0 };
        this.namespaceRecords.set(namespace, ns, { ttl: ms(fill.fillTtlMs) });
      } else atLeast(this.namespaceRecords, namespace, fill.fillTtlMs);
    }
    let lock: EntryLookup['lock'] = this.liveLock(`fill:${id}`) ? 'busy' : 'free';
    if (fill?.lockToken !== undefined)
      lock = (await this.acquireLock(namespace, key, 'fill', fill.lockToken, fill.lockTtlMs)) ? 'taken' : 'busy';
    return { status: 'miss', payload: null, ticket: ns && all ? ticketOf(ns, all, this.nowClock()) : null, lock, tags: [] };
  }

  private check(entry: StoredEntry, ns: NamespaceRecord, all: AllRecord): EntryLookup['status'] {
    if (entry.generation !== ns.token || entry.allGeneration !== all.token) return 'miss';
    let status: EntryLookup['status'] = ns.soft > entry.clock ? 'soft-cleared' : 'hit';
    for (const tag of entry.tags) {
      const record = this.tagRecords.get(tag.encoded);
      if (record === undefined || record.token !== tag.token) return 'miss';
      if (record.soft > entry.clock) status = 'soft-cleared';
    }
    return status;
  }

  async writeEntry(namespace: string, key: string, ticket: FillTicket, payload: Buffer, options: WriteEntryOptions): Promise<WriteOutcome> {
    const id = this.entryKey(namespace, key);
    if (options.releaseToken !== undefined) await this.releaseLock(namespace, key, 'fill', options.releaseToken);
    const tags = uniqueEncodedTags(options.tags);
    const ns = this.namespaceRecords.get(namespace);
    const all = this.allRecord.get('all');
    if (!ns || ns.token !== ticket.generation || !all || all.token !== ticket.allGeneration) return 'generation-changed';
    const fillClock = Number(ticket.clock);
    if (ns.soft > fillClock) return 'cleared-since-fill';
    // A clear of a tag without a record makes one for the fill TTL: a fill older than that cannot rely on an absent record.
    const started = ticket.started === undefined ? fillClock : Number(ticket.started);
    const maxAge = maxFillAgeMicros(options.fillTtlMs ?? DEFAULT_FILL_TTL_MS);
    if (tags.length > 0 && this.nowClock() - started >= maxAge) return 'cleared-since-fill';
    const recordTtl = ms(options.ttlMs);
    const found = tags.map((encoded) => this.tagRecords.get(encoded));
    const cleared = (record: TagRecord | undefined): boolean =>
      record !== undefined && (record.cleared > fillClock || record.soft > fillClock);
    if (found.some(cleared)) return 'cleared-since-fill';
    const headerTags: HeaderTag[] = [];
    for (const [i, encoded] of tags.entries()) {
      let record = found[i];
      if (record === undefined) {
        // Absent (never made, or expired after its last clear, before this fill began): never cleared as far as this fill can tell.
        record = { token: uniqueToken(), cleared: 0, soft: 0 };
        this.tagRecords.set(encoded, record, { ttl: recordTtl });
      }
      headerTags.push({ encoded, token: record.token });
    }
    this.entries.set(
      id,
      { generation: ns.token, allGeneration: all.token, clock: fillClock, tags: headerTags, payload },
      { ttl: recordTtl },
    );
    // A payload larger than the whole store is refused by lru-cache; that is a not-stored, not an error.
    if (!this.entries.has(id)) return 'generation-changed';
    for (const tag of headerTags) atLeast(this.tagRecords, tag.encoded, recordTtl);
    atLeast(this.namespaceRecords, namespace, recordTtl);
    atLeast(this.allRecord, 'all', recordTtl);
    return 'stored';
  }

  async clearNamespaces(namespaces: readonly string[], options: ClearOptions = {}): Promise<void> {
    const clock = options.soft ? this.bumpClock() : 0;
    for (const namespace of namespaces) {
      const record = this.namespaceRecords.get(namespace);
      if (record === undefined) continue;
      if (options.soft) record.soft = clock;
      else record.token = uniqueToken();
    }
  }

  async clearTags(tags: readonly string[], options: ClearOptions = {}): Promise<void> {
    if (tags.length === 0) return;
    const clock = this.bumpClock();
    const fillTtl = ms(options.fillTtlMs ?? DEFAULT_FILL_TTL_MS);
    for (const encoded of uniqueEncodedTags(tags)) {
      const record = this.tagRecords.get(encoded);
      if (record === undefined) {
        // A fill in flight that carries the tag must see this clear; only for the fill TTL, so nothing lasting.
        const created = { token: uniqueToken(), cleared: options.soft ? 0 : clock, soft: options.soft ? clock : 0 };
        this.tagRecords.set(encoded, created, { ttl: fillTtl });
        continue;
      }
      if (options.soft) record.soft = clock;
      else Object.assign(record, { token: uniqueToken(), cleared: clock });
      atLeast(this.tagRecords, encoded, fillTtl);
    }
  }

  async clearAll(): Promise<void> {
    const all = this.allRecord.get('all');
    if (all !== undefined) all.token = uniqueToken();
  }

  /** What an eviction does to a record (tests use it; an LRU bound may do it at any time). */
  evictRecord(kind: RecordKind, name = ''): void {
    if (kind === 'namespace') this.namespaceRecords.delete(name);
    else if (kind === 'tag') this.tagRecords.delete(encodeKey(name));
    else this.allRecord.delete('all');
  }

  /** Advances the clear clock (never backwards) and returns it; creates the global record when absent. */
  private bumpClock(): number {
    const all = this.allRecord.get('all');
    if (all === undefined) {
      const created = { token: uniqueToken(), clock: this.nowClock() };
      this.allRecord.set('all', created, { ttl: CLEARED_RECORD_TTL_MS });
      return created.clock;
    }
    all.clock = Math.max(all.clock + 1, this.nowClock());
    atLeast(this.allRecord, 'all', CLEARED_RECORD_TTL_MS);
    return all.clock;
  }

  private nowClock(): number {
    return Date.now() * 1000;
  }

  onReconnect(): void {
    // Process memory never disconnects.
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.locks.clear();
  }
}

function ms(value: number): number {
  return Math.max(1, Math.ceil(value));
}

/** Keeps a record at least ttlMs more (never shortens it). */
function atLeast<K extends string, V extends object>(cache: LRUCache<K, V>, key: K, ttlMs: number): void {
  const remaining = cache.getRemainingTTL(key);
  const value = cache.peek(key);
  if (value !== undefined && remaining !== Infinity && remaining < ttlMs) cache.set(key, value, { ttl: ms(ttlMs) });
}

function ticketOf(ns: NamespaceRecord, all: AllRecord, now: number): FillTicket {
  const clock = String(all.clock).padStart(16, '0');
  return { generation: ns.token, allGeneration: all.token, clock, started: String(now).padStart(16, '0') };
}
