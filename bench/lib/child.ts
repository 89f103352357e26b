// The parent side of the forked processes: starts a bench/servers/ or
// bench/tasks/ file under tsx, waits for it to say it is ready (or not
// available), and asks it for stats over IPC.

import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ChildMessage, ParentMessage, ServerStats } from './protocol';

/** The repository root: children run there so tsx finds tsconfig.json (and its paths alias). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

const START_TIMEOUT_MS = 60_000;

/** A forked server that reported ready. */
export interface ServerHandle {
  name: string;
  port: number;
  stats(): Promise<ServerStats>;
  /** Turns the variant's Redis command counter on, or off returning the count (null: cannot count). */
  countCommands(on: boolean): Promise<number | null>;
  stop(): Promise<void>;
}

/** Why a server or task did not run: the library lacks the feature, or the process failed. */
export class NotAvailable extends Error {
  constructor(
    readonly variant: string,
    readonly reason: string,
  ) {
    super(`${variant}: ${reason}`);
  }
}

/** The last error line a child printed, to say why it died (e.g. a module that failed to load). */
const lastErrorLine = new WeakMap<ChildProcess, string>();

function forkTs(file: string, env: Record<string, string>): ChildProcess {
  const child = fork(path.join(REPO_ROOT, file), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', '--no-deprecation'],
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    const errors = chunk.toString('utf8').match(/^\w*Error\b.*$/gm);
    if (errors) lastErrorLine.set(child, errors[errors.length - 1] as string);
  });
  return child;
}

/** Waits for the first message satisfying `accept`, failing if the child exits first. */
function nextMessage<T>(
  child: ChildProcess,
  accept: (message: ChildMessage) => T | undefined,
  what: string,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: ChildMessage) => {
      try {
        const value = accept(message);
        if (value !== undefined) finish(undefined, value);
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      const cause = lastErrorLine.get(child);
      finish(new Error(`${what}: process exited (code ${code}, signal ${signal})${cause ? `: ${cause}` : ''}`));
    };
    function finish(error: Error | undefined, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('close', onExit);
      if (error) reject(error);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.on('close', onExit);
  });
}

/**
 * Forks `bench/servers/<variant>.ts` with its Redis prefix and extra env,
 * and resolves once it listens. Rejects with NotAvailable when the
 * variant reports it cannot run, or when it dies while starting.
 */
export async function startServer(variant: string, prefix: string, env: Record<string, string> = {}): Promise<ServerHandle> {
  const child = forkTs(`bench/servers/${variant}.ts`, { BENCH_PREFIX: prefix, ...env });
  let port: number;
  try {
    port = await nextMessage(
      child,
      (message) => {
        if (message.type === 'ready') return message.port;
        if (message.type === 'unavailable') throw new NotAvailable(variant, message.reason);
        return undefined;
      },
      `server ${variant}`,
      START_TIMEOUT_MS,
    );
  } catch (error) {
    child.kill();
    if (error instanceof NotAvailable) throw error;
    throw new NotAvailable(variant, error instanceof Error ? error.message : String(error));
  }

  let nextId = 1;
  async function ask<T>(message: ParentMessage & { id: number }): Promise<T> {
    const reply = nextMessage(
      child,
      (m) => {
        if (m.type === 'failed') throw new NotAvailable(variant, m.reason);
        return m.type === 'reply' && m.id === message.id ? m : undefined;
      },
      `server ${variant}`,
      10_000,
    );
    child.send(message);
    return (await reply).data as T;
  }

  return {
    name: variant,
    port,
    stats: () => ask<ServerStats>({ type: 'stats', id: nextId++ }),
    countCommands: (on) => ask<number | null>({ type: 'count-commands', id: nextId++, on }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' } satisfies ParentMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Forks `bench/tasks/<task>.ts`, which does its work and sends one
 * `result` (or `failed`/`unavailable`) message, and returns that result.
 */
export async function runTask<T>(task: string, env: Record<string, string>, timeoutMs: number): Promise<T> {
  const child = forkTs(`bench/tasks/${task}.ts`, env);
  try {
    return await nextMessage(
      child,
      (message) => {
        if (message.type === 'result') return message.data as T;
        if (message.type === 'failed' || message.type === 'unavailable') throw new NotAvailable(task, message.reason);
        return undefined;
      },
      `task ${task}`,
      timeoutMs,
    );
  } finally {
    if (child.exitCode === null) child.kill();
  }
}
