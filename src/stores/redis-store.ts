/**
 * The Redis store, over an ioredis `Redis` or `Cluster` client the user
 * gives. Every key of a namespace carries the namespace as its Cluster hash
 * tag, so a lookup is one MGET and a write one Lua script in one slot.
 * Never KEYS, never SCAN: a clear is one SET of a new generation.
 */
import type { Cluster, Redis } from 'ioredis';
import { encodeKey, namespaceKeys, type NamespaceKeys } from '../keys';
import { LRUCache } from 'lru-cache';
import { GENERATION_LENGTH, newGeneration, type LockKind, type PreparedFill, type Store, type StoreLookup } from './store';

/** A generation outlives every entry written under it; after a clear it is kept this long even with no writes. */
export const GENERATION_TTL_MS = 24 * 60 * 60 * 1000;

// Before a fill: the generation (created if missing, so concurrent first
// fills agree on one); the entry, if another process's fill landed since the
// lookup missed (then no lock is taken); otherwise, if ARGV[3] is not empty,
// the fill lock.
const PREPARE_SCRIPT = `
local g = redis.call('GET', KEYS[1])
if not g then
  g = ARGV[1]
  redis.call('SET', KEYS[1], g, 'PX', ARGV[2])
else
  local e = redis.call('GET', KEYS[3])
  if e and string.sub(e, 1, string.len(g)) == g then return {g, 0, e} end
end
local locked = 0
if ARGV[3] ~= '' and redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4], 'NX') then locked = 1 end
return {g, locked}
`;

// Writes the entry only if the generation is still the one the fill saw
// (ARGV[1]); the entry value already starts with it. The generation key is
// kept at least as long as the entry. The fill lock KEYS[3] is released if
// ARGV[5] still holds it, in the same round trip.
const WRITE_SCRIPT = `
if ARGV[5] ~= '' and redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
`;

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

interface ScriptedClient {
  expressCacheAsidePrepareBuffer(generationKey: string, lockKey: string, entryKey: string, created: Buffer, generationTtlMs: number, token: string, lockTtlMs: number): Promise<[Buffer, number, Buffer?]>;
  expressCacheAsideWrite(generationKey: string, entryKey: string, lockKey: string, seen: Buffer, value: Buffer, ttlMs: number, generationTtlMs: number, releaseToken: string): Promise<number>;
  expressCacheAsideRelease(lockKey: string, token: string): Promise<number>;
  expressCacheAsideHold(lockKey: string, token: string, ttlMs: number): Promise<number>;
}

function defineScripts(client: Redis | Cluster): Redis & ScriptedClient {
  const c = client as unknown as Redis & Partial<ScriptedClient>;
  // Several caches may share one client; the scripts are the same, define them once.
  if (typeof c.expressCacheAsidePrepareBuffer !== 'function') c.defineCommand('expressCacheAsidePrepare', { numberOfKeys: 3, lua: PREPARE_SCRIPT });
  if (typeof c.expressCacheAsideWrite !== 'function') c.defineCommand('expressCacheAsideWrite', { numberOfKeys: 3, lua: WRITE_SCRIPT });
  if (typeof c.expressCacheAsideRelease !== 'function') c.defineCommand('expressCacheAsideRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  if (typeof c.expressCacheAsideHold !== 'function') c.defineCommand('expressCacheAsideHold', { numberOfKeys: 1, lua: HOLD_SCRIPT });
  return c as Redis & ScriptedClient;
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

  constructor(client: Redis | Cluster, private readonly prefix: string) {
    this.client = defineScripts(client);
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

  async lookup(namespace: string, key: string, withLock: boolean): Promise<StoreLookup> {
    const keys = this.keys(namespace);
    const encoded = encodeKey(key);
    const replies = withLock
      ? await this.client.mgetBuffer(keys.generation, keys.entryPrefix + encoded, keys.lockPrefix + encoded)
      : await this.client.mgetBuffer(keys.generation, keys.entryPrefix + encoded);
    const generation = replies[0] ?? null;
    const value = replies[1] ?? null;
    let payload: Buffer | null = null;
    if (generation && value && value.length > GENERATION_LENGTH && value.compare(generation, 0, GENERATION_LENGTH, 0, GENERATION_LENGTH) === 0) {
      payload = value.subarray(GENERATION_LENGTH);
    }
    return { generation, payload, locked: withLock && replies[2] != null };
  }

  async prepareFill(namespace: string, key: string, lockToken: string | undefined, lockTtlMs: number): Promise<PreparedFill> {
    const keys = this.keys(namespace);
    const encoded = encodeKey(key);
    const [generation, locked, entry] = await this.client.expressCacheAsidePrepareBuffer(
      keys.generation, keys.lockPrefix + encoded, keys.entryPrefix + encoded, newGeneration(), GENERATION_TTL_MS, lockToken ?? '', Math.max(1, Math.ceil(lockTtlMs)),
    );
    const payload = entry && entry.length > GENERATION_LENGTH ? entry.subarray(GENERATION_LENGTH) : null;
    return { generation, locked: Number(locked) === 1, payload };
  }

  async write(namespace: string, key: string, generation: Buffer, payload: Buffer, ttlMs: number, releaseToken?: string): Promise<boolean> {
    const keys = this.keys(namespace);
    const encoded = encodeKey(key);
    const value = Buffer.concat([generation, payload]);
    const entryTtl = Math.max(1, Math.ceil(ttlMs));
    const written = await this.client.expressCacheAsideWrite(
      keys.generation, keys.entryPrefix + encoded, keys.lockPrefix + encoded, generation, value, entryTtl, Math.max(entryTtl, GENERATION_TTL_MS), releaseToken ?? '',
    );
    return written === 1;
  }

  async clear(namespaces: readonly string[]): Promise<void> {
    // One SET per namespace: namespaces live in different slots, so no MSET across them on a Cluster.
    await Promise.all(namespaces.map((namespace) => this.client.set(this.keys(namespace).generation, newGeneration(), 'PX', GENERATION_TTL_MS)));
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

  async close(): Promise<void> {
    // The client belongs to the user: never quit it, only stop listening to it.
    this.client.removeListener('ready', this.onReady);
    this.client.removeListener('refresh', this.onSlotsRefresh);
    this.reconnectCallbacks.length = 0;
  }
}
