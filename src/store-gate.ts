/**
 * The one gate every store call goes through: bounded by a timeout (one
 * timer per duration, deadline-queue.ts), skipped while the store is known
 * down, the circuit open or too many calls are still waiting, counted and
 * logged when it fails (one warning when trouble starts, not one per request).
 * A reconnect closes the breaker. A clear may wait a bounded time for a
 * reconnecting store (callOnceConnected): a clear that never reached the
 * store cannot be seen by other instances.
 */
import { performance } from 'node:perf_hooks';
import { CircuitBreaker } from './circuit-breaker';
import { DeadlineQueue } from './deadline-queue';
import type { Decisions } from './decisions';
import { CacheStoreError } from './errors';
import type { CacheSettings } from './options';
import type { Store } from './stores/store';

/** Store calls still waiting past this many are refused at once, so a hung store cannot queue commands without end. */
export const MAX_PENDING_STORE_CALLS = 2000;
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** Per call: its timeout, and the namespace and metrics label its failure is counted under. */
export interface CallOptions {
  timeoutMs?: number;
  namespace?: string;
  label?: string;
  /** Skip the breaker: the store just reconnected, and the breaker's failures were refusals while it was away. */
  skipBreaker?: boolean;
}

/** Bounded store calls of one cache. */
export class StoreGate {
  private readonly breaker: CircuitBreaker | undefined;
  private readonly deadlineQueues = new Map<number, DeadlineQueue>();
  private pendingCalls = 0;
  private lastFailureLog = 0;
  private failing = false;
  closed = false;

  constructor(
    private readonly settings: CacheSettings,
    private readonly store: Store,
    private readonly decisions: Decisions,
  ) {
    this.breaker = settings.breaker ? new CircuitBreaker(settings.breaker.failures, settings.breaker.cooldownMs) : undefined;
    // The failures that opened the breaker were (mostly) refusals while the connection was away; it is back, so the
    // store gets its chance at once. Otherwise clears fail for up to cooldownMs after a reconnect while other
    // instances already cache again, and they serve what those clears should have retired.
    store.onReconnect(() => this.breaker?.success());
  }

  /** Runs a store call bounded by a timeout, unless the store is down, the circuit open or the cache closed. */
  call<T>(
    operation: string,
    op: () => Promise<T>,
    { timeoutMs = this.settings.timeoutMs, namespace, label, skipBreaker }: CallOptions = {},
  ): Promise<T> {
    if (this.closed) return Promise.reject(new CacheStoreError('ECACHE_CLOSED', 'cache is closed'));
    if (this.store.inProcess) return this.callInProcess(operation, op);
    if (!this.store.isReady()) return this.refuse(new CacheStoreError('ECACHE_UNAVAILABLE', 'store is not connected'), namespace, label);
    if (this.breaker && !skipBreaker && !this.breaker.allow())
      return Promise.reject(new CacheStoreError('ECACHE_CIRCUIT_OPEN', 'circuit open after repeated store failures'));
    if (this.pendingCalls >= MAX_PENDING_STORE_CALLS) {
      return this.refuse(
        new CacheStoreError('ECACHE_UNAVAILABLE', `${MAX_PENDING_STORE_CALLS} store calls still waiting`),
        namespace,
        label,
      );
    }
    return this.bounded(operation, op, timeoutMs, namespace, label);
  }

  /** Process memory answers at once and never fails: no timer, no breaker (the latency histogram still sees it). */
  private callInProcess<T>(operation: string, op: () => Promise<T>): Promise<T> {
    const observer = this.decisions.observer;
    if (observer === undefined) return op();
    const started = performance.now();
    return op().then((result) => {
      observer.storeCall(operation, (performance.now() - started) / 1000, true);
      return result;
    });
  }

  /** Runs a call against the deadline queue: the first of its answer and its timeout settles it. */
  private bounded<T>(
    operation: string,
    op: () => Promise<T>,
    timeoutMs: number,
    namespace: string | undefined,
    label: string | undefined,
  ): Promise<T> {
    const observer = this.decisions.observer;
    const started = observer ? performance.now() : 0;
    this.pendingCalls++;
    return new Promise<T>((resolve, reject) => {
      const fail = (err: CacheStoreError): void => {
        observer?.storeCall(operation, (performance.now() - started) / 1000, false);
        this.failed(err, namespace, label);
        reject(err);
      };
      const waiter = this.deadlines(timeoutMs).add(() =>
        fail(new CacheStoreError('ECACHE_TIMEOUT', `store did not answer within ${timeoutMs} ms`)),
      );
      let answer: Promise<T>;
      try {
        answer = op();
      } catch (err) {
        answer = Promise.reject(err);
      }
      // Counted until the store itself answers, not until the timeout: that is what queues up in the client.
      answer.then(
        (result) => {
          this.pendingCalls--;
          if (waiter.settled) return;
          waiter.settled = true;
          this.succeeded();
          observer?.storeCall(operation, (performance.now() - started) / 1000, true);
          resolve(result);
        },
        (err: unknown) => {
          this.pendingCalls--;
          if (waiter.settled) return;
          waiter.settled = true;
          fail(
            err instanceof CacheStoreError
              ? err
              : new CacheStoreError('ECACHE_STORE', String((err as Error)?.message ?? err), { cause: err }),
          );
        },
      );
    });
  }

  /**
   * A call that, when it fails while the store is not connected (its client
   * is reconnecting), waits up to waitMs from that failure for the store to
   * come back and makes the call again, each attempt bounded by timeoutMs.
   * So it settles within timeoutMs + waitMs + timeoutMs. A store that is
   * connected but slow or failing is not waited for: that failure is final.
   */
  async callOnceConnected<T>(operation: string, op: () => Promise<T>, waitMs: number): Promise<T> {
    try {
      return await this.call(operation, op);
    } catch (first) {
      let failure = first;
      const deadline = performance.now() + waitMs;
      while (!this.closed && !this.store.inProcess && !this.store.isReady()) {
        const remaining = deadline - performance.now();
        if (remaining <= 0 || !(await this.store.whenReady(remaining))) break;
        try {
          // The refusals while the store was away may have opened the breaker; the reconnect is the evidence it lacks.
          return await this.call(operation, op, { skipBreaker: true });
        } catch (err) {
          failure = err;
        }
      }
      throw failure;
    }
  }

  private refuse<T>(err: CacheStoreError, namespace: string | undefined, label: string | undefined): Promise<T> {
    this.failed(err, namespace, label);
    return Promise.reject(err);
  }

  private deadlines(timeoutMs: number): DeadlineQueue {
    let queue = this.deadlineQueues.get(timeoutMs);
    if (queue === undefined) {
      queue = new DeadlineQueue(timeoutMs);
      this.deadlineQueues.set(timeoutMs, queue);
    }
    return queue;
  }

  private succeeded(): void {
    this.breaker?.success();
    if (this.failing) {
      this.failing = false;
      this.settings.logger.warn({ store: this.store.kind }, 'express-cache-aside: store answers again, caching resumed');
    }
  }

  private failed(err: CacheStoreError, namespace: string | undefined, label: string | undefined): void {
    this.decisions.error(namespace, label);
    const opened = this.breaker?.failure() ?? false;
    const now = Date.now();
    // One warning when trouble starts (and at most one per interval after), not one per request.
    if (!this.failing || opened || now - this.lastFailureLog > FAILURE_LOG_INTERVAL_MS) {
      this.failing = true;
      this.lastFailureLog = now;
      const circuitOpen = this.breaker?.isOpen() ?? false;
      this.settings.logger.warn(
        { store: this.store.kind, code: err.code, err: err.message, circuitOpen },
        'express-cache-aside: store failed, serving uncached',
      );
    } else {
      this.settings.logger.debug({ store: this.store.kind, code: err.code, err: err.message }, 'express-cache-aside: store failed');
    }
  }

  /**
   * Refuses new calls. The deadline timers keep running for the calls still
   * in flight, so each stays bounded by its timeout after close (the timers
   * are unref'd and stop once their queue is empty).
   */
  close(): void {
    this.closed = true;
  }
}
