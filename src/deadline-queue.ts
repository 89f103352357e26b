/**
 * Timeouts for many calls that share one duration, with one timer: calls
 * with the same timeout expire in the order they started, so a FIFO queue
 * and a timer for its head replace a setTimeout/clearTimeout pair per store
 * call on the hit path. A call that settles drops its expiry callback at
 * once: the callback reaches the call's promise and so its payload (a 1 MB
 * body, say), and a queue of settled calls must not keep those alive.
 */

/** One call waiting for its answer or its deadline. */
export class Waiter {
  private expireFn: (() => void) | undefined;

  constructor(
    readonly deadline: number,
    expire: () => void,
  ) {
    this.expireFn = expire;
  }

  /** True once answered or expired; setting it (the answer came first) releases the expiry callback. */
  get settled(): boolean {
    return this.expireFn === undefined;
  }

  set settled(value: boolean) {
    if (value) this.expireFn = undefined;
  }

  /** Runs the expiry callback once, if the call has not settled. */
  expire(): void {
    const fn = this.expireFn;
    this.expireFn = undefined;
    fn?.();
  }
}

/** Walked-past slots are dropped once there are this many and they are at least half the array. */
const COMPACT_AT = 1024;

/** Expires waiters of one timeout duration, in order. */
export class DeadlineQueue {
  private items: Waiter[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Starts the clock for a waiter; set `settled = true` on it when its answer comes first. */
  add(expire: () => void): Waiter {
    const waiter = new Waiter(Date.now() + this.timeoutMs, expire);
    this.items.push(waiter);
    if (this.timer === undefined) this.schedule(this.timeoutMs);
    return waiter;
  }

  /** Waiters held (settled ones included, until the timer walks past them): for tests. */
  get size(): number {
    return this.items.length - this.head;
  }

  private schedule(delayMs: number): void {
    // A call in flight keeps the process alive through its socket; the timer need not.
    this.timer = setTimeout(this.tick, Math.max(1, delayMs));
    this.timer.unref();
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    const now = Date.now();
    const items = this.items;
    while (this.head < items.length) {
      const waiter = items[this.head]!;
      if (!waiter.settled) {
        if (waiter.deadline > now) break;
        waiter.expire();
      }
      this.head++;
    }
    // Drop what has been walked past, now and then, so the array does not grow (settled waiters hold nothing).
    if (this.head === items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > COMPACT_AT && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
    const next = this.items[this.head];
    if (next !== undefined) this.schedule(next.deadline - now);
  };

  /** Stops the timer (the cache is closing). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
