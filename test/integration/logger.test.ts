/**
 * Decision logging: with a logger given, each request logs at debug level
 * what the cache did and why (HIT, MISS, STALE, BYPASS: timeout, BYPASS:
 * authorization, not stored: set-cookie, not stored: 404, ...) with its
 * namespace and key, and never a body or the value of a cookie or an
 * Authorization header. A pino logger below debug gets no decision lines at
 * all; without a logger the cache is silent except for store warnings.
 */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import sinon from 'sinon';
import { captureLogger, sleep, useFactory, waitFor, waitForEntries, type AppHandle } from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';

/** Values that must never reach a log line, whatever the level. */
const SECRETS = {
  cookie: 'cookie-secret-5f1d2a',
  token: 'token-secret-9c7e44',
  setCookie: 'setcookie-secret-2b8f31',
  body: 'body-secret-7a0c95',
};
const COOKIE = `session=${SECRETS.cookie}; theme=dark`;
const AUTHORIZATION = `Bearer ${SECRETS.token}`;
/** Generous for a loaded 2-core machine, so only the paused store ever times out. */
const TIMEOUT_MS = 300;

/** Routes that provoke every decision; each answer carries the body secret. */
function decisionApp(h: AppHandle): void {
  const body = (name: string): { name: string; secret: string } => ({ name, secret: SECRETS.body });
  h.app.get('/page', h.cache.route({ namespace: 'pages', key: 'home' }), (_req, res) => {
    res.json(body('page'));
  });
  h.app.get('/news', h.cache.route({ namespace: 'news', key: 'front', ttl: '300ms', staleTtl: '1m' }), (_req, res) => {
    res.json(body('news'));
  });
  h.app.get('/login', h.cache.route({ namespace: 'pages', key: 'login' }), (_req, res) => {
    res.cookie('sid', SECRETS.setCookie, { httpOnly: true }).json(body('login'));
  });
  h.app.get('/gone', h.cache.route({ namespace: 'pages', key: 'gone' }), (_req, res) => {
    res.status(404).json(body('gone'));
  });
  h.app.get('/private', h.cache.route({ namespace: 'pages', key: 'private' }), (_req, res) => {
    res.set('Cache-Control', 'private').json(body('private'));
  });
  h.app.get('/big', h.cache.route({ namespace: 'pages', key: 'big', maxBodyBytes: 16 }), (_req, res) => {
    res.json(body('big'));
  });
  // Per-credential entries: the key holds a digest of the header, never the header.
  h.app.get('/me', h.cache.route({ namespace: 'me', vary: ['authorization', 'cookie'] }), (_req, res) => {
    res.json(body('me'));
  });
  h.app.get('/users/:id/cart', h.cache.route({ namespace: (req) => `user:${String(req.params.id)}`, key: 'cart' }), (req, res) => {
    res.json({ user: req.params.id, ...body('cart') });
  });
}

/** Everything a log entry carries, as text, for looking for secrets. */
function entryText(entry: { level: string; obj: unknown; msg?: string }): string {
  return `${entry.level} ${entry.msg ?? ''} ${JSON.stringify(entry.obj, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))}`;
}

/** Fails naming the line if any secret shows up in any of them. */
function expectNoSecrets(lines: string[]): void {
  for (const line of lines) {
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(line.includes(secret), `the ${name} secret leaked into: ${line}`).to.equal(false);
    }
  }
}

describe('decision logging', function () {
  this.timeout(20_000);
  const f = useFactory('logger');
  const server = useRedisProcess();

  it('logs each decision and why at debug level, with namespace and key, never a body, cookie or authorization value', async function () {
    const { logger, entries } = captureLogger();
    const h = await f.setupOn(server.client(), { timeoutMs: TIMEOUT_MS, jitter: 0, logger });
    decisionApp(h);

    /** GETs with a cookie (and maybe credentials), checks the header, and returns the debug lines it logged (waiting for `lines` of them). */
    const step = async (
      path: string,
      expected: string,
      extra: Record<string, string> = {},
      lines = 1,
    ): Promise<Array<{ msg: string; obj: Record<string, unknown> }>> => {
      const from = entries.length;
      const debugLines = (): Array<{ msg: string; obj: Record<string, unknown> }> =>
        entries
          .slice(from)
          .filter((e) => e.level === 'debug')
          .map((e) => ({ msg: e.msg ?? '', obj: e.obj as Record<string, unknown> }));
      const res = await h
        .http()
        .get(path)
        .set('Cookie', COOKIE)
        .set(extra)
        .expect((r) => expect(r.status).to.be.oneOf([200, 404]));
      expect(res.headers['x-cache'], `GET ${path}`).to.equal(expected);
      // Not-stored lines come after the response.
      await waitFor(`${lines} debug line(s) for GET ${path}`, () => debugLines().length >= lines, 10_000);
      await sleep(20);
      return debugLines();
    };
    const msgs = (lines: Array<{ msg: string }>): string[] => lines.map((l) => l.msg);
    const P = 'express-cache-aside: ';

    const miss = await step('/page', 'MISS');
    expect(msgs(miss)).to.deep.equal([`${P}MISS`]);
    expect(miss[0]!.obj).to.include({ namespace: 'pages', key: 'home' });
    await waitForEntries(h, 1, 'pages');

    const hit = await step('/page', 'HIT');
    expect(msgs(hit)).to.deep.equal([`${P}HIT`]);
    expect(hit[0]!.obj).to.include({ namespace: 'pages', key: 'home' });

    expect(msgs(await step('/users/42/cart', 'MISS'))).to.deep.equal([`${P}MISS`]);
    expect(entries.at(-1)!.obj).to.include({ namespace: 'user:42', key: 'cart' });

    expect(msgs(await step('/news', 'MISS'))).to.deep.equal([`${P}MISS`]);
    await waitForEntries(h, 1, 'news');
    await sleep(400);
    const stale = await step('/news', 'STALE');
    expect(msgs(stale)[0]).to.equal(`${P}STALE`);
    expect(stale[0]!.obj).to.include({ namespace: 'news', key: 'front' });

    const bypass = await step('/page', 'BYPASS', { Authorization: AUTHORIZATION });
    expect(msgs(bypass)).to.deep.equal([`${P}BYPASS: authorization`]);
    expect(bypass[0]!.obj).to.include({ namespace: 'pages', reason: 'authorization' });

    expect(msgs(await step('/login', 'MISS', {}, 2))).to.deep.equal([`${P}MISS`, `${P}not stored: set-cookie`]);
    expect(msgs(await step('/gone', 'MISS', {}, 2))).to.deep.equal([`${P}MISS`, `${P}not stored: 404`]);
    expect(msgs(await step('/private', 'MISS', {}, 2))).to.deep.equal([`${P}MISS`, `${P}not stored: cache-control`]);
    expect(msgs(await step('/big', 'MISS', {}, 2))).to.deep.equal([`${P}MISS`, `${P}not stored: too-large`]);
    const notStored = entries.find((e) => e.msg === `${P}not stored: set-cookie`);
    expect(notStored!.obj).to.include({ namespace: 'pages', key: 'login', reason: 'set-cookie' });

    const perCredential = await step('/me', 'MISS', { Authorization: AUTHORIZATION });
    expect(msgs(perCredential)).to.deep.equal([`${P}MISS`]);
    expect(perCredential[0]!.obj.key, 'a key folded from headers')
      .to.be.a('string')
      .that.matches(/^\/me\0v/);
    await waitForEntries(h, 1, 'me');
    expect(msgs(await step('/me', 'HIT', { Authorization: AUTHORIZATION }))).to.deep.equal([`${P}HIT`]);

    server.pause();
    let timeout: Awaited<ReturnType<typeof step>>;
    try {
      timeout = await step('/page', 'BYPASS');
    } finally {
      server.resume();
    }
    expect(msgs(timeout)).to.include(`${P}BYPASS: timeout`);
    expect(timeout.find((l) => l.msg === `${P}BYPASS: timeout`)!.obj).to.include({ namespace: 'pages', key: undefined, reason: 'timeout' });
    expect(
      entries.filter((e) => e.level === 'warn').map((e) => e.msg),
      'the store failure itself',
    ).to.include(`${P}store failed, serving uncached`);

    // Mutations and warmup with credentials log too; none of them may carry a secret either.
    h.app.put('/page', h.cache.invalidate({ namespaces: ['pages'] }), (_req, res) => {
      res.json({ ok: true, secret: SECRETS.body });
    });
    await h.http().put('/page').set('Cookie', COOKIE).set('Authorization', AUTHORIZATION).send({ secret: SECRETS.body }).expect(200);
    const report = await h.cache.warmup(h.app, ['/page', { path: '/me', headers: { authorization: AUTHORIZATION, cookie: COOKIE } }]);
    expect(report.ok).to.equal(2);
    await waitFor('the invalidate line', () => entries.some((e) => e.msg === `${P}invalidated`));

    expect(entries.length).to.be.greaterThan(20);
    expectNoSecrets(entries.map(entryText));
  });

  it('through pino at debug: one JSON line per decision; at info: the debug method is never even called', async function () {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const debugLogger = pino({ level: 'debug' }, destination);
    const h = await f.setupOn(server.client(), { timeoutMs: TIMEOUT_MS, logger: debugLogger });
    decisionApp(h);
    await h.http().get('/page').set('Cookie', COOKIE).expect(200);
    await waitForEntries(h, 1, 'pages');
    await h.http().get('/page').set('Cookie', COOKIE).expect(200);
    await h.http().get('/login').set('Cookie', COOKIE).set('Authorization', AUTHORIZATION).expect(200);
    await waitFor('three decision lines', () => lines.filter((l) => l.includes('"msg":"express-cache-aside: ')).length >= 3);
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; namespace?: string; key?: string; reason?: string });
    const decisions = parsed.filter((p) => p.level === 20);
    expect(decisions.map((p) => p.msg)).to.deep.equal([
      'express-cache-aside: MISS',
      'express-cache-aside: HIT',
      'express-cache-aside: BYPASS: authorization',
    ]);
    expect(decisions[0]).to.include({ namespace: 'pages', key: 'home' });
    expectNoSecrets(lines);

    const infoLines: string[] = [];
    const infoLogger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          infoLines.push(chunk.toString('utf8'));
          done();
        },
      }),
    );
    const debug = sinon.spy(infoLogger, 'debug');
    const quiet = await f.setupOn(server.client(), { timeoutMs: TIMEOUT_MS, logger: infoLogger });
    decisionApp(quiet);
    await quiet.http().get('/page').expect(200);
    await waitForEntries(quiet, 1, 'pages');
    await quiet.http().get('/page').expect(200);
    await quiet.http().get('/login').expect(200);
    await sleep(30);
    expect(debug.callCount, 'debug calls at level info').to.equal(0);
    expect(infoLines, 'lines written at level info').to.deep.equal([]);
  });

  it('without a logger: silent on hits and misses, one console warning when the store fails, no secret in it', async function () {
    const consoleCalls = (['log', 'info', 'debug', 'warn', 'error'] as const).map((method) => ({
      method,
      stub: sinon.stub(console, method),
    }));
    const said = (): string[] =>
      consoleCalls.flatMap(({ method, stub }) =>
        stub.getCalls().map((call) => `${method}: ${call.args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`),
      );
    try {
      const h = await f.setupOn(server.client(), { timeoutMs: TIMEOUT_MS });
      decisionApp(h);
      await h.http().get('/page').set('Cookie', COOKIE).expect(200);
      await waitForEntries(h, 1, 'pages');
      await h.http().get('/page').set('Cookie', COOKIE).expect(200);
      await h.http().get('/login').set('Cookie', COOKIE).expect(200);
      await h.http().get('/page').set('Authorization', AUTHORIZATION).expect(200);
      await h.cache.warmup(h.app, ['/page', '/gone']);
      await sleep(30);
      expect(said(), 'console output on normal traffic').to.deep.equal([]);

      server.pause();
      try {
        for (let i = 0; i < 3; i += 1) {
          const res = await h.http().get('/page').set('Cookie', COOKIE).set('X-Trace', 'x');
          expect(res.headers['x-cache']).to.equal('BYPASS');
        }
      } finally {
        server.resume();
      }
      const out = said();
      expect(
        out.filter((line) => line.startsWith('warn: ')),
        'one warning for the outage, not one per request',
      ).to.have.length(1);
      expect(out[0]).to.include('store failed, serving uncached');
      expect(
        out.filter((line) => !line.startsWith('warn: ')),
        'anything but warnings',
      ).to.deep.equal([]);
      expectNoSecrets(out);
    } finally {
      for (const { stub } of consoleCalls) stub.restore();
    }
  });
});
