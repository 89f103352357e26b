/**
 * The example shop against a hostile or careless client, on real PostgreSQL
 * and Redis: bodies that cannot be decoded (Content-Encoding gzip or deflate
 * on plain JSON), paths that are not valid percent-encoding, and a body nested
 * 5,000 levels deep each get a 400 JSON error naming what was wrong (never a
 * 500, never a stack overflow); a wrong method on a known path gets 405 with
 * `Allow`, while an unknown path stays a 404.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import request from 'supertest';
import { startTestShop, type TestShop } from '../../helpers/pg-shop';

/** PUT with a raw body and headers over plain http (supertest re-encodes some bodies). */
function rawPut(
  server: http.Server,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'PUT', path, headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('example app: hostile input (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  let shop: TestShop;
  let server: http.Server;

  before(async () => {
    shop = await startTestShop();
    server = shop.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
  });

  after(async () => {
    server?.close();
    await shop?.teardown();
  });

  for (const encoding of ['gzip', 'deflate']) {
    it(`Content-Encoding: ${encoding} on a plain JSON body: 400 naming the body, the course unchanged`, async () => {
      const before = (await request(shop.app).get('/courses/3').expect(200)).body as { title: string };
      const res = await rawPut(
        server,
        '/courses/3',
        { 'content-type': 'application/json', 'content-encoding': encoding },
        Buffer.from('{"title":"Zipped"}'),
      );
      expect(res.status).to.equal(400);
      expect(res.body).to.deep.equal({ error: `body could not be decoded as Content-Encoding: ${encoding}`, field: 'body' });
      expect(((await request(shop.app).get('/courses/3').expect(200)).body as { title: string }).title).to.equal(before.title);
    });
  }

  it('a body that really is gzip is decoded and applied', async () => {
    const res = await rawPut(
      server,
      '/courses/4',
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      gzipSync('{"title":"Gzipped title"}'),
    );
    expect(res.status).to.equal(200);
    expect(res.body.title).to.equal('Gzipped title');
  });

  for (const path of ['/courses/%E0%A4%A', '/users/%ZZ/enrollments', '/products/slug/%E0%A4%A']) {
    it(`GET ${path} (bad percent-encoding): 400 naming the path`, async () => {
      const res = await request(shop.app).get(path).expect(400).expect('Content-Type', /json/);
      expect(res.body).to.deep.equal({ error: 'path is not valid percent-encoding', field: 'path' });
    });
  }

  for (const levels of [5_000, 15_000]) {
    it(`a body nested ${levels.toLocaleString('en-US')} levels deep: 400 naming the body, no stack overflow`, async () => {
      const deep = `{"curriculum":${'['.repeat(levels)}${']'.repeat(levels)}}`;
      const res = await request(shop.app).put('/courses/5').set('content-type', 'application/json').send(deep).expect(400);
      expect(res.body).to.deep.equal({ error: 'body must not nest deeper than 32 levels', field: 'body' });
      const post = await request(shop.app)
        .post('/users/1/enrollments')
        .set('content-type', 'application/json')
        .send(`{"course_id":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`)
        .expect(400);
      expect(post.body.field).to.equal('body');
    });
  }

  it('a body nested a few levels (a real curriculum) is still accepted', async () => {
    const curriculum = [{ title: 'Week 1', lessons: [{ title: 'Intro', parts: ['a', 'b'] }] }];
    const res = await request(shop.app).put('/courses/6').send({ curriculum }).expect(200);
    expect(res.body.curriculum).to.deep.equal(curriculum);
  });

  const wrongMethods: Array<[string, string, string]> = [
    ['PATCH', '/courses/1', 'GET, PUT, DELETE, HEAD'],
    ['POST', '/courses/count', 'GET, HEAD'],
    ['PUT', '/courses/count', 'GET, HEAD'],
    ['DELETE', '/courses', 'GET, POST, HEAD'],
    ['PATCH', '/products/2', 'GET, PUT, DELETE, HEAD'],
    ['POST', '/events/upcoming', 'GET, HEAD'],
    ['DELETE', '/users/1/enrollments', 'GET, POST, HEAD'],
    ['POST', '/health', 'GET, HEAD'],
    ['DELETE', '/stats', 'GET, HEAD'],
  ];
  for (const [method, path, allow] of wrongMethods) {
    it(`${method} ${path}: 405 with Allow: ${allow}`, async () => {
      const res = await request(shop.app)[method.toLowerCase() as 'patch'](path).expect(405).expect('Content-Type', /json/);
      expect(res.headers.allow).to.equal(allow);
      expect(res.body.error).to.equal(`method ${method} not allowed on ${path}; allowed: ${allow}`);
    });
  }

  it('an unknown path is still a 404, whatever the method', async () => {
    await request(shop.app).patch('/nowhere').expect(404);
    await request(shop.app).post('/courses/1/nothing').expect(404);
  });
});
