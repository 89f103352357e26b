/**
 * The embedded default: `npm start` with neither DATABASE_URL nor REDIS_URL
 * runs the shop on PGlite and the in-memory cache store, says so first (in
 * pino JSON lines), logs its warmup report one line per target plus a
 * summary, serves GET /courses twice as MISS then HIT, and GET /metrics in
 * the Prometheus text format. The real entry point is started as a child
 * process, the way a fresh clone would run it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { freePort } from '../../helpers/ports';

const root = join(__dirname, '..', '..', '..');

describe('example app: embedded default (PGlite + in-memory cache)', function () {
  this.timeout(120_000);
  let child: ChildProcessWithoutNullStreams | undefined;
  let output = '';

  afterEach(() => {
    // Only if a failed assertion left it running.
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  function waitFor(pattern: RegExp, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const timer = setInterval(() => {
        if (pattern.test(output)) {
          clearInterval(timer);
          resolve();
        } else if (child?.exitCode !== null || Date.now() - started > ms) {
          clearInterval(timer);
          reject(new Error(`server did not log ${pattern} (exit code ${child?.exitCode}); output:\n${output}`));
        }
      }, 50);
    });
  }

  it('npm start without DATABASE_URL or REDIS_URL: PGlite, in-memory cache, GET /courses MISS then HIT', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), LOG_LEVEL: 'info' };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    // What `npm start` runs (tsx), without the CLI's wrapper process, so a kill reaches the server itself.
    child = spawn(process.execPath, ['--import', 'tsx', 'example-app/src/server.ts'], { cwd: root, env });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

    await waitFor(/"msg":"listening on http:\/\/localhost:\d+"/, 100_000);
    // Every stdout line is one pino JSON object.
    const logs = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logs[0]).to.include({ app: 'shop', level: 30 });
    expect(logs[0]!.msg).to.match(/^database: PGlite/);
    expect(logs[1]!.msg).to.match(/^cache store: in-memory/);
    const warmed = logs.filter((log) => typeof log.msg === 'string' && log.msg.startsWith('express-cache-aside: warmup ok '));
    expect(warmed, 'one line per warmup target').to.have.length(6);
    for (const line of warmed) expect(line).to.include({ component: 'cache', ok: true, status: 200, cache: 'MISS' });
    expect(logs.find((log) => log.msg === 'express-cache-aside: warmup done')).to.include({ component: 'cache', ok: 6, failed: 0 });
    expect(
      logs.filter((log) => log.level === 20),
      'debug lines at LOG_LEVEL=info',
    ).to.deep.equal([]);

    const base = `http://127.0.0.1:${port}`;
    const first = await fetch(`${base}/courses`);
    expect(first.status).to.equal(200);
    expect(first.headers.get('x-cache')).to.equal('MISS');
    const courses = (await first.json()) as Array<{ id: number }>;
    expect(courses).to.have.length(480);
    const second = await fetch(`${base}/courses`);
    expect(second.headers.get('x-cache')).to.equal('HIT');
    expect(await second.json()).to.deep.equal(courses);

    const upcoming = await fetch(`${base}/events/upcoming`);
    expect(upcoming.headers.get('x-cache')).to.equal('HIT');
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).to.equal(200);
    expect(metrics.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    expect(metrics.headers.get('x-cache')).to.equal(null);
    const text = await metrics.text();
    expect(text).to.match(/^express_cache_aside_hits_total\{family="courses"\} [1-9]/m);
    expect(text).to.match(/^express_cache_aside_misses_total\{family="courses"\} [1-9]/m);
    expect(text).to.match(/^express_cache_aside_store_duration_seconds_count\{operation="lookup",result="ok"\} [1-9]/m);
    expect(text, 'default process metrics').to.match(/^process_cpu_user_seconds_total /m);
    const health = (await (await fetch(`${base}/health`)).json()) as Record<string, Record<string, unknown>>;
    expect(health.database).to.include({ kind: 'pglite', ok: true });
    expect(health.cache).to.include({ store: 'memory', ok: true });

    // An edit through the same routes: same SQL on PGlite, same invalidation.
    const edit = await fetch(`${base}/courses/1`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Renamed on PGlite' }),
    });
    expect(edit.status).to.equal(200);
    const fresh = await fetch(`${base}/courses`);
    expect(fresh.headers.get('x-cache')).to.equal('MISS');
    expect(((await fresh.json()) as Array<{ id: number; title: string }>).find((c) => c.id === 1)?.title).to.equal('Renamed on PGlite');

    const running = child;
    const exited = new Promise<number | null>((resolve) => running.once('exit', (code) => resolve(code)));
    running.kill('SIGTERM');
    expect(await exited).to.equal(0);
  });
});
