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
import type { InvalidationStrategy } from './invalidation-map';
import { adminRouter } from './routes/admin';
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
  /** How mutations clear the cache. @default 'tags' */
  invalidation?: InvalidationStrategy;
  /** Bearer token of the /admin routes; absent, they are not mounted (404). */
  adminToken?: string;
}

/** The shop's Express application. */
export function createApp(options: AppOptions): Express {
  const { db, cache, logger = silentLogger, redis, registry, invalidation = 'tags', adminToken } = options;
  const app = express();
  app.disable('x-powered-by');
  app.use(jsonBody());

  app.use('/courses', coursesRouter(db, cache, invalidation));
  app.use('/products', productsRouter(db, cache, invalidation));
  app.use('/events', eventsRouter(db, cache, invalidation));
  app.use('/users', usersRouter(db, cache, invalidation));
  if (adminToken) app.use('/admin', adminRouter(db, cache, invalidation, adminToken));
  app.use(systemRouter(db, cache, redis, registry));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
