// `npx tsx bench/profile.ts <variant> [seconds]`: runs one bench/servers/ variant
// under `node --cpu-prof`, warms it, loads it with autocannon at
// BENCH_CONNECTIONS (32) for `seconds` (10), stops it and prints the profile
// summarised per function (self time, share of all samples), then grouped by
// file or module. BENCH_KEEP_PROFILE=1 keeps the .cpuprofile (bench/profiles/,
// for Chrome DevTools). Keys go under their own prefix and are removed at the end.

import { fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { ITEM_IDS, itemPath } from './lib/body';
import { REPO_ROOT } from './lib/child';
import { runLoad } from './lib/load';
import type { ChildMessage } from './lib/protocol';
import { newRunPrefix, unlinkPrefix } from './lib/redis-keys';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

async function main(): Promise<void> {
  const variant = process.argv[2];
  const seconds = Number(process.argv[3] ?? 10);
  if (!variant) throw new Error('usage: tsx bench/profile.ts <variant> [seconds]');
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = newRunPrefix();
  const dir = path.join(REPO_ROOT, 'bench', 'profiles', `${variant}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });

  const child = fork(path.join(REPO_ROOT, 'bench', 'servers', `${variant}.ts`), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', '--no-deprecation', '--cpu-prof', `--cpu-prof-dir=${dir}`],
    env: { ...process.env, NODE_ENV: 'production', BENCH_PREFIX: `${prefix}:${variant}` },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') resolve(message.port);
      if (message.type === 'unavailable') reject(new Error(message.reason));
    });
    child.once('exit', () => reject(new Error('server exited')));
  });
  // Miss variants get a unique URL per request (every one a miss); the others the 100 warm item ids.
  const miss = variant.startsWith('miss-');
  let run = 0;
  const paths = miss
    ? () => {
        const r = ++run;
        return (n: number) => `/miss?n=${r}-${n}`;
      }
    : () => ITEM_IDS.map(itemPath);
  if (!miss)
    for (let pass = 0; pass < 3; pass++) for (const p of ITEM_IDS.map(itemPath)) await (await fetch(`http://127.0.0.1:${port}${p}`)).text();
  const warm = await runLoad({ port, paths: paths(), connections, seconds: 2 });
  const load = await runLoad({ port, paths: paths(), connections, seconds });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ type: 'stop' });
  await exited;
  const redis = new Redis(redisUrl);
  await unlinkPrefix(redis, prefix);
  await redis.quit();

  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile written in ${dir}`);
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
  const selfMicros = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
  // Every request the server answered while profiled: the warm-up passes and load, and the measured load.
  const requests = load.ok + warm.ok + (miss ? 0 : 3 * ITEM_IDS.length);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const nodeById = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const [id, micros] of selfMicros) {
    const frame = nodeById.get(id)?.callFrame;
    const url = (frame?.url ?? '')
      .replace(/^file:\/\//, '')
      .replace(`${REPO_ROOT}/`, '')
      .replace(/.*node_modules\//, 'node_modules/');
    const fn = `${frame?.functionName || '(anonymous)'} ${url ? `${url}:${(frame?.lineNumber ?? 0) + 1}` : ''}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros);
    const group =
      url === ''
        ? frame?.functionName.startsWith('(')
          ? frame.functionName
          : '(native)'
        : url.startsWith('node:')
          ? url
          : url
              .split('/')
              .slice(0, url.startsWith('node_modules/') ? 2 : 2)
              .join('/');
    byFile.set(group, (byFile.get(group) ?? 0) + micros);
  }
  const print = (title: string, map: Map<string, number>, limit: number) => {
    console.log(`\n${title}`);
    console.log('| self % | self ms | µs/request | function |\n| ---: | ---: | ---: | --- |');
    for (const [name, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
      console.log(
        `| ${((micros / total) * 100).toFixed(1)} | ${(micros / 1000).toFixed(0)} | ${(micros / requests).toFixed(1)} | \`${name}\` |`,
      );
    }
  };
  console.log(
    `${variant}: ${Math.round(load.requestsPerSecond)} req/s over ${seconds} s at ${connections} connections; profile ${path.relative(REPO_ROOT, dir)}/${file}`,
  );
  const idle = [...byFunction].filter(([name]) => name.startsWith('(idle)')).reduce((sum, [, micros]) => sum + micros, 0);
  console.log(
    `profile total ${(total / 1000).toFixed(0)} ms of samples, ${((total - idle) / 1000).toFixed(0)} ms not idle; ${requests} requests answered while profiled: ` +
      `${((total - idle) / requests).toFixed(1)} µs of CPU per request (profiling included)`,
  );
  print('Self time by function (top 30)', byFunction, 30);
  print('Self time by file or module', byFile, 20);
  if (process.env.BENCH_KEEP_PROFILE !== '1') rmSync(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
