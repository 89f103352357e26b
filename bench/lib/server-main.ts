// The child side of a forked benchmark server: builds the variant's app,
// listens on 127.0.0.1 on a free port, reports ready (or "not available")
// over IPC and answers the parent's stats and stop requests.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CommandCounter } from './command-counter';
import { originCalls } from './origin';
import { describeError, sendToParent as send, type ParentMessage, type ServerStats } from './protocol';

/** What a server variant is told by the parent. */
export interface ServerContext {
  /** Redis key prefix reserved for this variant in this run (unique per run). */
  prefix: string;
  redisUrl: string;
}

/** What a server variant hands back: its app and optional hooks. */
export interface ServerSetup {
  app: http.RequestListener;
  /** Library-specific counters to report next to the origin handler calls. */
  stats?: () => Record<string, unknown>;
  /** Counts the Redis commands the variant sends (verification pass only). */
  commandCounter?: CommandCounter;
  /** Releases clients and timers when the parent stops the server. */
  close?: () => Promise<void>;
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run servers through bench/run.ts`);
  return value;
}

/** Starts one variant; call it once at the bottom of a bench/servers/ file. */
export function runServer(build: (context: ServerContext) => ServerSetup | Promise<ServerSetup>): void {
  void main(build);
}

async function main(build: (context: ServerContext) => ServerSetup | Promise<ServerSetup>): Promise<void> {
  const context: ServerContext = {
    prefix: requireEnv('BENCH_PREFIX'),
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
  // The parent going away (Ctrl-C, crash) must not leave servers behind.
  process.on('disconnect', () => process.exit(0));

  let setup: ServerSetup;
  try {
    setup = await build(context);
  } catch (error) {
    await send({ type: 'unavailable', reason: describeError(error) });
    process.exit(0);
  }

  const server = http.createServer(setup.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  process.on('message', (raw: ParentMessage) => {
    void handle(raw).catch(async (error) => {
      await send({ type: 'failed', reason: describeError(error) });
    });
  });

  async function handle(message: ParentMessage): Promise<void> {
    if (message.type === 'stats') {
      const cpu = process.cpuUsage();
      const stats: ServerStats = { handlerCalls: originCalls(), cpuMicros: cpu.user + cpu.system, extra: setup.stats?.() };
      await send({ type: 'reply', id: message.id, data: stats });
    } else if (message.type === 'count-commands') {
      let count: number | null = null;
      if (setup.commandCounter) {
        if (message.on) setup.commandCounter.start();
        else count = setup.commandCounter.stop();
      }
      await send({ type: 'reply', id: message.id, data: count });
    } else if (message.type === 'stop') {
      server.closeAllConnections();
      server.close();
      await setup.close?.();
      process.exit(0);
    }
  }

  await send({ type: 'ready', port });
}
