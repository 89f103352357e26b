/**
 * Packed-tarball test, on what a user gets: plain `npm pack` on a clean copy
 * of the repo (no dist/, no prior build: `prepack` must build it), then a
 * consumer project that `npm install`s the tarball with express 5 and
 * ioredis 6 (another with ioredis 5) from the registry, as a user would
 * (test/helpers/packed-package.ts). There it checks what the tarball holds,
 * that npm sees no invalid peer, and uses the package the ways an application
 * would: require() from CommonJS, import from an ES module, both in one
 * process (one module instance, no dual-package hazard), and TypeScript
 * type-checked by this repo's tsc under `module: nodenext` and
 * `module: commonjs`, where a wrong option type must fail to compile.
 * Fixtures live in test/fixtures/package/.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import {
  consumerProject,
  describeRun,
  pinnedVersion,
  packedPackage,
  ROOT,
  run,
  TSC,
  type Packed,
  type RunResult,
} from '../helpers/packed-package';

const FIXTURES = path.join(ROOT, 'test/fixtures/package');
const PACKAGE_NAME = 'express-cache-aside';

/** Runs a smoke fixture with node and parses its one `SMOKE {json}` line. */
async function runSmoke(project: string, file: string): Promise<Record<string, unknown>> {
  const result = await run(process.execPath, [file], project, 20_000);
  expect(result.code, describeRun(`node ${file}`, result)).to.equal(0);
  const line = result.stdout.split('\n').find((l) => l.startsWith('SMOKE '));
  expect(line, describeRun(`node ${file} printed no SMOKE line;`, result)).to.be.a('string');
  return JSON.parse((line ?? '').slice('SMOKE '.length)) as Record<string, unknown>;
}

/** A strict tsconfig for the consumer project. */
function tsconfig(compilerOptions: Record<string, unknown>, files: string[]): string {
  return JSON.stringify(
    {
      compilerOptions: { target: 'ES2022', strict: true, noEmit: true, types: ['node'], ...compilerOptions },
      files,
    },
    null,
    2,
  );
}

/** Deliberately wrong uses of the public types; each line below must be a compile error. */
const TYPE_ERROR_SOURCE = `import { createCache } from '${PACKAGE_NAME}';
const cache = createCache({ ttl: true });
cache.route({ key: 'no-namespace' });
`;

/** Copies the TypeScript fixture and writes the tsconfigs into a consumer project. */
async function writeTypeScriptFiles(project: string): Promise<void> {
  await copyFile(path.join(FIXTURES, 'consumer.ts'), path.join(project, 'consumer.ts'));
  // The same source as an .mts, so nodenext also checks the `import` condition's declarations (index.d.mts).
  await copyFile(path.join(FIXTURES, 'consumer.ts'), path.join(project, 'consumer.mts'));
  await writeFile(path.join(project, 'type-error.ts'), TYPE_ERROR_SOURCE);
  // Only the nodenext check reads every declaration file (skipLibCheck: false), so errors inside the package's
  // own .d.ts/.d.mts (and ioredis' types it names) show up; the other two skip it, as tsc --init does.
  await writeFile(
    path.join(project, 'tsconfig.nodenext.json'),
    tsconfig({ module: 'nodenext', skipLibCheck: false }, ['consumer.ts', 'consumer.mts']),
  );
  await writeFile(
    path.join(project, 'tsconfig.commonjs.json'),
    tsconfig({ module: 'commonjs', esModuleInterop: true, skipLibCheck: true }, ['consumer.ts']),
  );
  await writeFile(path.join(project, 'tsconfig.type-error.json'), tsconfig({ module: 'nodenext', skipLibCheck: true }, ['type-error.ts']));
}

/** The problems `npm ls --json` reports (invalid or missing peers among them). */
async function npmLsProblems(project: string): Promise<{ result: RunResult; problems: string[]; ioredis: string | undefined }> {
  const result = await run('npm', ['ls', '--json'], project);
  const tree = JSON.parse(result.stdout) as { problems?: string[]; dependencies?: Record<string, { version?: string }> };
  return { result, problems: tree.problems ?? [], ioredis: tree.dependencies?.ioredis?.version };
}

describe('packed tarball (plain npm pack on a clean copy): CommonJS, ES module and TypeScript consumers', function () {
  // Packing builds with tsc and the installs come mostly from npm's cache: about 20 s on an idle machine.
  this.timeout(120_000);
  let packed: Packed;
  let project = '';
  let installed = '';
  let entries: string[] = [];
  // tsc runs are started in before() and awaited by their tests: on two shared cores they overlap the node runs.
  let nodenextCheck: Promise<RunResult>;
  let commonjsCheck: Promise<RunResult>;
  let typeErrorCheck: Promise<RunResult>;

  before(async function () {
    this.timeout(300_000);
    packed = await packedPackage();
    const listed = await run('tar', ['-tzf', packed.tarball], packed.tmp);
    if (listed.code !== 0) throw new Error(describeRun('tar -tzf', listed));
    entries = listed.stdout.split('\n').filter((line) => line !== '');

    project = await consumerProject('6');
    installed = path.join(project, 'node_modules', PACKAGE_NAME);
    for (const file of ['consumer.cjs', 'consumer.mjs', 'same-instance.mjs']) {
      await copyFile(path.join(FIXTURES, file), path.join(project, file));
    }
    await writeTypeScriptFiles(project);
    const tsc = (config: string): Promise<RunResult> => run(process.execPath, [TSC, '-p', config, '--pretty', 'false'], project);
    nodenextCheck = tsc('tsconfig.nodenext.json');
    commonjsCheck = tsc('tsconfig.commonjs.json');
    typeErrorCheck = tsc('tsconfig.type-error.json');
  });

  after(async function () {
    // Let tsc runs finish before the process (and its exit cleanup) goes on (they never reject).
    await Promise.all([nodenextCheck, commonjsCheck, typeErrorCheck]);
  });

  it('is built by prepack: the clean copy had no dist/ before npm pack, and npm pack ran the build', function () {
    expect(packed.distBeforePack, 'the copy that was packed starts without dist/').to.equal(false);
    expect(packed.pack.stdout + packed.pack.stderr, 'npm pack ran the prepack script').to.include('built dist/cjs and dist/esm');
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
      expect(
        files.filter((file) => file.startsWith(dir)),
        `nothing under ${dir}`,
      ).to.deep.equal([]);
    }
    const unexpected = files.filter(
      (file) => !file.startsWith('dist/') && !['package.json', 'README.md'].includes(file) && !/^LICEN[CS]E/i.test(file),
    );
    expect(unexpected, 'only dist/, README.md, package.json and a licence file are shipped').to.deep.equal([]);

    // Every path the manifest points a consumer at must be in the tarball.
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    const targets: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string') targets.push(value);
      else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
    };
    collect([manifest.main, manifest.module, manifest.types, manifest.exports]);
    expect(targets).to.have.length.above(4);
    for (const target of targets) expect(files, `package.json points at ${target}`).to.include(path.posix.normalize(target));
  });

  it('is required from CommonJS: a miss, then a hit from the memory store', async function () {
    const out = await runSmoke(project, 'consumer.cjs');
    expect(out.resolved).to.equal(path.join(installed, 'dist/cjs/index.js'));
    expect(out.version, 'express-cache-aside/package.json is exported').to.equal('0.1.0');
    expect(out.deepImport, 'the exports map hides dist/ internals').to.equal('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(out.errorIsClass).to.equal(true);
    expect(out.statuses).to.deep.equal([200, 200]);
    expect(out.xCache).to.deep.equal(['MISS', 'HIT']);
    expect(out.bodies).to.deep.equal(['{"hello":"cjs"}', '{"hello":"cjs"}']);
    expect(out.calls, 'the hit did not run the handler').to.equal(1);
  });

  it('is imported from an ES module: a miss, then a hit from the memory store', async function () {
    const out = await runSmoke(project, 'consumer.mjs');
    expect(out.resolved).to.equal(pathToFileURL(path.join(installed, 'dist/esm/index.mjs')).href);
    expect(out.errorIsClass).to.equal(true);
    expect(out.statuses).to.deep.equal([200, 200]);
    expect(out.xCache).to.deep.equal(['MISS', 'HIT']);
    expect(out.bodies).to.deep.equal(['{"hello":"esm"}', '{"hello":"esm"}']);
    expect(out.calls, 'the hit did not run the handler').to.equal(1);
  });

  it('gives import and require one module instance with the same exports (no dual-package hazard)', async function () {
    const out = await runSmoke(project, 'same-instance.mjs');
    expect(out.importResolved).to.equal(pathToFileURL(path.join(installed, 'dist/esm/index.mjs')).href);
    expect(out.requireResolved).to.equal(path.join(installed, 'dist/cjs/index.js'));
    expect(out.sameCreateCache, 'import and require give the same createCache').to.equal(true);
    expect(out.sameCacheStoreError, 'import and require give the same CacheStoreError').to.equal(true);
    expect(out.crossInstanceof).to.equal(true);
    // The ESM wrapper lists its exports by hand: one added to src/index.ts but not to scripts/build.mjs shows up here.
    expect(out.esmExports, 'the ES module exports every runtime export of the CommonJS build').to.deep.equal(out.cjsExports);
    expect(out.cjsExports).to.include.members(['CacheStoreError', 'createCache']);
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

  it('installs with ioredis 6 beside it and no invalid peer: npm ls is clean and a later npm install still works', async function () {
    const ls = await npmLsProblems(project);
    expect(ls.problems, describeRun('npm ls', ls.result)).to.deep.equal([]);
    expect(ls.result.code, describeRun('npm ls', ls.result)).to.equal(0);
    expect(ls.ioredis, 'the consumer got ioredis 6').to.match(/^6\./);
    // Before the peer range admitted 6, every later install in such a project failed with ERESOLVE.
    const again = await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', `ms@${pinnedVersion('ms')}`],
      project,
      180_000,
    );
    expect(again.code, describeRun('a later npm install', again)).to.equal(0);
    expect(again.stderr, describeRun('a later npm install', again)).to.not.match(/ERESOLVE|invalid|peer/i);
  });

  it('installs with ioredis 5 too: npm ls is clean and a consumer type-checks under nodenext against ioredis 5 types', async function () {
    const project5 = await consumerProject('5');
    const ls = await npmLsProblems(project5);
    expect(ls.problems, describeRun('npm ls', ls.result)).to.deep.equal([]);
    expect(ls.result.code, describeRun('npm ls', ls.result)).to.equal(0);
    expect(ls.ioredis, 'the consumer got ioredis 5').to.match(/^5\./);
    await writeTypeScriptFiles(project5);
    // skipLibCheck keeps this one fast; the consumer's `redis: new Redis(...)` is still checked against the package's declarations.
    await writeFile(
      path.join(project5, 'tsconfig.ioredis5.json'),
      tsconfig({ module: 'nodenext', skipLibCheck: true }, ['consumer.ts', 'consumer.mts']),
    );
    const result = await run(process.execPath, [TSC, '-p', 'tsconfig.ioredis5.json', '--pretty', 'false'], project5);
    expect(result.code, describeRun('tsc -p tsconfig.ioredis5.json', result)).to.equal(0);
  });
});
