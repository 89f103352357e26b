/**
 * Errors a handler throws to answer a client with a 4xx, and the error handler
 * that turns every failure into JSON: bad bodies (undecodable, too deep) and
 * paths (bad percent-encoding) and validation into 400 naming the field, database trouble into 503, anything else into 500. No stack trace
 * or SQL text ever reaches a client.
 */
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { DatabaseError } from './db';
import type { Logger } from './logger';

/** A client error with the status and JSON body to send. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** 400 for a request body or parameter that fails its rule; names the field. */
export class ValidationError extends HttpError {
  constructor(field: string, message: string) {
    super(400, `${field} ${message}`, field);
    this.name = 'ValidationError';
  }
}

/** 404 for a route nobody mounted. */
export const notFoundHandler: RequestHandler = (_req, res) => {
  res.status(404).json({ error: 'not found' });
};

// SQLSTATE classes that mean the request, not the database, was at fault.
const conflictCodes = new Set(['23505']);
const badInputPrefixes = ['22', '23514'];

function bodyParserStatus(error: unknown): number | undefined {
  const candidate = error as { type?: unknown; status?: unknown };
  if (typeof candidate.type === 'string' && typeof candidate.status === 'number') return candidate.status;
  return undefined;
}

/**
 * express.json() (100 kB), where every failure is the client's: body-parser's own errors keep their
 * status, and anything else it passes on (a zlib error from a `Content-Encoding: gzip` or `deflate` body
 * that is not such a stream) becomes a 400 naming the body, not a 500.
 */
export function jsonBody(): RequestHandler {
  const parse = express.json({ limit: '100kb' });
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => {
      if (error === undefined || bodyParserStatus(error) !== undefined) {
        next(error);
        return;
      }
      const encoding = req.get('content-encoding') ?? 'identity';
      next(new ValidationError('body', `could not be decoded as Content-Encoding: ${encoding}`));
    });
  };
}

/** The last middleware: every error becomes a JSON answer without internals. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    if (res.headersSent) {
      // Too late for a clean answer: cut the response so the client sees a failure, not a truncated success.
      res.destroy();
      return;
    }
    if (error instanceof HttpError) {
      res.status(error.status).json(error.field === undefined ? { error: error.message } : { error: error.message, field: error.field });
      return;
    }
    // Express's router marks a path parameter that is not valid percent-encoding (`/users/%ZZ/enrollments`) with a 400.
    if (error instanceof URIError && (error as { status?: unknown }).status === 400) {
      res.status(400).json({ error: 'path is not valid percent-encoding', field: 'path' });
      return;
    }
    const parserStatus = bodyParserStatus(error);
    if (parserStatus !== undefined && parserStatus >= 400 && parserStatus < 500) {
      const type = (error as { type: string }).type;
      const message = type === 'entity.parse.failed' ? 'request body is not valid JSON' : `request body rejected (${type})`;
      res.status(parserStatus).json({ error: message, field: 'body' });
      return;
    }
    if (error instanceof DatabaseError) {
      const code = error.code ?? '';
      if (conflictCodes.has(code)) {
        const field = /_(\w+?)_key$/.exec(error.constraint ?? '')?.[1];
        res.status(409).json(field === undefined ? { error: 'conflict' } : { error: `${field} already exists`, field });
        return;
      }
      if (badInputPrefixes.some((prefix) => code.startsWith(prefix))) {
        res.status(400).json({ error: 'a value is out of range or malformed' });
        return;
      }
      logger.error('database error', { method: req.method, path: req.path, code, message: error.message });
      res.status(503).json({ error: 'database unavailable, try again shortly' });
      return;
    }
    logger.error('unexpected error', { method: req.method, path: req.path, message: String((error as Error)?.message ?? error) });
    res.status(500).json({ error: 'internal error' });
  };
}
