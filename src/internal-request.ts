/**
 * Requests through the application itself, with no TCP port: a private
 * HTTP server for the app listens on a unix-domain socket (a named pipe on
 * Windows) in the temp directory, so warmup and background refreshes run
 * the app's whole middleware stack and land entries under the keys real
 * requests use, while nothing is opened to the network.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The answer to an internal request (the body is drained, not kept). */
export interface InternalResponse {
  status: number;
  headers: IncomingHttpHeaders;
}

function socketPath(): string {
  const name = `express-cache-aside-${process.pid}-${randomBytes(6).toString('hex')}`;
  return process.platform === 'win32' ? `\\\\.\\pipe\\${name}` : join(tmpdir(), `${name}.sock`);
}

/** A private server for one app; start() lazily, close() when the cache closes. */
export class AppClient {
  private server: Server | undefined;
  private starting: Promise<string> | undefined;

  constructor(private readonly app: RequestListener) {}

  private start(): Promise<string> {
    this.starting ??= new Promise<string>((resolve, reject) => {
      const server = createServer(this.app);
      const path = socketPath();
      server.once('error', reject);
      server.listen(path, () => {
        server.removeListener('error', reject);
        // Never keeps the process alive on its own.
        server.unref();
        this.server = server;
        resolve(path);
      });
    });
    return this.starting;
  }

  /** Sends a GET (or HEAD) through the app; rejects on a connection error or after timeoutMs. */
  async request(path: string, headers: IncomingHttpHeaders, timeoutMs: number, method = 'GET'): Promise<InternalResponse> {
    const socket = await this.start();
    return new Promise<InternalResponse>((resolve, reject) => {
      const req = request({ socketPath: socket, path, method, headers: { host: 'localhost', ...headers } }, (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        res.once('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end();
    });
  }

  /** Stops the private server. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.starting = undefined;
    if (!server) return;
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
