/**
 * Per-user routes: a user's enrollments, purchases and bookings, each joined
 * with the course, product or event it refers to (cached in the namespace
 * `user:<id>`, tagged with the list and with the summary tag of every item
 * it shows, so an edit of one of them clears it), and the mutations that add to them.
 */
import { Router, type Request, type RequestHandler } from 'express';
import { courses, events, products, type CatalogSpec } from '../catalog';
import { ttlSeconds } from '../config';
import type { Db } from '../db';
import { methodGuard } from '../method-guard';
import { HttpError } from '../http-errors';
import { invalidateOptions, invalidationMap, tag, userNamespace, type InvalidationStrategy } from '../invalidation-map';
import type { ShopCache } from '../shop-cache';
import { bodyObject, parseId, pathParam, validateBody } from '../validation';
import { entryTags } from './catalog';

/** One kind of thing a user holds, and the catalog whose items it points at. */
interface Holding {
  /** The catalog; its `heldIn` names this holding's table and column, its `shownInUserLists` what the list shows. */
  catalog: CatalogSpec;
  /** Columns of the holding itself (alias `h`) that the list shows. */
  ownColumns: string;
  orderBy: string;
  /** The INSERT for `$1` = user id and `$2` = item id; yields no row when the user already holds the item. */
  insert: string;
  /** Extra checks selected alongside existence (alias `i` is the item). */
  extraChecks?: string;
  /** Says why the item cannot be taken now, or null; gets the checks row. */
  refuse?: (checks: Record<string, unknown>) => string | null;
  conflict: string;
}

const holdings: Holding[] = [
  {
    catalog: courses,
    ownColumns: 'h.id, h.progress, h.enrolled_at',
    orderBy: 'h.enrolled_at DESC, h.id DESC',
    insert: `INSERT INTO enrollments (user_id, course_id) VALUES ($1, $2)
             ON CONFLICT (user_id, course_id) DO NOTHING
             RETURNING id, user_id, course_id, progress, enrolled_at`,
    conflict: 'already enrolled in this course',
  },
  {
    catalog: products,
    ownColumns: 'h.id, h.price_paid::float8 AS price_paid, h.purchased_at',
    orderBy: 'h.purchased_at DESC, h.id DESC',
    // The price paid is the catalog price at the moment of purchase.
    insert: `INSERT INTO purchases (user_id, product_id, price_paid)
             SELECT $1, id, price FROM products WHERE id = $2
             ON CONFLICT (user_id, product_id) DO NOTHING
             RETURNING id, user_id, product_id, price_paid::float8 AS price_paid, purchased_at`,
    conflict: 'already purchased this product',
  },
  {
    catalog: events,
    ownColumns: 'h.id, h.booked_at',
    orderBy: 'i.event_date DESC, h.id DESC',
    // Capacity is checked in the INSERT itself, so a full event yields no row.
    insert: `INSERT INTO bookings (user_id, event_id)
             SELECT $1, e.id FROM events e
              WHERE e.id = $2 AND e.capacity > (SELECT count(*) FROM bookings b WHERE b.event_id = e.id)
             ON CONFLICT (user_id, event_id) DO NOTHING
             RETURNING id, user_id, event_id, booked_at`,
    extraChecks: `i.event_date > now() AS upcoming,
                  i.capacity - (SELECT count(*) FROM bookings b WHERE b.event_id = i.id)::int AS seats_left`,
    refuse: (checks) => {
      if (checks.upcoming !== true) return 'event has already taken place';
      if (typeof checks.seats_left === 'number' && checks.seats_left <= 0) return 'event is full';
      return null;
    },
    conflict: 'already booked this event, or the event is full',
  },
];

const userKey = (req: Request): string => userNamespace(pathParam(req, 'id') ?? '');

const checkUserId: RequestHandler = (req, _res, next) => {
  parseId(req);
  next();
};

/** Router to mount at `/users`. */
export function usersRouter(db: Db, cache: ShopCache, strategy: InvalidationStrategy): Router {
  const router = Router();
  router.use(methodGuard(router));

  for (const holding of holdings) {
    const { table: path, column: itemColumn } = holding.catalog.heldIn;
    const catalog = holding.catalog.name;
    const singular = catalog.slice(0, -1);

    router.get(
      `/:id/${path}`,
      checkUserId,
      cache.route({ namespace: userKey, key: path, ttl: ttlSeconds.perUser, ...(strategy === 'tags' ? { tags: entryTags } : {}) }),
      async (req, res) => {
        // The LEFT JOIN from users tells "no such user" (no row) from "holds nothing" (one empty row);
        // items soft-deleted from the catalog drop out of the list.
        const itemColumns = ['id', ...holding.catalog.shownInUserLists].map((column) => `i.${column} AS item_${column}`);
        const { rows } = await db.query<Record<string, unknown>>(
          `SELECT ${holding.ownColumns}, ${itemColumns.join(', ')}
             FROM users u
             LEFT JOIN (${path} h JOIN ${catalog} i
                         ON i.id = h.${itemColumn} AND i.deleted_at IS NULL)
               ON h.user_id = u.id
            WHERE u.id = $1
            ORDER BY ${holding.orderBy}`,
          [parseId(req)],
        );
        if (rows.length === 0) throw new HttpError(404, 'user not found');
        const held = rows.filter((row) => row.id !== null);
        res.locals.entryTags = [tag.userList(parseId(req), path), ...held.map((row) => tag.summary(holding.catalog, String(row.item_id)))];
        res.json(held.map((row) => nest(row, singular)));
      },
    );

    router.post(
      `/:id/${path}`,
      checkUserId,
      cache.invalidate(invalidateOptions(invalidationMap[`POST /users/:id/${path}` as const], strategy)),
      async (req, res) => {
        const userId = parseId(req);
        const body = validateBody(
          bodyObject(req),
          { [itemColumn]: { kind: 'integer', required: true, min: 1, max: 2_147_483_647 } },
          'create',
        );
        const itemId = body.get(itemColumn) as number;
        const { rows } = await db.query<Record<string, unknown>>(
          `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS user_found,
                  i.id IS NOT NULL AS item_found,
                  EXISTS (SELECT 1 FROM ${path} WHERE user_id = $1 AND ${itemColumn} = $2) AS held
                  ${holding.extraChecks ? `, ${holding.extraChecks}` : ''}
             FROM (SELECT 1) AS one
             LEFT JOIN ${catalog} i ON i.id = $2 AND i.is_published AND i.deleted_at IS NULL`,
          [userId, itemId],
        );
        const checks = rows[0] ?? {};
        if (checks.user_found !== true) throw new HttpError(404, 'user not found');
        if (checks.item_found !== true) throw new HttpError(404, `${singular} not found`, itemColumn);
        if (checks.held === true) throw new HttpError(409, holding.conflict, itemColumn);
        const refusal = holding.refuse?.(checks);
        if (refusal) throw new HttpError(409, refusal, itemColumn);
        const inserted = await db.query(holding.insert, [userId, itemId]);
        if (inserted.rows.length === 0) throw new HttpError(409, holding.conflict, itemColumn);
        res.locals.heldItemId = itemId;
        res.status(201).json(inserted.rows[0]);
      },
    );
  }

  return router;
}

/** One list row with its `item_*` columns moved under the item's name (`course`, `product`, `event`). */
function nest(row: Record<string, unknown>, singular: string): Record<string, unknown> {
  const own: Record<string, unknown> = {};
  const item: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (column.startsWith('item_')) item[column.slice('item_'.length)] = value;
    else own[column] = value;
  }
  return { ...own, [singular]: item };
}
