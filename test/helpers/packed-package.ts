/**
 * The package as a user gets it: a clean copy of the repo (the files git
 * tracks or would track, so no dist/ and no node_modules/), plain `npm pack`
 * run there (its `prepack` builds dist/), and consumer projects that
 * `npm install` the tarball with express and ioredis the way a user would.
 * Packing and each consumer install happen once per mocha process and are
 * shared by every test file that asks (package.test.ts, readme-quickstart.test.ts);
 * the temp dirs go when the process exits.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { copyFile, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTmpDir } from './tmp-dir';

/** Repository root. */
export const ROOT = path.resolve(__dirname, '../..');
/** This repo's tsc, used to type-check consumer projects. */
export const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

/** What a finished child process left behind. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion and never rejects on a non-zero exit (a failure
 * is a result here). NODE_OPTIONS and NODE_PATH are dropped: either could make
 * a broken package resolve anyway; npm's notifier, fund and audit calls are off.
 */
export function run(command: string, args: string[], cwd: string, timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    ...env,
  };
  delete childEnv.NODE_OPTIONS;
  delete childEnv.NODE_PATH;
  delete childEnv.IOREDIS_ALIAS;
  // npm sets these for scripts it runs (npm test); a nested npm must not inherit the outer project's settings.
  for (const name of Object.keys(childEnv)) if (/^npm_(package|lifecycle)_/.test(name)) delete childEnv[name];
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}\n${String(err)}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Everything a run printed, for assertion messages. */
export function describeRun(label: string, result: RunResult): string {
  return `${label} exited ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** Throws with the run's output unless it exited 0. */
function mustSucceed(label: string, result: RunResult): RunResult {
  if (result.code !== 0) throw new Error(describeRun(label, result));
  return result;
}

/** A packed tarball and where it came from. */
export interface Packed {
  /** Temp directory holding the clean copy and the tarball. */
  tmp: string;
  /** The clean copy of the repo that was packed. */
  clean: string;
  /** Whether the clean copy had a dist/ before `npm pack` ran (it must not). */
  distBeforePack: boolean;
  /** Absolute path of the .tgz. */
  tarball: string;
  /** `npm pack`'s output. */
  pack: RunResult;
}

/** Temp dirs made here; removed when the process exits, since several test files share them. */
const madeDirs: string[] = [];
process.on('exit', () => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

let packed: Promise<Packed> | undefined;
const consumers = new Map<string, Promise<string>>();

/**
 * Copies the files git lists (tracked, plus untracked ones that are not
 * ignored) into a temp dir, symlinks node_modules (the build's typescript),
 * and runs plain `npm pack` there: lifecycle scripts on, so `prepack` builds.
 */
async function packCleanCopy(): Promise<Packed> {
  const tmp = await makeTmpDir('pack');
  madeDirs.push(tmp);
  const clean = path.join(tmp, 'repo');
  const listed = mustSucceed('git ls-files', await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT));
  for (const file of listed.stdout.split('\0')) {
    if (file === '' || file === 'node_modules' || !existsSync(path.join(ROOT, file))) continue;
    await mkdir(path.dirname(path.join(clean, file)), { recursive: true });
    await copyFile(path.join(ROOT, file), path.join(clean, file));
  }
  await symlink(path.join(ROOT, 'node_modules'), path.join(clean, 'node_modules'), 'dir');
  const distBeforePack = existsSync(path.join(clean, 'dist'));
  const out = path.join(tmp, 'out');
  await mkdir(out);
  const pack = mustSucceed('npm pack', await run('npm', ['pack', '--pack-destination', out], clean));
  const tarballs = (await readdir(out)).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`npm pack left ${tarballs.length} tarballs in ${out}\n${describeRun('npm pack', pack)}`);
  return { tmp, clean, distBeforePack, tarball: path.join(out, tarballs[0] ?? ''), pack };
}

/** The packed tarball of a clean copy, packed once per process. */
export function packedPackage(): Promise<Packed> {
  packed ??= packCleanCopy();
  return packed;
}

/**
 * The exact version of a package this repo's lockfile installed (an alias such
 * as `ioredis5` names its own folder): what a consumer test installs, so the
 * suite gives the same answer next month as today, whatever the registry
 * publishes meanwhile.
 */
export function pinnedVersion(folder: string): string {
  const manifest = require(path.join(ROOT, 'node_modules', folder, 'package.json')) as { version: string };
  return manifest.version;
}

/** The lockfile's ioredis of a major: 6 is `ioredis`, 5 the `ioredis5` alias. */
const ioredisOfMajor = (major: '5' | '6'): string => pinnedVersion(major === '6' ? 'ioredis' : 'ioredis5');

/**
 * A consumer project (its own temp dir) where `npm install <tarball> express
 * ioredis @types/express @types/node` ran, as a user's would, every package at
 * the exact version of this repo's lockfile: real registry resolution (from
 * npm's cache when it can), peers checked by npm. One project per ioredis
 * major per process. Resolves to its directory.
 */
export function consumerProject(ioredisMajor: '5' | '6'): Promise<string> {
  const ioredisRange = ioredisOfMajor(ioredisMajor);
  let project = consumers.get(ioredisRange);
  if (!project) {
    project = (async () => {
      const { tarball } = await packedPackage();
      const dir = await makeTmpDir(`consumer-ioredis${ioredisRange.replace(/\W+/g, '')}`);
      madeDirs.push(dir);
      await writeFile(
        path.join(dir, 'package.json'),
        `${JSON.stringify({ name: 'consumer', private: true, version: '0.0.0' }, null, 2)}\n`,
      );
      const install = await run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          tarball,
          `express@${pinnedVersion('express')}`,
          `ioredis@${ioredisRange}`,
          `@types/express@${pinnedVersion('@types/express')}`,
          `@types/express-serve-static-core@${pinnedVersion('@types/express-serve-static-core')}`,
          `@types/node@${pinnedVersion('@types/node')}`,
        ],
        dir,
        180_000,
      );
      mustSucceed(`npm install in ${dir}`, install);
      return dir;
    })();
    consumers.set(ioredisRange, project);
  }
  return project;
}
