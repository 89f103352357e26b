/**
 * The Redis store, over an ioredis `Redis` or `Cluster` client the user
 * gives. Every key of a namespace carries the namespace as its Cluster hash
 * tag; each tag record is its own hash tag; the global record (all-generation
 * and clear clock) is one key per prefix. Never KEYS, never SCAN: every clear
 * is O(1) per namespace or tag.
 *
 * Round trips (v2; design in store.ts and /work/notes/store-v2-design.md):
 *
 *   operation                        one node (Redis, Sentinel)   Cluster
 *   lookupEntry: hit, any tags       1 script                     1 (namespace slot + global record, in parallel)
 *                                                                 + 1 if the entry has tags (tag records, in parallel)
 *   lookupEntry: miss (with lock)    1 script                     1 (as above); +1 (lock) when a tag or the
 *                                                                 all-generation turned a candidate into a miss
 *   writeEntry (+ lock release)      1 script                     1 without tags (entry + global record in parallel);
 *                                                                 2 with tags (tag records, created if absent, then
 *                                                                 the entry, whose script checks the fill's age)
 *   clearNamespaces hard             1 script                     1 (parallel, one per namespace)
 *   clearNamespaces soft, clearTags  1 script                     2 (clock, then the records in parallel)
 *   clearAll                         1                            1
 *
 * So a miss is 2 round trips on one node: the lookup (with lock) and the
 * write (with release).
 *
 * The hit fast path (lookupEntry with expectPlain): one MGET of the
 * namespace record, the entry and the global record, checked in Node, for
 * an entry the engine last saw without tags. It costs what the MGET of the
 * store's first version cost (a Lua call costs ~2.6x the Redis CPU); when
 * the entry turns out missing or tagged, the full lookup follows (one more
 * round trip). On a Cluster the global record's GET goes in parallel.
 */
import type { Cluster, Redis } from 'ioredis';
import { allKey, encodeKey, namespaceKeys, tagKeyPrefix, type NamespaceKeys } from '../keys';
import { LRUCache } from 'lru-cache';
import { batchCommands } from './command-batcher';
import { uniqueToken } from '../tokens';
import {
  decodeEntryHeader,
  encodeEntryHeader,
  TAG_COUNT_OFFSET,
  TOKEN_LENGTH,
  TOKEN_PLACEHOLDER,
  uniqueEncodedTags,
  type HeaderTag,
} from './entry-header';
import {
  BUMP_CLOCK,
  CLEAR_ALL,
  CLEAR_ONE_NODE,
  CLEAR_RECORD,
  ENSURE_TAG,
  LOOKUP_ONE_NODE,
  LOOKUP_SLOT,
  READ_ALL,
  TOUCH_ALL,
  WRITE_ONE_NODE,
  WRITE_SLOT,
} from './redis-scripts';
import {
  maxFillAgeMicros,
  type ClearOptions,
  type EntryLookup,
  type FillLockState,
  type FillTicket,
  type LockKind,
  type LookupEntryOptions,
  type Store,
  type WriteEntryOptions,
  type WriteOutcome,
} from './store';

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// Holds a lock for a backoff: extends it if this token holds it, takes it if
// it is free (a refresh that outlived its lock must still back off).
const HOLD_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

/** A record a clear creates (the global record, to hold the advanced clock) lives at least this long. */
export const CLEARED_RECORD_TTL_MS = 60 * 60 * 1000;
/** Default short TTL of records a miss or a clear of an unknown tag creates, and the oldest a fill with tags may be. */
export const DEFAULT_FILL_TTL_MS = 5000;

type Reply = Buffer | null;

interface ScriptedClient {
  ecaLookupOneNodeBuffer(...args: Array<string | number>): Promise<[number, number, Reply, Reply, Reply, Reply, Reply]>;
  ecaLookupSlotBuffer(...args: Array<string | number>): Promise<[number, number, Reply, Reply, Reply]>;
  ecaReadAll(...args: Array<string | number>): Promise<[string | null, string | null]>;
  ecaWriteOneNode(...args: Array<string | number | Buffer>): Promise<number>;
  ecaWriteSlot(...args: Array<string | number | Buffer>): Promise<number>;
  ecaTouchAll(...args: Array<string | number>): Promise<[number, string | null]>;
  ecaEnsureTag(...args: Array<string | number>): Promise<[string | null, string | null, string | null]>;
  ecaBumpClock(...args: Array<string | number>): Promise<string>;
  ecaClearRecord(...args: Array<string | number>): Promise<number>;
  ecaClearOneNode(...args: Array<string | number>): Promise<number>;
  ecaClearAll(...args: Array<string | number>): Promise<number>;
  expressCacheAsideRelease(lockKey: string, token: string): Promise<number>;
  expressCacheAsideHold(lockKey: string, token: string, ttlMs: number): Promise<number>;
}

function defineScripts(client: Redis | Cluster): Redis & ScriptedClient {
  const c = client as unknown as Redis & Partial<ScriptedClient>;
  // Several caches may share one client; the scripts are the same, define them once.
  if (typeof c.expressCacheAsideRelease !== 'function')
    c.defineCommand('expressCacheAsideRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  if (typeof c.expressCacheAsideHold !== 'function') c.defineCommand('expressCacheAsideHold', { numberOfKeys: 1, lua: HOLD_SCRIPT });
  const v2: Array<[string, number | undefined, string]> = [
    ['ecaLookupOneNode', 4, LOOKUP_ONE_NODE],
    ['ecaLookupSlot', 3, LOOKUP_SLOT],
    ['ecaReadAll', 1, READ_ALL],
    ['ecaWriteOneNode', 4, WRITE_ONE_NODE],
    ['ecaWriteSlot', 3, WRITE_SLOT],
    ['ecaTouchAll', 1, TOUCH_ALL],
    ['ecaEnsureTag', 1, ENSURE_TAG],
    ['ecaBumpClock', 1, BUMP_CLOCK],
    ['ecaClearRecord', 1, CLEAR_RECORD],
    ['ecaClearOneNode', undefined, CLEAR_ONE_NODE],
    ['ecaClearAll', 1, CLEAR_ALL],
  ];
  for (const [name, numberOfKeys, lua] of v2) {
    if (typeof (c as unknown as Record<string, unknown>)[name] !== 'function')
      c.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  }
  return c as Redis & ScriptedClient;
}

/** One entry write, worked out once: what both write paths need. */
interface EntryWrite {
  keys: NamespaceKeys;
  encoded: string;
  ticket: FillTicket;
  payload: Buffer;
  tags: string[];
  /** Milliseconds, for the entry and for the records it creates or touches. */
  entryTtl: number;
  recordTtl: number;
  /** The oldest fill the scripts accept, in µs of the store's clock. */
  maxAge: number;
  started: string;
  release: string;
}

/** A Store on Redis through ioredis. */
export class RedisStore implements Store {
  readonly inProcess = false;
  readonly kind = 'redis';
  private readonly client: Redis & ScriptedClient;
  // Namespace key names are computed once per namespace, not per request.
  private readonly keysByNamespace = new LRUCache<string, NamespaceKeys>({ max: 10_000 });

  // Until the client has been ready once, commands may wait in ioredis' queue (bounded by the
  // engine's timeout); after that, a client that is not ready is reconnecting and is skipped.
  private everReady: boolean;

  // On a Cluster, scripts may touch their own slot only: records of other slots are read in parallel calls.
  private readonly cluster: boolean;
  private readonly allKey: string;
  private readonly tagPrefix: string;

  constructor(
    client: Redis | Cluster,
    private readonly prefix: string,
  ) {
    // Commands of one event-loop turn share a socket write (command-batcher.ts); state and listeners stay on `client`.
    this.client = defineScripts(batchCommands(client));
    this.cluster = (client as { isCluster?: boolean }).isCluster === true;
    this.allKey = allKey(prefix);
    this.tagPrefix = tagKeyPrefix(prefix);
    this.everReady = client.status === 'ready';
    client.on('ready', this.onReady);
    // A Cluster does not emit 'ready' again when one shard fails over: watch each slot's master instead.
    if ((client as Cluster).isCluster === true) {
      this.onSlotsRefresh();
      client.on('refresh', this.onSlotsRefresh);
    }
  }

  /** The master of every slot as of the last topology refresh ('' while unknown; Cluster only). */
  private slotMasters: string[] = [];

  // A promoted replica may lack the last writes its master acknowledged (replication is asynchronous), so a slot
  // whose master changed counts as a reconnect: recent clears are applied again.
  private readonly onSlotsRefresh = (): void => {
    const slots = (this.client as unknown as Cluster).slots;
    const masters: string[] = new Array<string>(slots.length);
    let changed = false;
    for (let slot = 0; slot < slots.length; slot++) {
      masters[slot] = slots[slot]?.[0] ?? '';
      const before = this.slotMasters[slot] ?? '';
      if (before !== '' && masters[slot] !== '' && masters[slot] !== before) changed = true;
    }
    this.slotMasters = masters;
    if (changed) for (const callback of this.reconnectCallbacks) callback();
  };

  private readonly reconnectCallbacks: Array<() => void> = [];

  private readonly onReady = (): void => {
    if (!this.everReady) {
      this.everReady = true;
      return;
    }
    for (const callback of this.reconnectCallbacks) callback();
  };

  onReconnect(callback: () => void): void {
    this.reconnectCallbacks.push(callback);
  }

  isReady(): boolean {
    const status = this.client.status;
    // 'wait' is a lazyConnect client that connects on its first command.
    return status === 'ready' || status === 'wait' || (!this.everReady && (status === 'connecting' || status === 'connect'));
  }

  async whenReady(timeoutMs: number): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    if (this.client.status === 'end') return false;
    return new Promise<boolean>((resolve) => {
      const done = (ready: boolean): void => {
        clearTimeout(timer);
        this.client.removeListener('ready', onReady);
        resolve(ready);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.once('ready', onReady);
    });
  }

  private keys(namespace: string): NamespaceKeys {
    let keys = this.keysByNamespace.get(namespace);
    if (!keys) {
      keys = namespaceKeys(this.prefix, namespace);
      this.keysByNamespace.set(namespace, keys);
    }
    return keys;
  }

  private lockKey(namespace: string, key: string, kind: LockKind): string {
    const keys = this.keys(namespace);
    return (kind === 'fill' ? keys.lockPrefix : keys.refreshPrefix) + encodeKey(key);
  }

  async acquireLock(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): Promise<boolean> {
    return (await this.client.set(this.lockKey(namespace, key, kind), token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
  }

  async releaseLock(namespace: string, key: string, kind: LockKind, token: string): Promise<void> {
    await this.client.expressCacheAsideRelease(this.lockKey(namespace, key, kind), token);
  }

  async holdLock(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): Promise<void> {
    await this.client.expressCacheAsideHold(this.lockKey(namespace, key, kind), token, Math.max(1, Math.ceil(ttlMs)));
  }

  async lookupEntry(namespace: string, key: string, options: LookupEntryOptions = {}): Promise<EntryLookup> {
    if (options.expectPlain) {
      const plain = await this.lookupPlain(namespace, key);
      if (plain !== undefined) return plain;
    }
    // The script validates the header; the GET right behind it on the same connection reads the entry.
    // Another client's write may land between the two: then the header differs, and the lookup runs once more.
    const first = await this.lookupOnce(namespace, key, options);
    return (
      first ??
      (await this.lookupOnce(namespace, key, options)) ?? { status: 'miss', payload: null, ticket: null, lock: 'free', tags: NO_TAGS }
    );
  }

  /**
   * The fast path of a hit on an entry without tags: one MGET of the namespace record, the entry and the global
   * record (on a Cluster, the global record's GET in parallel), checked here, no script. Undefined when it
   * cannot decide (no entry, a stale token, or an entry with tags): then the caller runs the full lookup.
   */
  private async lookupPlain(namespace: string, key: string): Promise<EntryLookup | undefined> {
    const keys = this.keys(namespace);
    const entryKey = keys.entryPrefix + encodeKey(key);
    let g: Buffer | null | undefined;
    let value: Buffer | null | undefined;
    let all: Buffer | null | undefined;
    if (!this.cluster) [g, value, all] = await this.client.mgetBuffer(keys.generation, entryKey, this.allKey);
    else [[g, value], all] = await Promise.all([this.client.mgetBuffer(keys.generation, entryKey), this.client.getBuffer(this.allKey)]);
    if (g == null || value == null || all == null || g.length < TOKEN_LENGTH || all.length < TOKEN_LENGTH) return undefined;
    if (value.length <= TAG_COUNT_OFFSET || value[TAG_COUNT_OFFSET] !== 0) return undefined;
    if (
      value.compare(g, 0, TOKEN_LENGTH, 0, TOKEN_LENGTH) !== 0 ||
      value.compare(all, 0, TOKEN_LENGTH, TOKEN_LENGTH, 2 * TOKEN_LENGTH) !== 0
    )
      return undefined;
    // A soft clear of the namespace after this entry's fill clock makes it soft-cleared.
    const softClock = g.length > TOKEN_LENGTH ? Number(g.toString('latin1', TOKEN_LENGTH)) : 0;
    const fillClock = Number(value.toString('latin1', 2 * TOKEN_LENGTH, TAG_COUNT_OFFSET));
    return {
      status: softClock > fillClock ? 'soft-cleared' : 'hit',
      payload: value.subarray(TAG_COUNT_OFFSET + 1),
      ticket: {
        generation: g.toString('latin1', 0, TOKEN_LENGTH),
        allGeneration: all.toString('latin1', 0, TOKEN_LENGTH),
        clock: all.toString('latin1', TOKEN_LENGTH).padStart(16, '0'),
      },
      lock: 'free',
      tags: NO_TAGS,
    };
  }

  private async lookupOnce(namespace: string, key: string, options: LookupEntryOptions): Promise<EntryLookup | undefined> {
    const keys = this.keys(namespace);
    const encoded = encodeKey(key);
    const entryKey = keys.entryPrefix + encoded;
    const fill = options.fill;
    const args = ['', fill ? '1' : '', fill?.lockToken ?? '', fill ? ms(fill.lockTtlMs) : 0, fill ? ms(fill.fillTtlMs) : 0, uniqueToken()];
    if (!this.cluster) {
      const script = this.client.ecaLookupOneNodeBuffer(
        keys.generation,
        entryKey,
        keys.lockPrefix + encoded,
        this.allKey,
        ...args,
        uniqueToken(),
      );
      // An expected miss sends the script alone (a miss is then 2 commands in 2 round trips); an expected hit
      // pipelines the entry's GET behind it, and an unexpected one reads the entry in a second round trip.
      const [[status, lock, g, all, clock, header, started], value] =
        options.expectTagged === true || options.expectPlain === true
          ? await Promise.all([script, this.client.getBuffer(entryKey)])
          : await script.then(async (reply) => [reply, reply[0] === 0 ? null : await this.client.getBuffer(entryKey)] as const);
      if (status !== 0 && !sameHeader(header!, value)) return undefined;
      const text = (reply: Reply): string | null => (reply === null ? null : reply.toString('latin1'));
      return found(status, lock, g, text(all), text(clock), status === 0 ? null : value, text(started));
    }
    const [[status, lock, g, header, startedReply], value, [all, clock]] = await Promise.all([
      this.client.ecaLookupSlotBuffer(keys.generation, entryKey, keys.lockPrefix + encoded, ...args),
      this.client.getBuffer(entryKey),
      this.client.ecaReadAll(this.allKey, fill ? '1' : '', uniqueToken(), fill ? ms(fill.fillTtlMs) : 0),
    ]);
    const started = startedReply === null ? null : startedReply.toString('latin1');
    let checked = status;
    if (checked !== 0) {
      const candidate = decodeEntryHeader(header!);
      if (candidate === null || !sameHeader(header!.subarray(0, candidate.length), value)) return undefined;
      // The slot's verdict (hit, or soft-cleared by a namespace soft clear) stands unless the records outside it say miss or soft.
      const outside = await this.checkOutsideSlot(value!, all);
      checked = outside === 0 ? 0 : Math.max(checked, outside);
    }
    if (checked !== 0 || status === 0) return found(checked, lock, g, all, clock, checked === 0 ? null : value, started);
    // A tag or the all-generation turned an in-slot candidate into a miss: the lock was not asked for in the slot call.
    let late = 0;
    if (fill?.lockToken !== undefined) {
      late = (await this.client.set(keys.lockPrefix + encoded, fill.lockToken, 'PX', ms(fill.lockTtlMs), 'NX')) === 'OK' ? 1 : 2;
    }
    return found(0, late, g, all, clock, null, started);
  }

  /** Cluster: checks an in-slot candidate against the global record and its tag records (one parallel round trip). */
  private async checkOutsideSlot(entry: Buffer, all: string | null): Promise<number> {
    const header = decodeEntryHeader(entry);
    if (header === null || all === null || header.allGeneration !== all) return 0;
    if (header.tags.length === 0) return 1;
    const records = await Promise.all(header.tags.map((tag) => this.client.hmget(`${this.tagPrefix}${tag.encoded}}`, 't', 's')));
    let status = 1;
    for (const [i, [token, soft]] of records.entries()) {
      if (token !== header.tags[i]!.token) return 0;
      if (Number(soft ?? 0) > header.clock) status = 2;
    }
    return status;
  }

  async writeEntry(namespace: string, key: string, ticket: FillTicket, payload: Buffer, options: WriteEntryOptions): Promise<WriteOutcome> {
    const entryTtl = ms(options.ttlMs);
    const write: EntryWrite = {
      keys: this.keys(namespace),
      encoded: encodeKey(key),
      ticket,
      payload,
      tags: uniqueEncodedTags(options.tags),
      entryTtl,
      recordTtl: entryTtl,
      maxAge: maxFillAgeMicros(options.fillTtlMs ?? DEFAULT_FILL_TTL_MS),
      started: ticket.started ?? '',
      release: options.releaseToken ?? '',
    };
    return this.cluster ? this.writeOnCluster(write) : this.writeOnOneNode(write);
  }

  /** One node: a single script checks the records, creates absent tag records and writes the entry. */
  private async writeOnOneNode(w: EntryWrite): Promise<WriteOutcome> {
    const { keys, encoded, tags } = w;
    const value = Buffer.concat([
      encodeEntryHeader(
        w.ticket,
        tags.map((tag) => ({ encoded: tag, token: TOKEN_PLACEHOLDER })),
      ),
      w.payload,
    ]);
    const newTokens = tags.map(() => uniqueToken()).join('');
    return outcome(
      await this.client.ecaWriteOneNode(
        keys.generation,
        keys.entryPrefix + encoded,
        keys.lockPrefix + encoded,
        this.allKey,
        this.tagPrefix,
        value,
        w.entryTtl,
        w.recordTtl,
        w.release,
        newTokens,
        w.started,
        w.maxAge,
      ),
    );
  }

  /** Cluster: the records outside the entry's slot first (all-generation, tags), then the entry in its slot. */
  private async writeOnCluster(w: EntryWrite): Promise<WriteOutcome> {
    const { keys, encoded, ticket, tags, recordTtl, release } = w;
    const writeSlot = (headerTags: HeaderTag[]): Promise<number> =>
      this.client.ecaWriteSlot(
        keys.generation,
        keys.entryPrefix + encoded,
        keys.lockPrefix + encoded,
        Buffer.concat([encodeEntryHeader(ticket, headerTags), w.payload]),
        w.entryTtl,
        recordTtl,
        release,
        w.started,
        headerTags.length === 0 ? '' : w.maxAge,
      );
    const touchAll = this.client.ecaTouchAll(this.allKey, ticket.allGeneration, recordTtl);
    // Without tags nothing outside the slot decides the write: the entry already names the all-generation it saw.
    if (tags.length === 0) return outcome((await Promise.all([writeSlot([]), touchAll]))[0]);
    // The tag records first (an absent one is created never cleared), then the entry, whose script checks the fill's
    // age: a record that had expired when it was read was cleared at least the fill TTL ago, and a fill older than
    // that is refused, so the order matters. A clear between the two steps gives the tag a new token the entry lacks.
    const fillClock = Number(ticket.clock);
    const ensure = (tag: string): ReturnType<ScriptedClient['ecaEnsureTag']> =>
      this.client.ecaEnsureTag(`${this.tagPrefix}${tag}}`, uniqueToken(), ticket.clock, recordTtl);
    const [[allCurrent], records] = await Promise.all([touchAll, Promise.all(tags.map(ensure))]);
    let refused: WriteOutcome | undefined = allCurrent === 1 ? undefined : 'generation-changed';
    if (refused === undefined && records.some(([, hard, soft]) => Number(hard ?? 0) > fillClock || Number(soft ?? 0) > fillClock))
      refused = 'cleared-since-fill';
    if (refused !== undefined) {
      if (release !== '') await this.client.expressCacheAsideRelease(keys.lockPrefix + encoded, release);
      return refused;
    }
    return outcome(await writeSlot(tags.map((tag, i) => ({ encoded: tag, token: records[i]![0]! }))));
  }

  async clearNamespaces(namespaces: readonly string[], options: ClearOptions = {}): Promise<void> {
    if (namespaces.length === 0) return;
    await this.clearRecords(
      options.soft ? 'ns-soft' : 'ns-hard',
      namespaces.map((namespace) => this.keys(namespace).generation),
      options,
    );
  }

  async clearTags(tags: readonly string[], options: ClearOptions = {}): Promise<void> {
    if (tags.length === 0) return;
    await this.clearRecords(
      options.soft ? 'tag-soft' : 'tag-hard',
      uniqueEncodedTags(tags).map((tag) => `${this.tagPrefix}${tag}}`),
      options,
    );
  }

  async clearAll(): Promise<void> {
    await this.client.ecaClearAll(this.allKey, uniqueToken());
  }

  private async clearRecords(
    mode: 'ns-hard' | 'ns-soft' | 'tag-hard' | 'tag-soft',
    recordKeys: string[],
    options: ClearOptions,
  ): Promise<void> {
    const fillTtl = ms(options.fillTtlMs ?? DEFAULT_FILL_TTL_MS);
    if (!this.cluster) {
      await this.client.ecaClearOneNode(
        1 + recordKeys.length,
        this.allKey,
        ...recordKeys,
        mode,
        uniqueToken(),
        CLEARED_RECORD_TTL_MS,
        fillTtl,
        ...recordKeys.map(() => uniqueToken()),
      );
      return;
    }
    // The clock first: a fill that read it before this clear began must see the records' clears as after it.
    const clock = mode === 'ns-hard' ? '' : await this.client.ecaBumpClock(this.allKey, '', uniqueToken(), CLEARED_RECORD_TTL_MS);
    await Promise.all(recordKeys.map((recordKey) => this.client.ecaClearRecord(recordKey, mode, uniqueToken(), clock, fillTtl)));
  }

  async close(): Promise<void> {
    // The client belongs to the user: never quit it, only stop listening to it.
    this.client.removeListener('ready', this.onReady);
    this.client.removeListener('refresh', this.onSlotsRefresh);
    this.reconnectCallbacks.length = 0;
  }
}

/** A TTL in whole milliseconds, at least 1. */
function ms(value: number): number {
  return Math.max(1, Math.ceil(value));
}

const LOCK_STATES: readonly FillLockState[] = ['free', 'taken', 'busy'];
const NO_TAGS: readonly string[] = Object.freeze([]);
const STATUSES = ['miss', 'hit', 'soft-cleared'] as const;

/** Whether the entry read is the one whose header the script validated. */
function sameHeader(header: Buffer, value: Buffer | null): boolean {
  return value !== null && value.length >= header.length && value.compare(header, 0, header.length, 0, header.length) === 0;
}

/** A lookup's answer from the scripts' replies. */
function found(
  status: number,
  lock: number,
  g: Buffer | null,
  all: string | null,
  clock: string | null,
  entry: Buffer | null,
  started: string | null,
): EntryLookup {
  const ticket: FillTicket | null =
    g !== null && all !== null && clock !== null
      ? {
          generation: g.toString('latin1', 0, 16),
          allGeneration: all,
          clock: clock.padStart(16, '0'),
          ...(started === null ? {} : { started }),
        }
      : null;
  let payload: Buffer | null = null;
  let tags = NO_TAGS;
  if (status !== 0 && entry !== null) {
    const header = decodeEntryHeader(entry);
    if (header === null) status = 0;
    else {
      payload = entry.subarray(header.length);
      if (header.tags.length > 0) tags = header.tags.map((tag) => tag.encoded);
    }
  }
  return { status: STATUSES[status] ?? 'miss', payload, ticket, lock: LOCK_STATES[lock] ?? 'free', tags };
}

function outcome(reply: number): WriteOutcome {
  return reply === 1 ? 'stored' : reply === 2 ? 'cleared-since-fill' : 'generation-changed';
}
