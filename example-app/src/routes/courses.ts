/**
 * Course routes: the generic catalog routes, nothing course-specific.
 */
import type { Router } from 'express';
import { courses } from '../catalog';
import type { Db } from '../db';
import type { InvalidationStrategy } from '../invalidation-map';
import type { ShopCache } from '../shop-cache';
import { catalogRouter } from './catalog';

/** Router to mount at `/courses`. */
export function coursesRouter(db: Db, cache: ShopCache, strategy: InvalidationStrategy): Router {
  return catalogRouter(courses, db, cache, strategy);
}
