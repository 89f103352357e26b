/**
 * The example shop as a real server process, the way `npm start` runs it
 * (tsx example-app/src/server.ts), configured through its environment: a
 * test starts several on one database and one Redis to play several
 * instances behind a load balancer. Every child is SIGKILLed when the test
 * process exits, even if a test forgot to stop it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { freePort } from './ports';

/** Root of the repository this file belongs to: the processes run the shop of the same checkout. */
const repoRoot = path.resolve(__dirname, '../..');
const READY_TIMEOUT_MS = 60_000;
const LOG_TAIL_CHARS = 8192;

const liveChildren = new Set<ChildProcess>();
let fallbackInstalled = false;

/** What one shop process is started with. */
export interface ShopProcessOptions {
  databaseUrl: string;
  redisUrl: string;
  /** CACHE_PREFIX */
  prefix: string;
  /** CACHE_L1, as an object; absent: the tier is off. */
  l1?: Record<string, unknown>;
  /** SHOP_READ_DELAY_MS: a pause after every SELECT (test-only fault injection). */
  readDelayMs?: number;
  /** CACHE_TIMEOUT_MS */
  cacheTimeoutMs?: number;
  /** Extra environment. */
  env?: Record<string, string>;
}

/** A running shop process. */
export interface ShopProcess {
  port: number;
  url: string;
  pid: number;
  /** The last few KB of its stdout and stderr, for failure messages. */
  logTail(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. Idempotent. */
  stop(): Promise<void>;
}

function installExitFallback(): void {
  if (fallbackInstalled) return;
  fallbackInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}

/** GETs `url` and resolves its status, or 0 if nothing answers. */
function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Starts the shop on a free port and resolves once it answers GET /health with 200. */
export async function startShopProcess(options: ShopProcessOptions): Promise<ShopProcess> {
  installExitFallback();
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    CACHE_PREFIX: options.prefix,
    LOG_LEVEL: 'warn',
    ...(options.l1 ? { CACHE_L1: JSON.stringify(options.l1) } : { CACHE_L1: '' }),
    ...(options.readDelayMs ? { SHOP_READ_DELAY_MS: String(options.readDelayMs) } : { SHOP_READ_DELAY_MS: '' }),
    ...(options.cacheTimeoutMs ? { CACHE_TIMEOUT_MS: String(options.cacheTimeoutMs) } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'example-app/src/server.ts'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  let log = '';
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      liveChildren.delete(child);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const shop: ShopProcess = {
    port,
    url,
    pid: child.pid ?? -1,
    logTail: () => log,
    stop() {
      stopping ??= (async () => {
        if (exited) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while ((await probe(`${url}/health`)) !== 200) {
    if (exited || Date.now() > deadline) {
      await shop.stop();
      throw new Error(`shop process on port ${port} did not become healthy${exited ? ' (it exited)' : ''}:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return shop;
}
