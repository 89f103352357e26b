/**
 * Expiry spread (option `jitter`, default 0.1): a fresh entry lives
 * ttl × (1 − U(0, jitter)), so entries written together do not expire
 * together, and never longer than the declared ttl. Checked on the shared
 * Redis through the entry keys' PTTL (1,000 entries written within about a
 * second: ttl 60 s spreads them over ~6 s, jitter 0 does not), and through
 * X-Cache: entries written together turn stale at different moments.
 */
import http from 'node:http';
import { expect } from 'chai';
import { entryKeys, sleep, useFactory, waitForEntries, type AppHandle, type CacheHandle } from '../helpers/app-factory';

const ENTRIES = 1000;

/** Keeps the background refreshes that STALE answers start (cut short by cleanup) out of the test output. */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** GETs every path over keep-alive sockets, `concurrency` at a time; resolves each answer's status and X-Cache. */
async function getAll(baseUrl: string, paths: string[], concurrency = 50): Promise<Array<{ path: string; status: number; cache: string }>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const results: Array<{ path: string; status: number; cache: string }> = [];
  let next = 0;
  const one = (path: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      http
        .get(`${baseUrl}${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            results.push({ path, status: res.statusCode ?? 0, cache: String(res.headers['x-cache']) });
            resolve();
          });
          res.on('error', reject);
        })
        .on('error', reject);
    });
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < paths.length) await one(paths[next++]!);
      }),
    );
  } finally {
    agent.destroy();
  }
  return results;
}

/** PTTL of every entry key of a namespace, read in one pipeline. */
async function entryPttls(h: CacheHandle, namespace: string): Promise<number[]> {
  const keys = await entryKeys(h, namespace);
  const pipeline = h.redis!.pipeline();
  for (const key of keys) pipeline.pttl(key);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return Number(value);
  });
}

/** How many distinct whole seconds the PTTLs fall into, and their range. */
function spread(pttls: number[]): { seconds: number; min: number; max: number } {
  return { seconds: new Set(pttls.map((p) => Math.floor(p / 1000))).size, min: Math.min(...pttls), max: Math.max(...pttls) };
}

/** Mounts GET /item/:id, cached under namespace 'items' with the given ttl/staleTtl. */
function mountItems(h: AppHandle, ttl: string | number, staleTtl: string | number = 0): void {
  h.app.get('/item/:id', h.cache.route({ namespace: 'items', key: (req) => String(req.params.id), ttl, staleTtl }), (req, res) => {
    res.json({ id: req.params.id });
  });
}

/** Writes ENTRIES entries through the app; resolves how long the writes took (first request to last stored entry). */
async function writeEntries(h: AppHandle): Promise<number> {
  const start = Date.now();
  const answers = await getAll(
    h.url,
    Array.from({ length: ENTRIES }, (_, i) => `/item/${i}`),
  );
  expect(answers.filter((a) => a.status === 200 && a.cache === 'MISS')).to.have.length(ENTRIES);
  await waitForEntries(h, ENTRIES, 'items');
  return Date.now() - start;
}

describe('expiry spread (jitter)', function () {
  this.timeout(30_000);
  const f = useFactory('expiry-spread');
  // A loaded machine must not turn these writes into fail-open bypasses.
  const timeoutMs = 1000;

  it('1,000 route entries written together with ttl 60 s (default jitter 0.1) expire across at least 5 distinct seconds, none later than the ttl', async function () {
    const h = await f.setup('redis', { timeoutMs });
    mountItems(h, 60);
    const writeMs = await writeEntries(h);
    const pttls = await entryPttls(h, 'items');
    expect(pttls).to.have.length(ENTRIES);
    const { seconds, min, max } = spread(pttls);
    const seen = `PTTL ${min}..${max} ms over ${seconds} distinct seconds; writes took ${writeMs} ms`;
    expect(max, `never longer than the declared ttl (${seen})`).to.be.at.most(60_000);
    expect(min, `never shorter than ttl × (1 − 0.1), less the time since writing (${seen})`).to.be.at.least(54_000 - writeMs - 1000);
    expect(seconds, seen).to.be.at.least(5);
    expect(max - min, seen).to.be.at.least(4000);
  });

  it('with jitter: 0 the same writes expire together (the spread above is the jitter, not the write time)', async function () {
    const h = await f.setup('redis', { jitter: 0, timeoutMs });
    mountItems(h, 60);
    const writeMs = await writeEntries(h);
    const { seconds, min, max } = spread(await entryPttls(h, 'items'));
    const seen = `PTTL ${min}..${max} ms over ${seconds} distinct seconds; writes took ${writeMs} ms`;
    expect(max, seen).to.be.at.most(60_000);
    expect(max - min, seen).to.be.at.most(writeMs + 500);
  });

  it('1,000 getOrSet entries with ttl 60 s spread the same way', async function () {
    const h = await f.cache('redis', { timeoutMs });
    const start = Date.now();
    await Promise.all(Array.from({ length: ENTRIES }, (_, i) => h.cache.getOrSet('values', `v${i}`, () => i, { ttl: 60 })));
    await waitForEntries(h, ENTRIES, 'values');
    const writeMs = Date.now() - start;
    const pttls = await entryPttls(h, 'values');
    expect(pttls).to.have.length(ENTRIES);
    const { seconds, min, max } = spread(pttls);
    const seen = `PTTL ${min}..${max} ms over ${seconds} distinct seconds; writes took ${writeMs} ms`;
    expect(max, seen).to.be.at.most(60_000);
    expect(seconds, seen).to.be.at.least(5);
  });

  it('only the fresh part is shortened: with staleTtl 30 s the keys live ttl × (1 − U(0, 0.1)) + 30 s', async function () {
    const h = await f.setup('redis', { timeoutMs });
    mountItems(h, 60, 30);
    const writeMs = await writeEntries(h);
    const { seconds, min, max } = spread(await entryPttls(h, 'items'));
    const seen = `PTTL ${min}..${max} ms over ${seconds} distinct seconds; writes took ${writeMs} ms`;
    expect(max, seen).to.be.at.most(90_000);
    expect(min, seen).to.be.at.least(84_000 - writeMs - 1000);
    expect(seconds, seen).to.be.at.least(5);
  });

  it('entries written together turn stale at different moments, never before ttl × (1 − jitter) nor after ttl (ttl 6 s, jitter 0.5)', async function () {
    const h = await f.setup('redis', { jitter: 0.5, timeoutMs, logger: quiet });
    h.app.get(
      '/j/:set/:id',
      h.cache.route({ namespace: 'j', key: (req) => `${String(req.params.set)}/${String(req.params.id)}`, ttl: '6s', staleTtl: '30s' }),
      (req, res) => {
        res.json({ id: req.params.id });
      },
    );
    const paths = (set: string): string[] => Array.from({ length: 20 }, (_, i) => `/j/${set}/${i}`);
    const writeStart = Date.now();
    await getAll(h.url, [...paths('a'), ...paths('b'), ...paths('c')], 20);
    await waitForEntries(h, 60, 'j');
    const writeEnd = Date.now();
    // Fresh lifetimes are in (3 s, 6 s]. Each set is looked at once (a STALE answer starts a refresh).
    await sleep(Math.max(0, writeEnd + 1000 - Date.now()));
    const early = await getAll(h.url, paths('a'), 20);
    expect(Date.now() - writeStart, 'set a was looked at before any entry could turn stale').to.be.below(3000);
    expect(
      early.map((r) => r.cache),
      'all fresh before ttl × (1 − jitter)',
    ).to.deep.equal(early.map(() => 'HIT'));

    await sleep(Math.max(0, writeStart + 4500 - Date.now()));
    const middle = await getAll(h.url, paths('b'), 20);
    const stale = middle.filter((r) => r.cache === 'STALE').length;
    const hits = middle.filter((r) => r.cache === 'HIT').length;
    expect(stale + hits).to.equal(20);
    expect(stale, `at +4.5 s: ${hits} HIT, ${stale} STALE`).to.be.above(0);
    expect(hits, `at +4.5 s: ${hits} HIT, ${stale} STALE`).to.be.above(0);

    await sleep(Math.max(0, writeEnd + 6200 - Date.now()));
    const late = await getAll(h.url, paths('c'), 20);
    expect(
      late.map((r) => r.cache),
      'none fresh past the declared ttl',
    ).to.deep.equal(late.map(() => 'STALE'));
  });
});
