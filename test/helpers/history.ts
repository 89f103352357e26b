/**
 * A Jepsen-style history of a run against several instances, and its check.
 * Every operation is recorded with the time it was invoked and the time its
 * answer completed (one monotonic clock, the test process's). Each hot item
 * is a register written by one writer at a time with increasing versions, so
 * "read-your-writes across instances" becomes a check a machine can do: a
 * read invoked after write n of an item was acknowledged must observe a
 * version >= n of that item, whichever instance answered it.
 */

/** An acknowledged (2xx) or failed write of version `version` of `item`. */
export interface WriteOp {
  kind: 'write';
  item: number;
  version: number;
  instance: number;
  invokedAt: number;
  completedAt: number;
  ok: boolean;
}

/** A read and the versions of the hot items it observed (an item absent from the answer is not in the map). */
export interface ReadOp {
  kind: 'read';
  path: string;
  instance: number;
  invokedAt: number;
  completedAt: number;
  status: number;
  cache: string;
  observed: Map<number, number>;
}

/** One operation of the history. */
export type Op = WriteOp | ReadOp;

/** A read that returned an item older than a write acknowledged before the read began. */
export interface Violation {
  read: ReadOp;
  item: number;
  observed: number;
  /** The newest version acknowledged before the read was invoked. */
  required: number;
  /** How long before the read's invocation that version was acknowledged, in ms. */
  ackedMsBefore: number;
}

/** What the check found, and counts worth reporting. */
export interface CheckResult {
  violations: Violation[];
  reads: number;
  writes: number;
  /** Reads that observed a version nobody had started writing yet (must stay 0). */
  phantom: ReadOp[];
  /** Reads per X-Cache value. */
  byCache: Record<string, number>;
}

/**
 * Checks a history: no read invoked after an acknowledged write of an item
 * observes an older version of that item. Writes of one item must come from
 * one sequential writer (versions acknowledged in increasing order).
 */
export function checkReadYourWrites(history: readonly Op[]): CheckResult {
  const acks = new Map<number, Array<{ at: number; version: number }>>();
  const maxInvoked = new Map<number, number>();
  for (const op of history) {
    if (op.kind !== 'write') continue;
    maxInvoked.set(op.item, Math.max(maxInvoked.get(op.item) ?? 0, op.version));
    if (!op.ok) continue;
    const list = acks.get(op.item) ?? [];
    list.push({ at: op.completedAt, version: op.version });
    acks.set(op.item, list);
  }
  for (const list of acks.values()) list.sort((a, b) => a.at - b.at);

  const violations: Violation[] = [];
  const phantom: ReadOp[] = [];
  const byCache: Record<string, number> = {};
  let reads = 0;
  let writes = 0;
  for (const op of history) {
    if (op.kind === 'write') {
      writes += 1;
      continue;
    }
    reads += 1;
    byCache[op.cache] = (byCache[op.cache] ?? 0) + 1;
    for (const [item, observed] of op.observed) {
      if (observed > (maxInvoked.get(item) ?? 0)) phantom.push(op);
      const newest = newestAckedBefore(acks.get(item) ?? [], op.invokedAt);
      if (newest !== undefined && observed < newest.version) {
        violations.push({ read: op, item, observed, required: newest.version, ackedMsBefore: op.invokedAt - newest.at });
      }
    }
  }
  return { violations, reads, writes, phantom, byCache };
}

/** The newest acknowledgement strictly before `at` (acks sorted by time; versions rise with time). */
function newestAckedBefore(acks: ReadonlyArray<{ at: number; version: number }>, at: number): { at: number; version: number } | undefined {
  let low = 0;
  let high = acks.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (acks[mid]!.at < at) low = mid + 1;
    else high = mid;
  }
  return low === 0 ? undefined : acks[low - 1];
}

/** A few violations as readable lines, for an assertion message. */
export function describeViolations(violations: readonly Violation[], limit = 5): string {
  return violations
    .slice(0, limit)
    .map(
      (v) =>
        `GET ${v.read.path} on instance ${v.read.instance} (X-Cache: ${v.read.cache}) saw item ${v.item} at v${v.observed}, ` +
        `but v${v.required} was acknowledged ${v.ackedMsBefore.toFixed(1)} ms before the read began`,
    )
    .join('\n');
}
