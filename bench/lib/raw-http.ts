// Plain node:http requests for verification passes and polling: unlike fetch,
// nothing is decompressed or added behind our back (no Accept-Encoding unless
// asked), so the bytes and headers are what went over the wire.

import http from 'node:http';

/** One response as received. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as sent (still compressed if it was). */
  body: Buffer;
  /** performance.now() when the request was sent and when the last byte arrived. */
  sentAt: number;
  receivedAt: number;
}

/** A keep-alive agent with one socket: a poller's requests reuse one connection, one at a time. */
export function singleConnectionAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1 });
}

/** Sends one request to 127.0.0.1:port and reads the whole response. */
export function rawRequest(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; agent?: http.Agent; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    const request = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
            sentAt,
            receivedAt: performance.now(),
          }),
        );
      },
    );
    request.setTimeout(options.timeoutMs ?? 10_000, () =>
      request.destroy(new Error(`${options.method ?? 'GET'} ${path}: no answer within ${options.timeoutMs ?? 10_000} ms`)),
    );
    request.on('error', reject);
    request.end();
  });
}
