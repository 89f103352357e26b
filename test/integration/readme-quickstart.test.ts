/**
 * The README's quick start is examples/quickstart/server.mts (TypeScript, ES
 * module) and server.cjs (CommonJS): here each README block must equal its
 * file byte for byte, the TypeScript file must type-check under `strict` and
 * `module: nodenext` in a consumer project that installed the packed tarball
 * with @types/express (against ioredis 6 and 5), and both files must run
 * against the real Redis and answer MISS, then HIT, and MISS again after a PUT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { consumerProject, describeRun, ROOT, run, TSC } from '../helpers/packed-package';
import { freePort } from '../helpers/ports';
import { connectShared, closeSharedClients, deleteByPrefix, randomPrefix, sharedRedisUrl } from '../helpers/shared-redis';

const EXAMPLES = path.join(ROOT, 'examples/quickstart');
const TSX_CLI = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const FILES = ['server.mts', 'server.cjs'] as const;

/** The fenced code blocks of a markdown text, each as its exact content (every line with its newline). */
function codeBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const pattern = /^```[^\n]*\n([\s\S]*?)^```$/gm;
  for (let match = pattern.exec(markdown); match !== null; match = pattern.exec(markdown)) blocks.push(match[1] ?? '');
  return blocks;
}

/** A started quick start server and what it printed. */
interface Started {
  child: ChildProcess;
  output: () => string;
  base: string;
}

/** Starts one quick start file in the consumer project, on a free port and its own prefix; resolves once it listens. */
async function startQuickstart(project: string, file: string, prefix: string): Promise<Started> {
  const port = await freePort();
  const args = file.endsWith('.mts') ? [TSX_CLI, file] : [file];
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), REDIS_URL: sharedRedisUrl, CACHE_PREFIX: prefix };
  delete env.NODE_OPTIONS;
  delete env.IOREDIS_ALIAS;
  const child = spawn(process.execPath, args, { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const deadline = Date.now() + 30_000;
  while (!output.includes('listening on http://localhost:')) {
    if (child.exitCode !== null) throw new Error(`${file} exited ${child.exitCode} before listening:\n${output}`);
    if (Date.now() > deadline) throw new Error(`${file} did not listen within 30 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, base: `http://127.0.0.1:${port}` };
}

/** GET or PUT a path; returns status, X-Cache and the parsed body. */
async function request(
  base: string,
  pathname: string,
  init: RequestInit = {},
): Promise<{ status: number; xCache: string | null; body: unknown }> {
  const response = await fetch(base + pathname, init);
  return { status: response.status, xCache: response.headers.get('x-cache'), body: await response.json() };
}

/** Polls until a GET answers with the wanted X-Cache (the fill is written after the response is sent). */
async function untilCache(base: string, pathname: string, wanted: string): Promise<string | null> {
  let seen: string | null = null;
  for (let i = 0; i < 40; i += 1) {
    seen = (await request(base, pathname)).xCache;
    if (seen === wanted) return seen;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return seen;
}

describe('README quick start (examples/quickstart/)', function () {
  this.timeout(120_000);
  let project = '';
  const started: ChildProcess[] = [];
  const prefixes: string[] = [];

  before(async function () {
    this.timeout(300_000);
    project = await consumerProject('6');
    for (const file of FILES) await copyFile(path.join(EXAMPLES, file), path.join(project, file));
  });

  after(async function () {
    for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
    const redis = await connectShared();
    for (const prefix of prefixes) await deleteByPrefix(redis, prefix);
    await closeSharedClients();
  });

  for (const file of FILES) {
    it(`README.md holds examples/quickstart/${file} byte for byte as one code block`, async function () {
      const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
      const source = await readFile(path.join(EXAMPLES, file), 'utf8');
      const firstLine = source.slice(0, source.indexOf('\n'));
      expect(firstLine, 'the file names itself on its first line').to.include(`examples/quickstart/${file}`);
      const blocks = codeBlocks(readme).filter((block) => block.startsWith(`${firstLine}\n`));
      expect(blocks, `one README block starts with ${JSON.stringify(firstLine)}`).to.have.length(1);
      expect(blocks[0]).to.equal(source);
    });
  }

  for (const ioredis of ['6', '5'] as const) {
    it(`server.mts type-checks under strict, module nodenext, with @types/express (ioredis ${ioredis})`, async function () {
      const dir = await consumerProject(ioredis);
      await copyFile(path.join(EXAMPLES, 'server.mts'), path.join(dir, 'server.mts'));
      const config = {
        compilerOptions: { target: 'ES2022', module: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
        files: ['server.mts'],
      };
      await writeFile(path.join(dir, 'tsconfig.quickstart.json'), JSON.stringify(config, null, 2));
      const result = await run(process.execPath, [TSC, '-p', 'tsconfig.quickstart.json', '--pretty', 'false'], dir);
      expect(result.code, describeRun('tsc -p tsconfig.quickstart.json', result)).to.equal(0);
    });
  }

  it('server.cjs on a port that is taken exits with EADDRINUSE instead of claiming to listen (Troubleshooting)', async function () {
    const holder = net.createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const { port } = holder.address() as net.AddressInfo;
    const prefix = randomPrefix('quickstart-taken');
    prefixes.push(prefix);
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), REDIS_URL: sharedRedisUrl, CACHE_PREFIX: prefix };
      delete env.NODE_OPTIONS;
      const result = await run(process.execPath, ['server.cjs'], project, 30_000, env);
      expect(result.code, describeRun('node server.cjs', result)).to.equal(1);
      expect(result.stderr).to.include('EADDRINUSE');
      expect(result.stdout).to.not.include('listening on');
    } finally {
      holder.close();
    }
  });

  for (const file of FILES) {
    it(`${file} runs against Redis: warmed routes HIT, a new entry MISS then HIT, a PUT clears the namespace`, async function () {
      const prefix = randomPrefix(`quickstart-${file.replace('.', '-')}`);
      prefixes.push(prefix);
      const server = await startQuickstart(project, file, prefix);
      started.push(server.child);
      expect(server.output()).to.include('warmed 2, failed 0');

      const warmed = await request(server.base, '/courses');
      expect(warmed.status).to.equal(200);
      expect(warmed.xCache, 'warmup filled /courses').to.equal('HIT');
      expect(warmed.body).to.deep.equal([
        { id: 1, title: 'SQL from scratch' },
        { id: 2, title: 'Caching with Redis' },
      ]);

      const first = await request(server.base, '/courses/2');
      expect([first.status, first.xCache]).to.deep.equal([200, 'MISS']);
      expect(await untilCache(server.base, '/courses/2', 'HIT')).to.equal('HIT');
      expect((await request(server.base, '/courses/9')).status).to.equal(404);

      const put = await request(server.base, '/courses/2', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'Redis, cached' }),
      });
      expect(put.status).to.equal(200);
      const after = await request(server.base, '/courses/2');
      expect([after.xCache, after.body]).to.deep.equal(['MISS', { id: 2, title: 'Redis, cached' }]);

      // Its entries live under its own prefix in the real Redis, nowhere else.
      const redis = await connectShared();
      const [, keys] = await redis.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 100_000);
      expect(
        keys.some((key) => key.includes('courses')),
        'a courses key under the prefix',
      ).to.equal(true);

      server.child.kill('SIGTERM');
      await once(server.child, 'exit');
    });
  }
});
