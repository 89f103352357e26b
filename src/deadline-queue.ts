/**
 * Timeouts for many calls that share one duration, with one timer: calls
 * with the same timeout expire in the order they started, so a FIFO queue
 * and a timer for its head replace a setTimeout/clearTimeout pair per store
 * call on the hit path.
 */

/** One call waiting for its answer or its deadline. */
export interface Waiter {
  deadline: number;
  settled: boolean;
  expire(): void;
}

/** Expires waiters of one timeout duration, in order. */
export class DeadlineQueue {
  private items: Waiter[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Starts the clock for a waiter; call `settled = true` on it when its answer comes first. */
  add(expire: () => void): Waiter {
    const waiter: Waiter = { deadline: Date.now() + this.timeoutMs, settled: false, expire };
    this.items.push(waiter);
    if (this.timer === undefined) this.schedule(this.timeoutMs);
    return waiter;
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
        waiter.settled = true;
        waiter.expire();
      }
      this.head++;
    }
    // Drop what has been walked past, now and then, so the array does not grow.
    if (this.head > 1024 && this.head * 2 > items.length) {
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
