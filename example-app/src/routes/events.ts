/**
 * Event routes: the generic catalog routes plus upcoming events
 * (`/events/upcoming`: published, dated after now, soonest first).
 */
import type { Router } from 'express';
import { events } from '../catalog';
import type { Db } from '../db';
import { tag, type InvalidationStrategy } from '../invalidation-map';
import type { ShopCache } from '../shop-cache';
import { catalogRouter } from './catalog';

/** Router to mount at `/events`. */
export function eventsRouter(db: Db, cache: ShopCache, strategy: InvalidationStrategy): Router {
  return catalogRouter(events, db, cache, strategy, [
    {
      path: '/upcoming',
      key: 'list:upcoming',
      tags: [tag.upcomingEvents],
      ttlSeconds: events.ttlSeconds,
      handler: async (_req, res) => {
        const { rows } = await db.query(
          `SELECT ${events.listColumns} FROM events
            WHERE is_published AND deleted_at IS NULL AND event_date > now()
            ORDER BY event_date, id`,
        );
        res.json(rows);
      },
    },
  ]);
}
