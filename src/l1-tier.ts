/**
 * The in-process tier: a small LRU (lru-cache) of the hottest entries in
 * front of Redis, so a hit costs no round trip. Coherence across instances
 * comes from Redis pub/sub: every clear is published, and each instance
 * drops the namespace's entries when the message arrives.
 *
 * Staleness is ruled out by sequence numbers rather than by timing: an entry
 * is tagged with the sequence number taken when its lookup *started*, and a
 * clear stamps its namespace with a newer one, so a lookup that raced a clear
 * can never plant an old entry. While the subscription is down no entry is
 * served from this tier (messages may be missed), and when it comes back the
 * whole tier is dropped.
 */
import { LRUCache } from 'lru-cache';
import type { Cluster, Redis } from 'ioredis';
import { encodePart } from './keys';
import type { Logger } from './types';

interface L1Entry {
  payload: Buffer;
  seq: number;
  expiresAt: number;
}

/** Settings of the tier. */
export interface L1Settings {
  max: number;
  /** Bound on the bytes of the payloads held; an entry larger than this is not kept. */
  maxBytes: number;
  ttlMs: number;
}

/** The in-process tier of one cache. */
export class L1Tier {
  private readonly entries: LRUCache<string, L1Entry>;
  private readonly clearedAt: LRUCache<string, number>;
  private seqCounter = 0;
  /** Entries older than this are invalid: raised when a clear record is evicted or the subscription was lost. */
  private floor = 0;
  private subscriber: Redis | Cluster | undefined;
  private healthy: boolean;
  readonly channel: string;

  constructor(private readonly settings: L1Settings, prefix: string, private readonly publisher: Redis | Cluster | undefined, private readonly logger: Logger) {
    // Bounded by count and by bytes: 1,000 entries of 1 MB bodies would otherwise hold a gigabyte.
    this.entries = new LRUCache<string, L1Entry>({
      max: settings.max,
      maxSize: settings.maxBytes,
      maxEntrySize: settings.maxBytes,
      sizeCalculation: (entry, key) => entry.payload.length + key.length,
    });
    this.clearedAt = new LRUCache<string, number>({
      max: 100_000,
      // Forgetting when a namespace was cleared must not make older entries valid again.
      dispose: (seq) => { this.floor = Math.max(this.floor, seq); },
    });
    this.channel = `${prefix}:invalidations`;
    this.healthy = publisher === undefined;
    if (publisher) this.subscribe(publisher);
  }

  private subscribe(publisher: Redis | Cluster): void {
    // Named, so an operator (or a test) can tell the tier's connection apart in CLIENT LIST.
    // Called through Redis's signature: under ioredis 6 the union of Redis's and Cluster's duplicate() is not callable.
    const subscriber = (publisher as Redis).duplicate({ connectionName: `express-cache-aside:l1:${this.channel}` }) as Redis | Cluster;
    this.subscriber = subscriber;
    subscriber.on('error', () => {});
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.dropEncoded(message.split('\n'), true);
    });
    subscriber.on('ready', () => {
      // After a gap, messages may have been missed: start over.
      this.floor = ++this.seqCounter;
      this.entries.clear();
      subscriber.subscribe(this.channel).then(() => { this.healthy = true; }, () => { this.healthy = false; });
    });
    const down = (): void => { this.healthy = false; };
    subscriber.on('close', down);
    subscriber.on('end', down);
    subscriber.on('reconnecting', down);
  }

  /** Entries and bytes held (for tests and stats). */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.entries.calculatedSize };
  }

  /** Whether the tier may be used now. */
  get usable(): boolean {
    return this.healthy;
  }

  /** A sequence number to tag a lookup with, taken before it starts. */
  seq(): number {
    return ++this.seqCounter;
  }

  /** A fresh entry from the tier, or undefined. */
  get(namespace: string, key: string, now: number): Buffer | undefined {
    if (!this.healthy) return undefined;
    const encoded = encodePart(namespace);
    const entry = this.entries.get(`${encoded}:${key}`);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now || entry.seq <= this.floor || entry.seq <= (this.clearedAt.get(encoded) ?? 0)) return undefined;
    return entry.payload;
  }

  /** Keeps an entry found fresh by a lookup that started at `seq`, until `freshUntil` or the tier's ttl. */
  set(namespace: string, key: string, payload: Buffer, seq: number, freshUntil: number, now: number): void {
    const encoded = encodePart(namespace);
    if (!this.healthy || seq <= this.floor || seq <= (this.clearedAt.get(encoded) ?? 0)) return;
    this.entries.set(`${encoded}:${key}`, { payload, seq, expiresAt: Math.min(freshUntil, now + this.settings.ttlMs) });
  }

  /** Drops namespaces locally, before their clear goes to the store. */
  drop(namespaces: readonly string[]): void {
    this.dropEncoded(namespaces.map(encodePart), false);
  }

  // Messages carry encoded namespaces (no newline can occur in one), so they are used as they come.
  private dropEncoded(encoded: readonly string[], fromMessage: boolean): void {
    const seq = ++this.seqCounter;
    for (const namespace of encoded) this.clearedAt.set(namespace, seq);
    if (fromMessage) this.logger.debug({ namespaces: encoded }, 'express-cache-aside: l1 dropped namespaces on a message');
  }

  /** Tells other instances to drop namespaces. */
  async publish(namespaces: readonly string[]): Promise<void> {
    if (this.publisher) await this.publisher.publish(this.channel, namespaces.map(encodePart).join('\n'));
  }

  /** Unsubscribes; the subscriber is ours (a duplicate), so it is closed. */
  async close(): Promise<void> {
    this.healthy = false;
    this.entries.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) {
      subscriber.removeAllListeners('ready');
      subscriber.disconnect();
    }
  }
}
