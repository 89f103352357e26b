/**
 * Packed-tarball smoke test: `npm pack` the repo (dist/ must be built: `npm
 * test` runs the build first), check what the tarball holds, install it by
 * hand into a temp project's node_modules (its dependencies and peers
 * symlinked from this repo's node_modules, no network), then use it the ways
 * an application would: require() from CommonJS, import from an ES module,
 * both in one process (one module instance, no dual-package hazard), and
 * TypeScript type-checked by this repo's tsc under `module: nodenext` and
 * `module: commonjs`, where a wrong option type must fail to compile.
 * Fixtures live in test/fixtures/package/.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp-dir';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/package');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const PACKAGE_NAME = 'express-cache-aside';

/** Type packages the TypeScript consumers need besides what the package itself depends on. */
const TYPE_PACKAGES = ['@types/express', '@types/node'];

/** What a finished child process left behind. */
interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion and never rejects on a non-zero exit (tsc's
 * failure is a result here), so runs can be started early and awaited later.
 * NODE_OPTIONS and NODE_PATH are dropped: either could make a broken package
 * resolve anyway.
 */
function run(command: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  delete env['NODE_OPTIONS'];
  delete env['NODE_PATH'];
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Everything a failed run printed, for assertion messages. */
function describeRun(label: string, result: RunResult): string {
  return `${label} exited ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** Runs a smoke fixture with node and parses its one `SMOKE {json}` line. */
async function runSmoke(project: string, file: string): Promise<Record<string, unknown>> {
  const result = await run(process.execPath, [file], project, 20_000);
  expect(result.code, describeRun(`node ${file}`, result)).to.equal(0);
  const line = result.stdout.split('\n').find((l) => l.startsWith('SMOKE '));
  expect(line, describeRun(`node ${file} printed no SMOKE line;`, result)).to.be.a('string');
  return JSON.parse((line ?? '').slice('SMOKE '.length)) as Record<string, unknown>;
}

/** Symlinks `<project>/node_modules/<name>` to this repo's copy; a real install would put it there. */
async function linkFromRepo(project: string, name: string): Promise<void> {
  const target = path.join(ROOT, 'node_modules', name);
  if (!existsSync(target)) throw new Error(`${name} is not installed in ${ROOT}/node_modules; the smoke project cannot resolve it`);
  const link = path.join(project, 'node_modules', name);
  await mkdir(path.dirname(link), { recursive: true });
  await symlink(target, link, 'dir');
}

/** A strict tsconfig for the temp project. */
function tsconfig(compilerOptions: Record<string, unknown>, files: string[]): string {
  return JSON.stringify({
    compilerOptions: { target: 'ES2022', strict: true, noEmit: true, types: ['node'], ...compilerOptions },
    files,
  }, null, 2);
}

/** Deliberately wrong uses of the public types; each line below must be a compile error. */
const TYPE_ERROR_SOURCE = `import { createCache } from '${PACKAGE_NAME}';
const cache = createCache({ ttl: true });
cache.route({ key: 'no-namespace' });
`;

describe('packed tarball (npm pack): CommonJS, ES module and TypeScript consumers', function () {
  // About 10 s on an idle machine; the margin is for tsc on two cores other test runs share.
  this.timeout(60_000);
  let tmp = '';
  let project = '';
  let installed = '';
  let entries: string[] = [];
  // tsc runs are started in before() and awaited by their tests: on two shared cores they overlap the node runs.
  let nodenextCheck: Promise<RunResult>;
  let commonjsCheck: Promise<RunResult>;
  let typeErrorCheck: Promise<RunResult>;

  before(async function () {
    this.timeout(90_000);
    for (const built of ['dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts']) {
      if (!existsSync(path.join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` first (\`npm test\` does)`);
    }
    tmp = await makeTmpDir('package');

    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT);
    if (packed.code !== 0) throw new Error(describeRun('npm pack', packed));
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string }>;
    if (!info) throw new Error(describeRun('npm pack --json gave no package', packed));
    const tarball = path.join(tmp, info.filename);

    const listed = await run('tar', ['-tzf', tarball], tmp);
    if (listed.code !== 0) throw new Error(describeRun('tar -tzf', listed));
    entries = listed.stdout.split('\n').filter((line) => line !== '');

    project = path.join(tmp, 'project');
    installed = path.join(project, 'node_modules', PACKAGE_NAME);
    await mkdir(installed, { recursive: true });
    const extracted = await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], tmp);
    if (extracted.code !== 0) throw new Error(describeRun('tar -xzf', extracted));
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'smoke-consumer', private: true, version: '0.0.0' }));

    // What `npm install express-cache-aside` would add next to it: its dependencies and (installed) peers, read from the packed manifest.
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const needed = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {}), ...TYPE_PACKAGES]);
    for (const name of needed) await linkFromRepo(project, name);

    for (const file of ['consumer.cjs', 'consumer.mjs', 'same-instance.mjs', 'consumer.ts']) {
      await copyFile(path.join(FIXTURES, file), path.join(project, file));
    }
    // The same source as an .mts, so nodenext also checks the `import` condition's declarations (index.d.mts).
    await copyFile(path.join(FIXTURES, 'consumer.ts'), path.join(project, 'consumer.mts'));
    await writeFile(path.join(project, 'type-error.ts'), TYPE_ERROR_SOURCE);
    // Only the nodenext check reads every declaration file (skipLibCheck: false), so errors inside the
    // package's own .d.ts/.d.mts show up; it costs seconds of @types/node, so the other two skip it, as tsc --init does.
    await writeFile(path.join(project, 'tsconfig.nodenext.json'), tsconfig({ module: 'nodenext', skipLibCheck: false }, ['consumer.ts', 'consumer.mts']));
    await writeFile(path.join(project, 'tsconfig.commonjs.json'), tsconfig({ module: 'commonjs', esModuleInterop: true, skipLibCheck: true }, ['consumer.ts']));
    await writeFile(path.join(project, 'tsconfig.type-error.json'), tsconfig({ module: 'nodenext', skipLibCheck: true }, ['type-error.ts']));

    const tsc = (config: string): Promise<RunResult> => run(process.execPath, [TSC, '-p', config, '--pretty', 'false'], project);
    nodenextCheck = tsc('tsconfig.nodenext.json');
    commonjsCheck = tsc('tsconfig.commonjs.json');
    typeErrorCheck = tsc('tsconfig.type-error.json');
  });

  after(async function () {
    // Let tsc runs finish before their directory goes away (they never reject).
    await Promise.all([nodenextCheck, commonjsCheck, typeErrorCheck]);
    if (tmp !== '') await removeTmpDir(tmp);
  });

  it('holds dist/, README.md and package.json, and nothing of src/, test/, example-app/, bench/ or scripts/', async function () {
    const files = entries.map((entry) => {
      expect(entry, 'every tarball entry sits under package/').to.match(/^package\//);
      return entry.slice('package/'.length);
    });
    expect(files).to.include.members([
      'package.json',
      'README.md',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
      'dist/cjs/package.json',
      'dist/esm/index.mjs',
      'dist/esm/index.d.mts',
    ]);
    for (const dir of ['src/', 'test/', 'example-app/', 'bench/', 'scripts/', 'node_modules/']) {
      expect(files.filter((file) => file.startsWith(dir)), `nothing under ${dir}`).to.deep.equal([]);
    }
    const unexpected = files.filter((file) => !file.startsWith('dist/') && !['package.json', 'README.md'].includes(file) && !/^LICEN[CS]E/i.test(file));
    expect(unexpected, 'only dist/, README.md, package.json and a licence file are shipped').to.deep.equal([]);

    // Every path the manifest points a consumer at must be in the tarball.
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    const targets: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string') targets.push(value);
      else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
    };
    collect([manifest['main'], manifest['module'], manifest['types'], manifest['exports']]);
    expect(targets).to.have.length.above(4);
    for (const target of targets) expect(files, `package.json points at ${target}`).to.include(path.posix.normalize(target));
  });

  it('is required from CommonJS: a miss, then a hit from the memory store', async function () {
    const out = await runSmoke(project, 'consumer.cjs');
    expect(out['resolved']).to.equal(path.join(installed, 'dist/cjs/index.js'));
    expect(out['version'], 'express-cache-aside/package.json is exported').to.equal('0.1.0');
    expect(out['deepImport'], 'the exports map hides dist/ internals').to.equal('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(out['errorIsClass']).to.equal(true);
    expect(out['statuses']).to.deep.equal([200, 200]);
    expect(out['xCache']).to.deep.equal(['MISS', 'HIT']);
    expect(out['bodies']).to.deep.equal(['{"hello":"cjs"}', '{"hello":"cjs"}']);
    expect(out['calls'], 'the hit did not run the handler').to.equal(1);
  });

  it('is imported from an ES module: a miss, then a hit from the memory store', async function () {
    const out = await runSmoke(project, 'consumer.mjs');
    expect(out['resolved']).to.equal(pathToFileURL(path.join(installed, 'dist/esm/index.mjs')).href);
    expect(out['errorIsClass']).to.equal(true);
    expect(out['statuses']).to.deep.equal([200, 200]);
    expect(out['xCache']).to.deep.equal(['MISS', 'HIT']);
    expect(out['bodies']).to.deep.equal(['{"hello":"esm"}', '{"hello":"esm"}']);
    expect(out['calls'], 'the hit did not run the handler').to.equal(1);
  });

  it('gives import and require one module instance with the same exports (no dual-package hazard)', async function () {
    const out = await runSmoke(project, 'same-instance.mjs');
    expect(out['importResolved']).to.equal(pathToFileURL(path.join(installed, 'dist/esm/index.mjs')).href);
    expect(out['requireResolved']).to.equal(path.join(installed, 'dist/cjs/index.js'));
    expect(out['sameCreateCache'], 'import and require give the same createCache').to.equal(true);
    expect(out['sameCacheStoreError'], 'import and require give the same CacheStoreError').to.equal(true);
    expect(out['crossInstanceof']).to.equal(true);
    // The ESM wrapper lists its exports by hand: one added to src/index.ts but not to scripts/build.mjs shows up here.
    expect(out['esmExports'], 'the ES module exports every runtime export of the CommonJS build').to.deep.equal(out['cjsExports']);
    expect(out['cjsExports']).to.include.members(['CacheStoreError', 'createCache']);
  });

  it('type-checks a TypeScript consumer under module nodenext, as .ts (require condition) and .mts (import condition), with library checks on', async function () {
    const result = await nodenextCheck;
    expect(result.code, describeRun('tsc -p tsconfig.nodenext.json', result)).to.equal(0);
  });

  it('type-checks a TypeScript consumer under module commonjs (main and types fields)', async function () {
    const result = await commonjsCheck;
    expect(result.code, describeRun('tsc -p tsconfig.commonjs.json', result)).to.equal(0);
  });

  it('fails to compile a consumer that passes ttl: true or a route without a namespace', async function () {
    const result = await typeErrorCheck;
    expect(result.code, describeRun('tsc -p tsconfig.type-error.json', result)).to.not.equal(0);
    const errors = result.stdout.split('\n').filter((line) => line.includes('error TS'));
    // Only the two planted errors: anything else (say, the package not resolving) would also fail tsc, for the wrong reason.
    expect(errors, describeRun('tsc -p tsconfig.type-error.json', result)).to.have.length(2);
    expect(errors[0]).to.match(/^type-error\.ts\(2,\d+\): error TS2322: Type 'true' is not assignable to type 'Duration \| undefined'/);
    expect(errors[1]).to.match(/^type-error\.ts\(3,\d+\): error TS2345: .*'RouteOptions'/);
    expect(result.stdout, 'the missing option is named').to.include("Property 'namespace' is missing");
  });
});
