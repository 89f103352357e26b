/**
 * Behaviour tests of cache.warmup: targets as paths, `{ path, headers }` and
 * async functions; failures reported in the report, never thrown; the
 * concurrency bound; entries landing under the keys real requests use; and
 * no TCP port opened for it. Runs against both stores.
 */
import net from 'node:net';
import { expect } from 'chai';
import sinon from 'sinon';
import { sleep, storeKinds, useFactory, type AppHandle } from '../helpers/app-factory';

/** GET /w/:name cached in namespace 'warm', with handler call counts per name and a record of headers seen. */
function warmApp(h: AppHandle, delayMs = 0): { calls: Map<string, number>; tenants: string[]; active: number; maxActive: number } {
  const state = { calls: new Map<string, number>(), tenants: [] as string[], active: 0, maxActive: 0 };
  h.app.get('/w/:name', h.cache.route({ namespace: 'warm' }), async (req, res) => {
    const name = req.params.name as string;
    state.calls.set(name, (state.calls.get(name) ?? 0) + 1);
    state.active += 1;
    state.maxActive = Math.max(state.maxActive, state.active);
    const tenant = req.get('x-tenant');
    if (tenant) state.tenants.push(tenant);
    if (delayMs > 0) await sleep(delayMs);
    state.active -= 1;
    res.json({ name, tenant: tenant ?? null });
  });
  h.app.get('/broken', h.cache.route({ namespace: 'warm' }), (_req, res) => {
    res.status(500).json({ error: 'broken' });
  });
  return state;
}

for (const storeKind of storeKinds) {
  describe(`warmup (${storeKind} store)`, function () {
    const f = useFactory(`warmup-${storeKind}`);

    it('warms path, { path, headers } and async function targets; real requests afterwards are HITs', async function () {
      const h = await f.setup(storeKind);
      const state = warmApp(h);
      let dataFetches = 0;
      const loadData = async (): Promise<void> => {
        await h.cache.getOrSet('data', 'catalog', async () => {
          dataFetches += 1;
          return { items: [1, 2, 3] };
        });
      };
      const report = await h.cache.warmup(h.app, ['/w/a', { path: '/w/b', headers: { 'x-tenant': 'tenant-1' } }, loadData]);

      expect(report.ok).to.equal(3);
      expect(report.failed).to.equal(0);
      expect(report.results).to.have.length(3);
      const [first, second, third] = report.results;
      expect(first).to.include({ target: '/w/a', ok: true, status: 200 });
      expect(second).to.include({ target: '/w/b', ok: true, status: 200 });
      expect(third?.ok).to.equal(true);
      for (const result of report.results) {
        expect(result.ms).to.be.a('number').and.at.least(0);
        expect(result).to.not.have.property('error');
      }
      expect(state.tenants, 'the target headers reached the handler').to.deep.equal(['tenant-1']);
      expect(dataFetches).to.equal(1);

      // warmup resolves once entries are written, so no waiting here.
      const a = await h.http().get('/w/a').expect(200);
      const b = await h.http().get('/w/b').set('x-tenant', 'tenant-1').expect(200);
      expect(a.headers['x-cache']).to.equal('HIT');
      expect(b.headers['x-cache']).to.equal('HIT');
      expect(b.body).to.deep.equal({ name: 'b', tenant: 'tenant-1' });
      expect(state.calls.get('a')).to.equal(1);
      expect(state.calls.get('b')).to.equal(1);
      const data = await h.cache.getOrSet('data', 'catalog', () => {
        dataFetches += 1;
        return { items: [] as number[] };
      });
      expect(data).to.deep.equal({ items: [1, 2, 3] });
      expect(dataFetches, 'data warmup landed').to.equal(1);
    });

    it('reports a 500 target, a 404, a throwing function and a rejecting one, and never throws', async function () {
      const h = await f.setup(storeKind);
      warmApp(h);
      const report = await h.cache.warmup(h.app, [
        '/broken',
        '/nowhere',
        () => {
          throw new Error('sync boom');
        },
        async () => {
          await sleep(5);
          throw new Error('async boom');
        },
        '/w/fine',
      ]);
      expect(report.ok).to.equal(1);
      expect(report.failed).to.equal(4);
      const [broken, nowhere, syncFn, asyncFn, fine] = report.results;
      expect(broken).to.include({ target: '/broken', ok: false, status: 500 });
      expect(nowhere).to.include({ target: '/nowhere', ok: false, status: 404 });
      expect(syncFn?.ok).to.equal(false);
      expect(syncFn?.error).to.be.a('string').that.includes('sync boom');
      expect(asyncFn?.ok).to.equal(false);
      expect(asyncFn?.error).to.be.a('string').that.includes('async boom');
      expect(fine).to.include({ target: '/w/fine', ok: true, status: 200 });
    });

    it('respects concurrency: 2 targets at a time', async function () {
      const h = await f.setup(storeKind);
      const state = warmApp(h, 60);
      const targets = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => `/w/${name}`);
      const report = await h.cache.warmup(h.app, targets, { concurrency: 2 });
      expect(report.ok).to.equal(6);
      expect(state.maxActive).to.equal(2);
      expect([...state.calls.values()].reduce((a, b) => a + b, 0)).to.equal(6);
    });

    it('applies the default concurrency of 4', async function () {
      const h = await f.setup(storeKind);
      const state = warmApp(h, 60);
      const targets = Array.from({ length: 10 }, (_, i) => `/w/t${i}`);
      const report = await h.cache.warmup(h.app, targets);
      expect(report.ok).to.equal(10);
      expect(state.maxActive).to.equal(4);
    });

    it('opens no TCP port', async function () {
      const h = await f.setup(storeKind);
      warmApp(h);
      const listen = sinon.spy(net.Server.prototype, 'listen');
      const report = await h.cache.warmup(h.app, ['/w/x', '/w/y']);
      listen.restore();
      expect(report.ok).to.equal(2);
      for (const call of listen.getCalls()) {
        const [first] = call.args as unknown[];
        const usesPath =
          typeof first === 'string' || (typeof first === 'object' && first !== null && 'path' in first && !('port' in first));
        expect(usesPath, `listen(${JSON.stringify(call.args.filter((a) => typeof a !== 'function'))}) must not bind a TCP port`).to.equal(
          true,
        );
      }
      const hit = await h.http().get('/w/x').expect(200);
      expect(hit.headers['x-cache']).to.equal('HIT');
    });
  });
}
