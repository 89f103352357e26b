// The IPC messages between the orchestrator (bench/run.ts) and the processes it
// forks (servers and tasks): one place, so both sides agree on the shapes.

/** What a forked server reports about itself when asked. */
export interface ServerStats {
  /** How many times the origin handler ran (a cache hit does not run it). */
  handlerCalls: number;
  /** CPU time the server process has used so far (user + system), in microseconds. */
  cpuMicros: number;
  /** Whatever else the variant can tell, e.g. our cache.stats(). */
  extra?: Record<string, unknown>;
}

/** Parent to child. */
export type ParentMessage = { type: 'stats'; id: number } | { type: 'count-commands'; id: number; on: boolean } | { type: 'stop' };

/** Child to parent. */
export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'unavailable'; reason: string }
  | { type: 'reply'; id: number; data: unknown }
  | { type: 'result'; data: unknown }
  | { type: 'failed'; reason: string };

/** A one-line description of anything thrown, for reports. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Sends one message to the parent process and resolves once it is written. */
export function sendToParent(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}
