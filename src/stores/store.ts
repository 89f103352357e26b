/**
 * The contract every store implements. A store sees namespaces, keys, tags
 * and bytes only: it knows nothing of HTTP or of how values are serialized.
 * It owns generations: a clear replaces a generation with a new unique
 * token, and an entry is visible only while every generation it was written
 * under is current.
 *
 * The calls (lookupEntry, writeEntry, clearNamespaces, clearTags, clearAll)
 * carry tags, clear-all, soft clears and a miss in two round trips. The
 * design is written out in /work/notes/store-v2-design.md and summed up here:
 *
 * - Records. A namespace generation (token, and the clear clock of its last
 *   soft clear); one global record per prefix (the all-generation token and
 *   the clear clock); one record per tag (token, clock of its last hard
 *   clear, clock of its last soft clear). Tokens are unique and never reused;
 *   an absent record never validates an entry, so an evicted record can never
 *   bring old entries back.
 * - The clear clock only grows (Redis: max(clock + 1, TIME in µs)); every tag
 *   clear and every soft clear advances it. A fill reads it before the
 *   handler runs; its write is refused when a tag it carries (or its
 *   namespace, softly) was cleared after that. This closes the
 *   fill-before-clear race for tags, which are only known after the handler.
 * - A tag record may be absent when a fill writes: the tag was never cleared
 *   or written, or its record expired. A clear of a tag without a record
 *   creates one for the fill TTL only (nothing lasting), a clear of a tag
 *   with one keeps it at least that long, and a write with tags whose fill
 *   began longer ago than the fill TTL is refused. So an absent record means
 *   "not cleared while this fill ran" and the write creates it never
 *   cleared (c = 0), whatever other tags were cleared meanwhile. The limit:
 *   a record lost to eviction or a failover within the fill TTL of its
 *   clear lets a fill that began before that clear be stored
 *   (/work/notes/readme-tagfix.md).
 * - An entry carries a header: namespace token, all-generation token, fill
 *   clock, and per tag its encoded name and the token the write saw. A lookup
 *   accepts it when every token is still current, and reports it
 *   'soft-cleared' when a soft clear came after its fill clock.
 * - Nothing lasting is written for an answer that is not stored: a lookup
 *   that misses creates an absent namespace or global record with a short TTL
 *   (fillTtlMs), and only a write extends records to outlive its entry.
 *   Clears change only records that exist (an absent one already validates
 *   nothing), except the clock, which must advance, and a tag record a
 *   clear makes for the fill TTL (see above).
 */
/** Which lock: the fill of a missing entry, or the refresh of a stale one. */
export type LockKind = 'fill' | 'refresh';

/** What a fill writes under: the generations and the clear clock read before the handler ran. Opaque to the engine. */
export interface FillTicket {
  /** The namespace's generation token (16 latin1 characters). */
  readonly generation: string;
  /** The all-generation token (16 latin1 characters). */
  readonly allGeneration: string;
  /** The clear clock when the fill began: 16 decimal digits. */
  readonly clock: string;
  /**
   * When the fill began, in the store's own time (µs, 16 digits);
   * absent when the lookup could not tell (then the clock is used, which is earlier).
   */
  readonly started?: string;
}

/** What lookupEntry found: an entry valid under every generation, one a soft clear made stale, or none. */
export type EntryStatus = 'hit' | 'soft-cleared' | 'miss';

/** The fill lock as lookupEntry left it: taken by this call, held by another, or free (not asked to take it). */
export type FillLockState = 'taken' | 'busy' | 'free';

/** How lookupEntry prepares a fill on a miss. */
export interface PrepareFillOptions {
  /** Take the fill lock with this token when the entry is missing. */
  lockToken?: string;
  /** How long the lock lives. */
  lockTtlMs: number;
  /** How long a namespace or global record created by a miss lives unless a write extends it: the longest fill that can still be stored. */
  fillTtlMs: number;
}

/** Options of lookupEntry. */
export interface LookupEntryOptions {
  /** Prepare a fill on a miss (records created, lock taken); without it a lookup writes nothing. */
  fill?: PrepareFillOptions;
  /**
   * The caller expects a hit on an entry without tags: a store may try a cheaper read first (Redis: one MGET)
   * and run the full lookup only when that read cannot decide (one more round trip).
   */
  expectPlain?: boolean;
  /**
   * The caller expects an entry with tags: a store reads the entry beside the full lookup in one round trip.
   * With neither hint the caller expects a miss: the store leaves the entry's read out of the lookup and reads
   * it only when the lookup found one (one more round trip for that rare case).
   */
  expectTagged?: boolean;
}

/** What lookupEntry found. */
export interface EntryLookup {
  status: EntryStatus;
  /** The stored payload (hit, soft-cleared), without the store's header. */
  payload: Buffer | null;
  /** What a fill (or a refresh) writes under; null when the records are absent and no fill was prepared. */
  ticket: FillTicket | null;
  /** The fill lock: 'taken' by this call, 'busy' (held by another), or 'free'. */
  lock: FillLockState;
  /** The encoded tags of the entry found (hit, soft-cleared); empty otherwise. */
  tags: readonly string[];
}

/** Options of writeEntry. */
export interface WriteEntryOptions {
  /** Time to live of the entry. */
  ttlMs: number;
  /** Tags the entry carries (at most MAX_TAGS_PER_ENTRY); each clears it in O(1). */
  tags?: readonly string[];
  /** Release the fill lock this token holds, in the same round trip, written or not. */
  releaseToken?: string;
  /** The fill TTL: a write with tags whose fill began longer ago than this is refused (see the header). @default 5000 */
  fillTtlMs?: number;
}

/**
 * What writeEntry did: 'stored'; 'generation-changed' (the namespace or
 * all-generation was replaced or lost since the ticket); 'cleared-since-fill'
 * (a tag it carries, or its namespace softly, was cleared after the fill began).
 */
export type WriteOutcome = 'stored' | 'generation-changed' | 'cleared-since-fill';

/** Options of the clears. */
export interface ClearOptions {
  /** Mark entries stale instead of dropping them (tokens kept, soft-clear clock recorded). @default false */
  soft?: boolean;
  /** The fill TTL: a cleared tag's record lives at least this long (a record made for an unknown tag, exactly this long). @default 5000 */
  fillTtlMs?: number;
}

/**
 * The oldest a fill with tags may be when it writes, in µs: a little under the fill TTL, the least a tag record
 * lives after a clear (the margin covers expiry's millisecond rounding).
 */
export function maxFillAgeMicros(fillTtlMs: number): number {
  return Math.max(1, Math.round(fillTtlMs * 1000 - Math.min(10_000, fillTtlMs * 100)));
}

/** The most tags one entry may carry (the header counts them in one byte). */
export const MAX_TAGS_PER_ENTRY = 64;

/** A cache store. Every method may reject; callers bound them with a timeout. */
export interface Store {
  /** 'redis' or 'memory', for logs. */
  readonly kind: string;
  /** True for a store in process memory: its calls cannot hang, so they need no timeout. */
  readonly inProcess: boolean;
  /** False when the store is known to be unreachable, so callers skip it without queueing a command. */
  isReady(): boolean;
  /** Resolves true once the store can answer (false after timeoutMs): warmup waits for it at startup. */
  whenReady(timeoutMs: number): Promise<boolean>;
  /** Takes a lock if free. */
  acquireLock(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): Promise<boolean>;
  /** Releases a lock if this token still holds it. */
  releaseLock(namespace: string, key: string, kind: LockKind, token: string): Promise<void>;
  /** Holds a lock for ttlMs: extends it if this token holds it, takes it if free (a failed refresh holds it for the backoff). */
  holdLock(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): Promise<void>;
  /**
   * Looks an entry up, validating it against its namespace, the
   * all-generation and each of its tags; on a miss with options.fill, also
   * prepares the fill (records, clock, lock) in the same call.
   */
  lookupEntry(namespace: string, key: string, options?: LookupEntryOptions): Promise<EntryLookup>;
  /**
   * Writes an entry under a ticket from lookupEntry, with its tags,
   * unless a generation changed or a tag was cleared since the fill began;
   * releases the fill lock in the same round trip when asked.
   */
  writeEntry(namespace: string, key: string, ticket: FillTicket, payload: Buffer, options: WriteEntryOptions): Promise<WriteOutcome>;
  /** Clears namespaces (hard: new generation; soft: entries filled before now become soft-cleared). */
  clearNamespaces(namespaces: readonly string[], options?: ClearOptions): Promise<void>;
  /** Clears tags in O(1) each (hard: new token; soft: entries filled before now become soft-cleared). */
  clearTags(tags: readonly string[], options?: ClearOptions): Promise<void>;
  /** Makes everything under the prefix unreachable at once (a new all-generation). */
  clearAll(): Promise<void>;
  /** Calls back each time the store's connection comes back after being lost (writes may have been lost with it). */
  onReconnect(callback: () => void): void;
  /** Releases what the store started itself (never a client it was given). */
  close(): Promise<void>;
}
