/**
 * The contract every store implements. A store sees namespaces, keys and
 * bytes only: it knows nothing of HTTP or of how values are serialized. It
 * owns generations: a clear replaces a namespace's generation with a new
 * random token, and an entry is visible only while the generation it was
 * written under is current.
 */
import { uniqueToken } from '../tokens';

/** Length in bytes of a generation token. */
export const GENERATION_LENGTH = 16;

/** A new generation token: never used before, so a lost or evicted generation never comes back with an old value. */
export function newGeneration(): Buffer {
  return Buffer.from(uniqueToken(), 'latin1');
}

/** What one lookup found. */
export interface StoreLookup {
  /** The namespace's current generation, or null when it has none (never written, cleared by eviction). */
  generation: Buffer | null;
  /** The entry's payload if it exists under the current generation. */
  payload: Buffer | null;
  /** Whether a fill lock is held for the entry (only when asked for). */
  locked: boolean;
}

/** What prepareFill found. */
export interface PreparedFill {
  /** The generation to write under. */
  generation: Buffer;
  /** Whether the fill lock was taken. */
  locked: boolean;
  /** An entry that landed since the lookup missed (then no lock was taken). */
  payload: Buffer | null;
}

/** Which lock: the fill of a missing entry, or the refresh of a stale one. */
export type LockKind = 'fill' | 'refresh';

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
  /** Reads the generation and the entry in one round trip, and the fill lock too when withLock. */
  lookup(namespace: string, key: string, withLock: boolean): Promise<StoreLookup>;
  /**
   * Gets a fill ready in one round trip: the namespace's generation (created
   * when there is none, so concurrent first fills agree on it); the entry if
   * one landed since the lookup missed; otherwise, when lockToken is given,
   * the fill lock. A fill writes under this generation.
   */
  prepareFill(namespace: string, key: string, lockToken: string | undefined, lockTtlMs: number): Promise<PreparedFill>;
  /**
   * Writes the entry if the namespace's generation is still `generation`.
   * Resolves false when a clear (or the loss of the generation) came in
   * between and nothing was written. When releaseToken is given, the fill
   * lock it holds is released in the same round trip, written or not.
   */
  write(namespace: string, key: string, generation: Buffer, payload: Buffer, ttlMs: number, releaseToken?: string): Promise<boolean>;
  /** Replaces each namespace's generation: every entry in it becomes unreachable at once. */
  clear(namespaces: readonly string[]): Promise<void>;
  /** Takes a lock if free. */
  acquireLock(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): Promise<boolean>;
  /** Releases a lock if this token still holds it. */
  releaseLock(namespace: string, key: string, kind: LockKind, token: string): Promise<void>;
  /** Holds a lock for ttlMs: extends it if this token holds it, takes it if free (a failed refresh holds it for the backoff). */
  holdLock(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): Promise<void>;
  /** Calls back each time the store's connection comes back after being lost (writes may have been lost with it). */
  onReconnect(callback: () => void): void;
  /** Releases what the store started itself (never a client it was given). */
  close(): Promise<void>;
}
