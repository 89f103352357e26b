/**
 * The shop as an Express application, without listening: JSON body parsing,
 * the catalog, per-user and operational routes, a JSON 404, and the error
 * handler. Everything it talks to (database, cache, logger) is passed in.
 */
import express, { type Express } from 'express';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import type { Db } from './db';
import { errorHandler, jsonBody, notFoundHandler } from './http-errors';
import { silentLogger, type Logger } from './logger';
import { coursesRouter } from './routes/courses';
import { eventsRouter } from './routes/events';
import { productsRouter } from './routes/products';
import { systemRouter } from './routes/system';
import { usersRouter } from './routes/users';
import type { ShopCache } from './shop-cache';

/** What the shop is built from. */
export interface AppOptions {
  db: Db;
  cache: ShopCache;
  logger?: Logger;
  /** The cache's Redis client, for GET /health; absent with the in-memory store. */
  redis?: Redis;
  /** The registry the cache's metrics are in, served at GET /metrics; absent, there is no such route. */
  registry?: Registry;
}

/** The shop's Express application. */
export function createApp({ db, cache, logger = silentLogger, redis, registry }: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(jsonBody());

  app.use('/courses', coursesRouter(db, cache));
  app.use('/products', productsRouter(db, cache));
  app.use('/events', eventsRouter(db, cache));
  app.use('/users', usersRouter(db, cache));
  app.use(systemRouter(db, cache, redis, registry));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
