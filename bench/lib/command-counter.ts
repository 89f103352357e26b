// Counts the Redis commands a server sends while the parent makes a short
// verification pass, to show how many round trips one hit costs (and whether an
// in-process tier really skips Redis). Installed only for that pass.

/** Starts and stops counting commands on one client. */
export interface CommandCounter {
  start(): void;
  /** Stops counting and returns how many commands were sent since start(). */
  stop(): number;
}

/**
 * Wraps `client[method]` (ioredis: `sendCommand`; node-redis v2/v3:
 * `internal_send_command`) with a counter while counting, and removes the
 * wrapper afterwards so the measured rounds run the library's own code.
 */
export function countCommands(client: object, method: string): CommandCounter {
  const target = client as Record<string, unknown>;
  let count = 0;
  let restore: (() => void) | undefined;
  return {
    start() {
      count = 0;
      const hadOwn = Object.hasOwn(target, method);
      const original = target[method];
      if (typeof original !== 'function') throw new Error(`client has no ${method}() to count`);
      target[method] = function counted(this: unknown, ...args: unknown[]) {
        count += 1;
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      };
      restore = () => {
        if (hadOwn) target[method] = original;
        else delete target[method]; // back to the prototype's method
      };
    },
    stop() {
      restore?.();
      restore = undefined;
      return count;
    },
  };
}

/** Adds the counts of several counters (a variant may use more than one client). */
export function combineCounters(counters: CommandCounter[]): CommandCounter {
  return {
    start: () => {
      for (const counter of counters) counter.start();
    },
    stop: () => counters.reduce((sum, counter) => sum + counter.stop(), 0),
  };
}
