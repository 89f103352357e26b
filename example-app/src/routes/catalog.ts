/**
 * Routes of one catalog (courses, products or events) built from its
 * `CatalogSpec`: cached reads (list, published, count, by id, by slug, an
 * item's holder count, plus any catalog-specific reads), each entry tagged
 * with what it shows, and invalidating writes (create, edit, soft delete)
 * that leave what they changed for the invalidation map.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { CatalogSpec } from '../catalog';
import { ttlSeconds } from '../config';
import type { Db } from '../db';
import { methodGuard } from '../method-guard';
import { HttpError } from '../http-errors';
import {
  holderCountsNamespace,
  invalidateOptions,
  invalidationMap,
  tag,
  type CatalogChange,
  type InvalidationStrategy,
  type Mutation,
} from '../invalidation-map';
import type { ShopCache } from '../shop-cache';
import { bodyObject, parseId, parseSlug, validateBody } from '../validation';

/** A read a catalog adds to the generic ones, mounted before `/:id`. */
export interface ExtraRead {
  path: string;
  /** Checks the request before the cache sees it (a 400 is never a cache entry). */
  check?: (req: Request) => void;
  key: string | ((req: Request) => string);
  /** Tags of the entry. */
  tags: string[] | ((req: Request) => string[]);
  ttlSeconds: number;
  handler: (req: Request, res: Response) => Promise<void>;
}

/** Runs `check` and passes on; its throw becomes the error handler's 400. */
function checked(check: (req: Request) => void): RequestHandler {
  return (req, _res, next) => {
    check(req);
    next();
  };
}

/** Tags a handler left on `res.locals.entryTags`: those a route knows only from the rows it read. */
export function entryTags(_req: Request, res: Response): string[] {
  const tags: unknown = res.locals.entryTags;
  return Array.isArray(tags) ? (tags as string[]) : [];
}

/** The router of one catalog, to mount at `/<spec.name>`. */
export function catalogRouter(
  spec: CatalogSpec,
  db: Db,
  cache: ShopCache,
  strategy: InvalidationStrategy,
  extraReads: ExtraRead[] = [],
): Router {
  const router = Router();
  const { name } = spec;
  router.use(methodGuard(router));
  const singular = name.slice(0, -1);
  type Tags = string[] | ((req: Request, res: Response) => string[]);
  // The namespace-only strategy stores entries without tags, as the shop did before them.
  const tagsOption = (tags: Tags) => (strategy === 'tags' ? { tags } : {});
  const cached = (key: string | ((req: Request) => string), tags: Tags, ttl = spec.ttlSeconds, namespace: string = name) =>
    cache.route({ namespace, key, ttl, ...tagsOption(tags) });
  const clears = (mutation: Mutation) => cache.invalidate(invalidateOptions(invalidationMap[mutation], strategy));
  const change = (res: Response, value: CatalogChange): void => {
    res.locals.catalogChange = value;
  };

  router.get('/', cached('list:all', [tag.all(spec)]), async (_req, res) => {
    const { rows } = await db.query(`SELECT ${spec.listColumns} FROM ${name} WHERE deleted_at IS NULL ORDER BY id`);
    res.json(rows);
  });

  router.get('/published', cached('list:published', [tag.published(spec)]), async (_req, res) => {
    const { rows } = await db.query(`SELECT ${spec.listColumns} FROM ${name} WHERE deleted_at IS NULL AND is_published ORDER BY id`);
    res.json(rows);
  });

  router.get('/count', cached('count', [tag.count(spec)], ttlSeconds.counts), async (_req, res) => {
    const { rows } = await db.query(
      `SELECT count(*)::int AS total, (count(*) FILTER (WHERE is_published))::int AS published
         FROM ${name} WHERE deleted_at IS NULL`,
    );
    res.json(rows[0]);
  });

  for (const read of extraReads) {
    const guards = read.check ? [checked(read.check)] : [];
    const tags = read.tags;
    router.get(
      read.path,
      ...guards,
      cached(read.key, typeof tags === 'function' ? (req) => tags(req) : tags, read.ttlSeconds),
      read.handler,
    );
  }

  // Tagged with the id it found, so an edit of that id clears it like the detail by id.
  router.get(
    '/slug/:slug',
    checked((req) => parseSlug(req)),
    cached((req) => `slug:${req.params.slug}`, entryTags),
    async (req, res) => {
      const { rows } = await db.query<{ id: number }>(`SELECT ${spec.detailColumns} FROM ${name} WHERE slug = $1 AND deleted_at IS NULL`, [
        parseSlug(req),
      ]);
      const row = rows[0];
      if (row === undefined) throw new HttpError(404, `${singular} not found`);
      res.locals.entryTags = [tag.item(spec, row.id)];
      res.json(row);
    },
  );

  // How many users hold the item (a course's students): a count an enrollment changes, in a namespace of its own.
  const { table: heldTable, column: heldColumn } = spec.heldIn;
  router.get(
    `/:id/${heldTable}/count`,
    checked((req) => parseId(req)),
    cached(
      (req) => `id:${req.params.id}`,
      (req) => [tag.holders(spec, parseId(req))],
      ttlSeconds.counts,
      holderCountsNamespace(spec),
    ),
    async (req, res) => {
      const { rows } = await db.query(
        `SELECT i.id, (SELECT count(*)::int FROM ${heldTable} h WHERE h.${heldColumn} = i.id) AS ${heldTable}
           FROM ${name} i WHERE i.id = $1 AND i.deleted_at IS NULL`,
        [parseId(req)],
      );
      if (rows.length === 0) throw new HttpError(404, `${singular} not found`);
      res.json(rows[0]);
    },
  );

  router.get(
    '/:id',
    checked((req) => parseId(req)),
    cached(
      (req) => `id:${req.params.id}`,
      (req) => [tag.item(spec, parseId(req))],
    ),
    async (req, res) => {
      const { rows } = await db.query(`SELECT ${spec.detailColumns} FROM ${name} WHERE id = $1 AND deleted_at IS NULL`, [parseId(req)]);
      if (rows.length === 0) throw new HttpError(404, `${singular} not found`);
      res.json(rows[0]);
    },
  );

  // Namespace-only strategy: users whose per-user lists show this row, asked in a statement of its own once the
  // edit is committed. (With tags their lists carry the row's summary tag, so no query is needed.)
  // Asked inside the UPDATE, a waiter on the row lock would read them in the snapshot it started with and miss
  // a user who enrolled while it waited; asked afterwards, every holder whose list can still show the old row
  // is found (one enrolled later reads the committed edit), and their lists are cleared with the response.
  const holdersOf = async (id: number): Promise<number[]> => {
    const { rows } = await db.query<{ user_id: number }>(
      `SELECT DISTINCT user_id FROM ${spec.heldIn.table} WHERE ${spec.heldIn.column} = $1 ORDER BY 1`,
      [id],
    );
    return rows.map((row) => row.user_id);
  };

  router.post('/', clears(`POST /${name}` as const), async (req, res) => {
    const values = validateBody(bodyObject(req), spec.fields, 'create');
    const columns = [...values.keys()];
    const { rows } = await db.query<{ id: number } & CatalogChange['row']>(
      `INSERT INTO ${name} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})
       RETURNING ${spec.detailColumns}`,
      [...values.values()],
    );
    const created = rows[0];
    if (created === undefined) throw new Error(`INSERT INTO ${name} returned no row`);
    change(res, { spec, kind: 'create', id: created.id, columns, row: created });
    res.status(201).location(`/${name}/${created.id}`).json(created);
  });

  router.put(
    '/:id',
    checked((req) => parseId(req)),
    clears(`PUT /${name}/:id` as const),
    async (req, res) => {
      const id = parseId(req);
      const values = validateBody(bodyObject(req), spec.fields, 'update');
      const columns = [...values.keys()];
      const visibleToUsers = columns.some((column) => spec.shownInUserLists.includes(column));
      const { rows } = await db.query<Record<string, unknown>>(
        `UPDATE ${name} SET ${columns.map((column, i) => `${column} = $${i + 2}`).join(', ')}, updated_at = now()
        WHERE id = $1 AND deleted_at IS NULL
       RETURNING ${spec.detailColumns}`,
        [id, ...values.values()],
      );
      const updated = rows[0];
      if (updated === undefined) throw new HttpError(404, `${singular} not found`);
      change(res, { spec, kind: 'update', id, columns, row: updated });
      if (strategy === 'namespaces') res.locals.usersTouched = visibleToUsers ? await holdersOf(id) : [];
      res.json(updated);
    },
  );

  router.delete(
    '/:id',
    checked((req) => parseId(req)),
    clears(`DELETE /${name}/:id` as const),
    async (req, res) => {
      const { rows } = await db.query<{ id: number; deleted_at: Date } & CatalogChange['row']>(
        `UPDATE ${name} SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL
       RETURNING id, deleted_at, ${spec.shownInLists.filter((column) => ['is_published', 'type', 'event_date'].includes(column)).join(', ')}`,
        [parseId(req)],
      );
      const deleted = rows[0];
      if (deleted === undefined) throw new HttpError(404, `${singular} not found`);
      change(res, { spec, kind: 'delete', id: deleted.id, columns: [], row: deleted });
      if (strategy === 'namespaces') res.locals.usersTouched = await holdersOf(deleted.id);
      res.json({ id: deleted.id, deleted_at: deleted.deleted_at });
    },
  );

  return router;
}
