// What a result depends on besides the code: the machine, its load, and the
// versions of Node, Redis and every library measured.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Redis from 'ioredis';
import { REPO_ROOT } from './child';

/** The machine a run happened on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  redisServer: string;
}

/** CPU, memory, OS, Node and the Redis server's version. */
export async function machineInfo(redis: Redis): Promise<MachineInfo> {
  const cpus = os.cpus();
  const info = await redis.info('server');
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    redisServer: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
  };
}

function installedVersion(name: string): string {
  try {
    const file = path.join(REPO_ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** Versions of the packages the run measured or used, keyed by package name. */
export function packageVersions(): Record<string, string> {
  const own = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['--no-optional-locks', 'status', '--porcelain', '--', 'src'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    if (dirty) commit += ' + uncommitted changes in src/';
  } catch {
    commit = 'no git';
  }
  const versions: Record<string, string> = { 'express-cache-aside': `${own.version} (${commit})` };
  for (const name of [
    'express',
    'ioredis',
    'autocannon',
    'apicache',
    'redis',
    'express-redis-cache',
    'express-redis-cache/node_modules/redis',
    'route-cache',
  ]) {
    versions[name] = installedVersion(name);
  }
  return versions;
}

/** The 1, 5 and 15 minute load averages, as a reminder that the machine is shared. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
}
