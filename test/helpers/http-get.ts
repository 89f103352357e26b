/**
 * A plain GET over a fresh connection to an app on 127.0.0.1, timed: for tests
 * that count round trips or hold requests open, where supertest's agent and
 * its buffering would get in the way.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** What one GET answered: status, the X-Cache header, the body as text, and how long it took. */
export interface PlainAnswer {
  status: number;
  cache: string;
  body: string;
  ms: number;
}

/** GETs `path` from the app listening on `port`. */
export function plainGet(port: number, path: string): Promise<PlainAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, cache: String(res.headers['x-cache']), body, ms: performance.now() - started }),
        );
      })
      .on('error', reject);
  });
}
