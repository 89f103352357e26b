/**
 * Real `redis-server` processes owned by a test: started on free 127.0.0.1
 * ports, without persistence, in their own temp dir, and open to faults
 * (SIGSTOP/SIGCONT, SIGKILL, restart on the same port). Faults must only ever
 * go to these processes, never to the shared Redis. Every child is SIGKILLed
 * when the test process exits, even if a test forgot to call stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import net from 'node:net';
import Redis, { type RedisOptions } from 'ioredis';
import { freePort } from './ports';
import { makeTmpDir, removeTmpDir } from './tmp-dir';

/** Path of the redis-server binary; REDIS_SERVER_BIN overrides it. */
export const redisServerBin: string = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** A redis-server process a test started itself and may fault at will. */
export interface RedisProcess {
  port: number;
  url: string;
  /** The current process id (the last one's after kill()). */
  pid: number;
  /** SIGSTOP: the server stops answering but keeps connections open. */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Start again on the same port, empty (no persistence); resolves when it answers PING. */
  restart(): Promise<void>;
  /** New ioredis client to this server (tracked; disconnected by stop()); caller options override the fault-test defaults. */
  client(options?: RedisOptions): Redis;
  /** Kill (resuming first if paused), disconnect tracked clients, remove temp dir. Idempotent. */
  stop(): Promise<void>;
  /** True while the process is running (paused counts as running). */
  readonly alive: boolean;
  /** True between pause() and resume()/kill(). */
  readonly paused: boolean;
  /** The temp dir holding this process's files. */
  readonly dir: string;
  /** The last few KB of the process's stdout and stderr, for failure messages. */
  logTail(): string;
}

/** How launchRedis picks a port and builds the command line for it. */
export interface RedisLaunchSpec {
  /** Short name used in temp dir names and error messages. */
  label: string;
  /** Picks a candidate port for a fresh attempt. */
  pickPort?: () => Promise<number>;
  /** Writes whatever config the process needs into dir and returns redis-server's argv for port. */
  prepare: (port: number, dir: string) => Promise<string[]> | string[];
  /** Attempts with a new port when the chosen one turns out to be taken. @default 4 */
  attempts?: number;
}

/** Options ioredis clients get from the harness unless the caller overrides them: fail fast, reconnect fast. */
export const faultTestClientDefaults: RedisOptions = {
  host: '127.0.0.1',
  connectTimeout: 2000,
  maxRetriesPerRequest: 1,
  retryStrategy: (times: number) => Math.min(times * 50, 500),
};

/**
 * A client to 127.0.0.1:port (a server or a proxy in front of one) with the
 * fault-test defaults plus `options`, resolved once ready. Not tracked: the
 * caller, or the TestFactory that adopts it, quits it.
 */
export async function readyClient(port: number, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis({ ...faultTestClientDefaults, port, ...options });
  // Fault tests provoke connection errors on purpose; they are not failures.
  redis.on('error', () => undefined);
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

const READY_TIMEOUT_MS = 15000;
const LOG_TAIL_CHARS = 8192;

// Every child still running, so the exit fallback can kill it synchronously.
const liveChildren = new Set<ChildProcess>();
// Temp dirs not yet removed, so the exit fallback can remove them too.
const liveDirs = new Set<string>();
let fallbackInstalled = false;

/** SIGKILLs every redis child this process started that is still running (synchronous; for exit paths). */
export function killAllRedisChildren(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}

function installExitFallback(): void {
  if (fallbackInstalled) return;
  fallbackInstalled = true;
  process.on('exit', () => {
    killAllRedisChildren();
    for (const dir of liveDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort at exit
      }
    }
  });
  // A signal's default action skips 'exit' handlers, so kill children here and
  // re-raise the signal if nobody else (mocha, say) handles it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllRedisChildren();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Sends one inline command over a raw socket and returns the reply's text
 * (status, error or bulk payload), or null on timeout/connection error. Raw so
 * readiness checks need no client whose reconnect logic would muddy them.
 */
export function rawCommand(port: number, command: string, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    let done = false;
    const socket = net.connect({ port, host: '127.0.0.1' });
    const finish = (value: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.once('error', () => finish(null));
    socket.once('close', () => finish(null));
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const lineEnd = buffer.indexOf('\r\n');
      if (lineEnd < 0) return;
      const head = buffer.subarray(0, lineEnd).toString('utf8');
      const type = head[0];
      if (type === '+' || type === '-' || type === ':') {
        finish(head);
        return;
      }
      if (type === '$') {
        const length = Number(head.slice(1));
        if (length < 0) {
          finish('');
          return;
        }
        if (buffer.length >= lineEnd + 2 + length) {
          finish(buffer.subarray(lineEnd + 2, lineEnd + 2 + length).toString('utf8'));
        }
        return;
      }
      finish(head);
    });
  });
}

/** The process_id of whatever Redis answers on port, or null if none answers. */
async function answeringPid(port: number, timeoutMs: number): Promise<number | null> {
  const info = await rawCommand(port, 'INFO server', timeoutMs);
  const match = info === null ? null : /process_id:(\d+)/.exec(info);
  return match?.[1] === undefined ? null : Number(match[1]);
}

class PortTakenError extends Error {}

class ManagedRedis implements RedisProcess {
  readonly port: number;
  readonly dir: string;
  private readonly argv: string[];
  private readonly label: string;
  private child: ChildProcess | null = null;
  // Kept after exit so a test can still check that the old process is gone.
  private lastPid = -1;
  private exitPromise: Promise<void> = Promise.resolve();
  private isPaused = false;
  private log = '';
  private readonly clients = new Set<Redis>();
  private stopPromise: Promise<void> | null = null;

  constructor(label: string, port: number, dir: string, argv: string[]) {
    this.label = label;
    this.port = port;
    this.dir = dir;
    this.argv = argv;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? this.lastPid;
  }

  get alive(): boolean {
    return this.child !== null;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  logTail(): string {
    return this.log;
  }

  /** Spawns the process and resolves once it, and not some other server, answers on the port. */
  async spawnAndWait(): Promise<void> {
    installExitFallback();
    this.log = '';
    const child = spawn(redisServerBin, this.argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    // An object, not locals, because the closures below update it.
    const state: { exited: boolean; spawnError: Error | null } = { exited: false, spawnError: null };
    this.child = child;
    this.lastPid = child.pid ?? -1;
    liveChildren.add(child);
    this.exitPromise = new Promise<void>((resolve) => {
      const onGone = (): void => {
        if (state.exited) return;
        state.exited = true;
        liveChildren.delete(child);
        if (this.child === child) {
          this.child = null;
          this.isPaused = false;
        }
        resolve();
      };
      child.once('exit', onGone);
      child.once('error', (error) => {
        state.spawnError = error;
        onGone();
      });
    });
    const append = (chunk: Buffer): void => {
      this.log = (this.log + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (state.exited) {
        if (state.spawnError !== null) {
          throw new Error(`${this.label}: could not spawn ${redisServerBin}: ${state.spawnError.message}`);
        }
        const message = `${this.label} on port ${this.port} exited before answering:\n${this.log}`;
        if (/Address already in use/i.test(this.log)) throw new PortTakenError(message);
        throw new Error(message);
      }
      if (child.pid !== undefined && (await answeringPid(this.port, 500)) === child.pid) return;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await this.exitPromise;
        throw new Error(`${this.label} on port ${this.port} did not answer within ${READY_TIMEOUT_MS} ms:\n${this.log}`);
      }
      await sleep(20);
    }
  }

  pause(): void {
    if (this.child === null) throw new Error(`${this.label} on port ${this.port} is not running; cannot pause`);
    this.child.kill('SIGSTOP');
    this.isPaused = true;
  }

  resume(): void {
    if (this.child === null) return;
    this.child.kill('SIGCONT');
    this.isPaused = false;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    child.kill('SIGKILL');
    await this.exitPromise;
  }

  async restart(): Promise<void> {
    if (this.stopPromise !== null) throw new Error(`${this.label} on port ${this.port} was stopped; cannot restart`);
    await this.kill();
    // The same port is required, so wait out whoever holds it briefly.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.spawnAndWait();
        return;
      } catch (error) {
        if (!(error instanceof PortTakenError) || attempt >= 10) throw error;
        await sleep(200);
      }
    }
  }

  client(options: RedisOptions = {}): Redis {
    const redis = new Redis({ ...faultTestClientDefaults, port: this.port, ...options });
    // Fault tests provoke connection errors on purpose; they are not failures.
    redis.on('error', () => undefined);
    this.clients.add(redis);
    return redis;
  }

  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      for (const redis of this.clients) redis.disconnect();
      this.clients.clear();
      this.resume();
      await this.kill();
      await removeTmpDir(this.dir);
      liveDirs.delete(this.dir);
    })();
    return this.stopPromise;
  }
}

/**
 * Starts a redis-server from a launch spec (used for plain servers, cluster
 * nodes and sentinels), retrying on a fresh port when the chosen one is taken.
 */
export async function launchRedis(spec: RedisLaunchSpec): Promise<RedisProcess> {
  const attempts = spec.attempts ?? 4;
  const pickPort = spec.pickPort ?? freePort;
  for (let attempt = 1; ; attempt += 1) {
    const dir = await makeTmpDir(spec.label);
    liveDirs.add(dir);
    const port = await pickPort();
    const argv = await spec.prepare(port, dir);
    const server = new ManagedRedis(spec.label, port, dir, argv);
    try {
      await server.spawnAndWait();
      return server;
    } catch (error) {
      await server.stop();
      if (!(error instanceof PortTakenError) || attempt >= attempts) throw error;
    }
  }
}

/** The arguments every test redis-server starts with: its port, loopback only, no persistence, its own dir, in the foreground. */
export function baseRedisArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
}

/** Start `redis-server` on a free port with --save '' --appendonly no, a temp dir, bound to 127.0.0.1, plus extra args. Resolves when PING answers. */
export function startRedis(options: { args?: string[] } = {}): Promise<RedisProcess> {
  const extra = options.args ?? [];
  return launchRedis({
    label: 'redis',
    prepare: (port, dir) => [...baseRedisArgs(port, dir), ...extra],
  });
}
