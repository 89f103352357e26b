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
 *
 * Delivery takes time, so by default another instance may serve its copy for
 * the moment between a clear's response and the message's arrival. With
 * `consistency: 'acknowledged'` the clearing instance tags its message with a
 * reply channel, every subscriber answers once it has dropped the namespaces,
 * and the publish waits for as many answers as PUBLISH counted receivers,
 * bounded by `ackTimeoutMs`.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Cluster, Redis } from 'ioredis';
import type { ClearTargets } from './clears';
import { encodePart, encodeTag } from './keys';
import type { Logger } from './types';

interface L1Entry {
  payload: Buffer;
  seq: number;
  expiresAt: number;
  /** Encoded tags the entry carries. */
  tags: readonly string[];
}

// Message lines: an encoded namespace (never holds ':' or starts with '!'), 't:' and an encoded tag, or '*' (everything).
const TAG_LINE = 't:';
const ALL_LINE = '*';

/** Settings of the tier. */
export interface L1Settings {
  max: number;
  /** Bound on the bytes of the payloads held; an entry larger than this is not kept. */
  maxBytes: number;
  ttlMs: number;
  /** 'acknowledged': a publish waits for every subscriber to confirm the drop. @default 'delivered' */
  consistency?: 'delivered' | 'acknowledged';
  /** Longest a publish waits for the confirmations. */
  ackTimeoutMs?: number;
}

/** A publish waiting for confirmations: `expected` is unknown (Infinity) until PUBLISH answers. */
interface AckWait {
  received: number;
  expected: number;
  done: () => void;
}

// A request for confirmation is the message's first line: '!' never starts an encoded namespace.
const ACK_MARK = '!';

/** The in-process tier of one cache. */
export class L1Tier {
  private readonly entries: LRUCache<string, L1Entry>;
  private readonly clearedAt: LRUCache<string, number>;
  /** Per encoded tag, the sequence of its last clear. */
  private readonly tagClearedAt: LRUCache<string, number>;
  private seqCounter = 0;
  /** Entries older than this are invalid: raised when a clear record is evicted or the subscription was lost. */
  private floor = 0;
  private subscriber: Redis | Cluster | undefined;
  private healthy: boolean;
  readonly channel: string;
  /** Where other instances confirm this one's drops. */
  private readonly ackChannel: string;
  private readonly instanceId = randomBytes(9).toString('base64url');
  private readonly ackWaits = new Map<string, AckWait>();
  private ackCounter = 0;
  /** Publishes whose confirmations did not all come within ackTimeoutMs. */
  ackTimeouts = 0;

  constructor(
    private readonly settings: L1Settings,
    prefix: string,
    private readonly publisher: Redis | Cluster | undefined,
    private readonly logger: Logger,
  ) {
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
      dispose: (seq) => {
        this.floor = Math.max(this.floor, seq);
      },
    });
    this.tagClearedAt = new LRUCache<string, number>({
      max: 100_000,
      dispose: (seq) => {
        this.floor = Math.max(this.floor, seq);
      },
    });
    this.channel = `${prefix}:invalidations`;
    this.ackChannel = `${this.channel}:ack:${this.instanceId}`;
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
      if (channel === this.channel) this.onClearMessage(message);
      else if (channel === this.ackChannel) this.onAck(message);
    });
    subscriber.on('ready', () => {
      // After a gap, messages may have been missed: start over.
      this.floor = ++this.seqCounter;
      this.entries.clear();
      subscriber.subscribe(this.channel, this.ackChannel).then(
        () => {
          this.healthy = true;
        },
        () => {
          this.healthy = false;
        },
      );
    });
    const down = (): void => {
      this.healthy = false;
    };
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
    for (const tag of entry.tags) if (entry.seq <= (this.tagClearedAt.get(tag) ?? 0)) return undefined;
    return entry.payload;
  }

  /** Keeps an entry found fresh by a lookup that started at `seq`, with its encoded tags, until `freshUntil` or the tier's ttl. */
  set(namespace: string, key: string, payload: Buffer, seq: number, freshUntil: number, now: number, tags: readonly string[] = []): void {
    const encoded = encodePart(namespace);
    if (!this.healthy || seq <= this.floor || seq <= (this.clearedAt.get(encoded) ?? 0)) return;
    for (const tag of tags) if (seq <= (this.tagClearedAt.get(tag) ?? 0)) return;
    this.entries.set(`${encoded}:${key}`, { payload, seq, expiresAt: Math.min(freshUntil, now + this.settings.ttlMs), tags });
  }

  /** Drops namespaces, tags or everything locally, before their clear goes to the store. */
  drop(targets: ClearTargets): void {
    this.dropLines(toLines(targets), false);
  }

  // Messages carry encoded names (no newline can occur in one), so they are used as they come.
  private dropLines(lines: readonly string[], fromMessage: boolean): void {
    const seq = ++this.seqCounter;
    for (const line of lines) {
      if (line === ALL_LINE) this.floor = seq;
      else if (line.startsWith(TAG_LINE)) this.tagClearedAt.set(line.slice(TAG_LINE.length), seq);
      else this.clearedAt.set(line, seq);
    }
    if (fromMessage) this.logger.debug({ cleared: lines.length }, 'express-cache-aside: l1 dropped entries on a message');
  }

  // Any instance confirms a drop when asked, whatever its own mode, so instances can switch mode one at a time.
  private onClearMessage(message: string): void {
    const lines = message.split('\n');
    const request = lines[0]?.startsWith(ACK_MARK) ? lines[0].slice(ACK_MARK.length) : undefined;
    if (request !== undefined) lines.shift();
    this.dropLines(lines, true);
    if (request === undefined || !this.publisher) return;
    const space = request.indexOf(' ');
    if (space <= 0) return;
    this.publisher.publish(`${this.channel}:ack:${request.slice(0, space)}`, request.slice(space + 1)).catch(() => {});
  }

  private onAck(id: string): void {
    const wait = this.ackWaits.get(id);
    if (wait === undefined) return;
    wait.received++;
    if (wait.received >= wait.expected) wait.done();
  }

  /**
   * Tells other instances to drop namespaces, tags or everything;
   * in 'acknowledged' mode, resolves once they all confirmed (or ackTimeoutMs passed).
   */
  async publish(targets: ClearTargets): Promise<void> {
    const publisher = this.publisher;
    if (!publisher) return;
    const lines = toLines(targets);
    if (lines.length === 0) return;
    const body = lines.join('\n');
    // Without our own subscription no confirmation could reach us: publish as in 'delivered' mode.
    if (this.settings.consistency !== 'acknowledged' || !this.healthy) {
      await publisher.publish(this.channel, body);
      return;
    }
    const id = String(++this.ackCounter);
    let timer: NodeJS.Timeout | undefined;
    const wait: AckWait = { received: 0, expected: Infinity, done: () => {} };
    // Registered before PUBLISH: a confirmation may be read before PUBLISH's own reply.
    const confirmed = new Promise<boolean>((resolve) => {
      wait.done = () => resolve(true);
      this.ackWaits.set(id, wait);
    });
    try {
      wait.expected = await publisher.publish(this.channel, `${ACK_MARK}${this.instanceId} ${id}\n${body}`);
      if (wait.received >= wait.expected) return;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.settings.ackTimeoutMs ?? 50);
      });
      if (!(await Promise.race([confirmed, timedOut]))) {
        this.ackTimeouts++;
        this.logger.warn(
          { cleared: lines.length, confirmed: wait.received, receivers: wait.expected, waitedMs: this.settings.ackTimeoutMs },
          'express-cache-aside: l1 drop not confirmed by every instance in time; those may serve their copy until the message arrives',
        );
      }
    } finally {
      clearTimeout(timer);
      this.ackWaits.delete(id);
    }
  }

  /** Unsubscribes; the subscriber is ours (a duplicate), so it is closed. */
  async close(): Promise<void> {
    this.healthy = false;
    this.entries.clear();
    for (const wait of this.ackWaits.values()) wait.done();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) {
      subscriber.removeAllListeners('ready');
      subscriber.disconnect();
    }
  }
}

/** The message lines of a clear. */
function toLines({ namespaces, tags, all }: ClearTargets): string[] {
  const lines = namespaces.map(encodePart);
  for (const tag of tags) lines.push(TAG_LINE + encodeTag(tag));
  if (all) lines.push(ALL_LINE);
  return lines;
}
