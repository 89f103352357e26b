/**
 * Requests through the application itself, with no TCP port: a private
 * HTTP server for the app listens on a unix-domain socket (a named pipe on
 * Windows) in the temp directory, so warmup and background refreshes run
 * the app's whole middleware stack and land entries under the keys real
 * requests use, while nothing is opened to the network.
 *
 * A request over that socket has no peer address and no TLS, so behind an
 * address-based 'trust proxy' ('loopback', a CIDR) Express would ignore the
 * X-Forwarded-* headers the cache keys by: each internal request therefore
 * carries a peer (the original request's, for a refresh; loopback for
 * warmup), and the socket shows it to the app while that request runs.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The answer to an internal request (the body is drained, not kept). */
export interface InternalResponse {
  status: number;
  headers: IncomingHttpHeaders;
}

/** How the connection of a request looked to the app: what Express reads for req.ip, req.protocol, req.secure. */
export interface Peer {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  encrypted: boolean;
}

/** The peer of a request, to repeat it on an internal request (take it while the socket is open). */
export function peerOf(req: IncomingMessage): Peer {
  const socket = req.socket as Socket & { encrypted?: boolean };
  return {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    remoteFamily: socket.remoteFamily,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    encrypted: socket.encrypted === true,
  };
}

/** The peer of requests the cache makes on its own (warmup): a client on this machine, over plain HTTP. */
export const LOOPBACK_PEER: Peer = {
  remoteAddress: '127.0.0.1',
  remotePort: undefined,
  remoteFamily: 'IPv4',
  localAddress: '127.0.0.1',
  localPort: undefined,
  encrypted: false,
};

/** Carries the id of the peer of an internal request; removed before the app sees the request. */
const PEER_HEADER = 'x-express-cache-aside-peer';

const PEER_FIELDS = ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort', 'encrypted'] as const;

/** Shows the peer on the socket (own properties shadow net.Socket's getters); requests on one connection run one at a time. */
function showPeer(socket: Socket, peer: Peer): void {
  for (const field of PEER_FIELDS) {
    Object.defineProperty(socket, field, {
      value: field === 'encrypted' && !peer.encrypted ? undefined : peer[field],
      configurable: true,
      writable: true,
    });
  }
}

function dropHeader(req: IncomingMessage, name: string): void {
  delete req.headers[name];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === name) raw.splice(i, 2);
}

function socketPath(): string {
  const name = `express-cache-aside-${process.pid}-${randomBytes(6).toString('hex')}`;
  return process.platform === 'win32' ? `\\\\.\\pipe\\${name}` : join(tmpdir(), `${name}.sock`);
}

/** A private server for one app; start() lazily, close() when the cache closes. */
export class AppClient {
  private server: Server | undefined;
  private starting: Promise<string> | undefined;
  /** Peers of the requests in flight, by a random id only this process knows. */
  private readonly peers = new Map<string, Peer>();

  constructor(private readonly app: RequestListener) {}

  private readonly handle: RequestListener = (req, res) => {
    const id = req.headers[PEER_HEADER];
    const peer = typeof id === 'string' ? this.peers.get(id) : undefined;
    if (id !== undefined) dropHeader(req, PEER_HEADER);
    showPeer(req.socket, peer ?? LOOPBACK_PEER);
    this.app(req, res);
  };

  private start(): Promise<string> {
    this.starting ??= new Promise<string>((resolve, reject) => {
      const server = createServer(this.handle);
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

  /**
   * Sends a GET (or HEAD) through the app, seen by it as coming from `peer`; rejects on a connection error or
   * after timeoutMs.
   */
  async request(
    path: string,
    headers: IncomingHttpHeaders,
    timeoutMs: number,
    method = 'GET',
    peer: Peer = LOOPBACK_PEER,
  ): Promise<InternalResponse> {
    const socket = await this.start();
    const id = randomBytes(12).toString('base64url');
    this.peers.set(id, peer);
    return new Promise<InternalResponse>((resolve, reject) => {
      const req = request({ socketPath: socket, path, method, headers: { host: 'localhost', ...headers, [PEER_HEADER]: id } }, (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        res.once('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end();
    }).finally(() => this.peers.delete(id));
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
