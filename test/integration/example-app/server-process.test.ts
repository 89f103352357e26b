/**
 * `npm start` as a newcomer runs it, as a real process tree (npm, then the
 * server): the embedded first start logs each step as it starts (database from
 * the prebuilt snapshot, migrations, seed, warmup) and answers GET /courses
 * quickly; SIGTERM or SIGINT sent to npm stops the server gracefully: it
 * refuses new connections at once, finishes the request in flight, closes the
 * cache and the database, and npm exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { freePort } from '../../helpers/ports';

const ROOT = path.resolve(__dirname, '../../..');
/** Generous: the target is 5 s on an idle 2-core machine; tests share it with other runs. */
const FIRST_ANSWER_BOUND_MS = 30_000;

/** Polls `check` every 50 ms until it is true or `ms` pass. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Status of GET url, or 0 when nothing answers. */
async function statusOf(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Whether a TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  describe(`example app: npm start, then ${signal} (embedded, real processes)`, function () {
    this.timeout(120_000);
    let npm: ChildProcess | undefined;
    let output = '';

    after(() => {
      // Only if a failed assertion left it running: the whole group, since SIGKILL to npm would orphan the server.
      if (npm?.pid !== undefined && npm.exitCode === null) process.kill(-npm.pid, 'SIGKILL');
    });

    it(`starts from the snapshot logging each step, answers, and on ${signal} finishes the request in flight and exits 0`, async () => {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), LOG_LEVEL: 'info' };
      delete env.DATABASE_URL;
      delete env.REDIS_URL;
      delete env.NODE_OPTIONS;
      const started = performance.now();
      // Its own process group, so cleanup after a failure reaches the server too; the signal under test goes to npm alone.
      npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      npm.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      npm.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const base = `http://127.0.0.1:${port}`;
      await until(
        async () => (await statusOf(`${base}/courses`)) === 200,
        FIRST_ANSWER_BOUND_MS,
        () => `GET /courses 200; output:\n${output}`,
      );
      const firstAnswerMs = Math.round(performance.now() - started);
      console.log(`      embedded first start: npm start to first 200 on /courses in ${firstAnswerMs} ms`);

      // pino writes asynchronously: the log may trail the first answer by a moment.
      await until(
        () => output.includes('"msg":"listening on '),
        10_000,
        () => `the listening line; output:\n${output}`,
      );
      const messages = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { msg: string }).msg);
      const order = [
        /^database: PGlite/,
        /^database: starting PGlite from the prebuilt seed snapshot/,
        /^database: PGlite ready from the snapshot in \d+ ms$/,
        /^migrations: applying/,
        /^migrations: up to date$/,
        /^seed: checking for an empty database$/,
        /^seed: database already has data$/,
        /^warmup: warming 6 targets$/,
        /^express-cache-aside: warmup done$/,
        /^listening on /,
      ];
      let at = -1;
      for (const pattern of order) {
        const index = messages.findIndex((msg, i) => i > at && pattern.test(msg));
        expect(index, `${String(pattern)} logged after the step before it; log:\n${messages.join('\n')}`).to.be.above(at);
        at = index;
      }

      // A request in flight: its headers are in (the server said 100 Continue), its body not yet.
      const body = JSON.stringify({ title: `Finished after ${signal}` });
      const inFlight = http.request({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: '/courses/9',
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), expect: '100-continue' },
      });
      const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
        inFlight.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        inFlight.on('error', reject);
      });
      inFlight.flushHeaders();
      await once(inFlight, 'continue');

      const exited = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      npm.kill(signal);
      await until(
        () => output.includes(`${signal}: stopping`),
        10_000,
        () => `the server to log "${signal}: stopping"; output:\n${output}`,
      );
      expect(await refused(port), 'no new connections once stopping').to.equal(true);

      inFlight.end(body);
      const { status, text } = await answer;
      expect(status, text).to.equal(200);
      expect(JSON.parse(text)).to.include({ id: 9, title: `Finished after ${signal}` });

      const [code, bySignal] = await exited;
      expect({ code, bySignal }, output).to.deep.equal({ code: 0, bySignal: null });
      expect(output).to.include('"msg":"server closed; closing the cache and the database"');
      expect(output).to.include('"msg":"stopped"');
    });
  });
}
