/**
 * What each mutation of the shop clears when it succeeds, in one table, and
 * the names of the tags entries carry. An edit of course 5 clears the entries
 * that show course 5 (its detail by id and by slug, the lines of users' lists
 * that show it) and the catalog lists and counts the edited fields appear in,
 * and nothing else (issue 12). Functions run after the handler has answered
 * 2xx and before the response is sent, so they read what the handler found
 * out on `res.locals`: the row it changed (`catalogChange`), and, for the
 * namespace-only strategy, the users holding it (`usersTouched`).
 *
 * `before` is the namespace-only map the shop used before tags; INVALIDATION=namespaces
 * selects it, so the benchmark can compare both on the same requests.
 */
import type { Request } from 'express';
import { courses, events, productTypes, products, type CatalogSpec } from './catalog';
import { pathParam } from './validation';

/** How the shop clears: tags (precise, the default) or the namespace-only map of before issue 12. */
export type InvalidationStrategy = 'tags' | 'namespaces';

/** Cache namespace of one user's enrollments, purchases and bookings. */
export function userNamespace(userId: number | string): string {
  return `user:${userId}`;
}

/** Namespace of a catalog's per-item holder counts (`GET /courses/:id/enrollments/count`). */
export function holderCountsNamespace(spec: CatalogSpec): string {
  return `${spec.name}:${spec.heldIn.table}`;
}

const singular = (spec: CatalogSpec): string => spec.name.slice(0, -1);

/** The tags the shop's entries carry; each says what data the entry shows. */
export const tag = {
  /** The full row of one item: its detail by id and by slug (`course:5`). */
  item: (spec: CatalogSpec, id: number | string) => `${singular(spec)}:${id}`,
  /** The item's line in users' lists, i.e. its `shownInUserLists` fields (`course:5:summary`). */
  summary: (spec: CatalogSpec, id: number | string) => `${singular(spec)}:${id}:summary`,
  /** Who holds the item: its holder count (`course:5:enrollments`). */
  holders: (spec: CatalogSpec, id: number | string) => `${singular(spec)}:${id}:${spec.heldIn.table}`,
  /** The list of every live row (`GET /courses`). */
  all: (spec: CatalogSpec) => `${spec.name}:all`,
  /** The list of published rows (`GET /courses/published`). */
  published: (spec: CatalogSpec) => `${spec.name}:published`,
  /** Total and published counts (`GET /courses/count`). */
  count: (spec: CatalogSpec) => `${spec.name}:count`,
  /** Published products of one type (`GET /products/type/:type`). */
  productType: (type: string) => `products:type:${type}`,
  /** Published events after now (`GET /events/upcoming`). */
  upcomingEvents: 'events:upcoming',
  /** One of a user's lists (`user:7:enrollments`). */
  userList: (userId: number | string, list: string) => `user:${userId}:${list}`,
};

/** What a catalog handler changed, left on `res.locals.catalogChange` for the map. */
export interface CatalogChange {
  spec: CatalogSpec;
  kind: 'create' | 'update' | 'delete';
  id: number;
  /** Fields the request set (update only). */
  columns: readonly string[];
  /** The row after the change: what decides which filtered lists show it. */
  row: { is_published?: unknown; type?: unknown; event_date?: unknown };
}

/** The filtered published lists (published, per type, upcoming) a change of this row shows in. */
function filteredListTags(change: CatalogChange): string[] {
  const { spec, row, columns } = change;
  const touches = (column: string) => change.kind === 'update' && columns.includes(column);
  // An unpublished row that stays unpublished is in none of them.
  if (row.is_published !== true && !touches('is_published')) return [];
  const tags = [tag.published(spec)];
  if (spec.name === 'products') {
    // A changed type moved the product out of its old type's list, which is not known here: clear every type's.
    tags.push(...(touches('type') ? productTypes : [String(row.type)]).map(tag.productType));
  }
  if (spec.name === 'events') {
    const upcoming =
      row.event_date instanceof Date ? row.event_date.getTime() > Date.now() : Date.parse(String(row.event_date)) > Date.now();
    // A moved date may have taken the event out of the upcoming list: its old date is not known, so clear it.
    if (upcoming || touches('event_date')) tags.push(tag.upcomingEvents);
  }
  return tags;
}

/** Tags a catalog create, edit or soft delete clears: exactly the entries showing what it changed. */
export function catalogChangeTags(change: CatalogChange): string[] {
  const { spec, kind, id, columns } = change;
  const tags: string[] = [];
  // A new row is in no detail, user list or holder count yet.
  if (kind !== 'create') tags.push(tag.item(spec, id));
  if (kind === 'delete') tags.push(tag.summary(spec, id), tag.holders(spec, id));
  if (kind === 'update' && columns.some((column) => spec.shownInUserLists.includes(column))) tags.push(tag.summary(spec, id));
  if (kind !== 'update' || columns.some((column) => spec.shownInLists.includes(column))) {
    tags.push(tag.all(spec), ...filteredListTags(change));
  }
  if (kind !== 'update' || columns.includes('is_published')) tags.push(tag.count(spec));
  return tags;
}

/** What a mutation clears, given its request. */
export type ClearsOf = (req: Request) => string[];

function catalogChange(req: Request): CatalogChange | undefined {
  return req.res?.locals.catalogChange as CatalogChange | undefined;
}

const changeTags: ClearsOf = (req) => {
  const change = catalogChange(req);
  return change ? catalogChangeTags(change) : [];
};

/** Namespaces of the users the handler reported on `res.locals.usersTouched` (namespace-only strategy). */
function usersTouched(req: Request): string[] {
  const ids: unknown = req.res?.locals.usersTouched;
  return Array.isArray(ids) ? ids.map((id) => userNamespace(String(id))) : [];
}

/** The user in the path of `/users/:id/...` (already validated by the route). */
const pathUser = (req: Request): string => pathParam(req, 'id') ?? '';

/** What a holding (enrollment, purchase, booking) clears: the user's list of them and the item's holder count. */
function holdingTags(spec: CatalogSpec): ClearsOf {
  return (req) => {
    const itemId: unknown = req.res?.locals.heldItemId;
    return [tag.userList(pathUser(req), spec.heldIn.table), ...(itemId === undefined ? [] : [tag.holders(spec, String(itemId))])];
  };
}

/** Tags of the courses a bulk import updated: users' lists show them (the namespace clear covers the catalog). */
const importedSummaries =
  (spec: CatalogSpec): ClearsOf =>
  (req) => {
    const ids: unknown = req.res?.locals.updatedIds;
    return Array.isArray(ids) ? ids.map((id) => tag.summary(spec, String(id))) : [];
  };

/** One mutation's row: `tags` and `namespaces` as the shop clears today (either or both), `before` the namespace-only map. */
export interface Clears {
  tags?: ClearsOf;
  namespaces?: ClearsOf;
  before: ClearsOf;
}

/** The rows of one catalog's create, edit, soft delete and holding. */
function catalogRows(spec: CatalogSpec) {
  return {
    // Creates, edits and soft deletes: the entries showing the row or the fields it changed (see catalogChangeTags).
    // Before tags: the whole catalog, plus every holder's lists when the edit touched what they show, and the holder counts on delete.
    create: { tags: changeTags, before: () => [spec.name] },
    update: { tags: changeTags, before: (req: Request) => [spec.name, ...usersTouched(req)] },
    delete: { tags: changeTags, before: (req: Request) => [spec.name, holderCountsNamespace(spec), ...usersTouched(req)] },
    // A holding changes that user's list of them and the item's holder count; the catalog shows no per-user data.
    hold: { tags: holdingTags(spec), before: (req: Request) => [userNamespace(pathUser(req)), holderCountsNamespace(spec)] },
  } satisfies Record<string, Clears>;
}

const c = catalogRows(courses);
const p = catalogRows(products);
const e = catalogRows(events);

/** Every mutation and what it clears. */
export const invalidationMap = {
  'POST /courses': c.create,
  'PUT /courses/:id': c.update,
  'DELETE /courses/:id': c.delete,
  'POST /products': p.create,
  'PUT /products/:id': p.update,
  'DELETE /products/:id': p.delete,
  'POST /events': e.create,
  'PUT /events/:id': e.update,
  'DELETE /events/:id': e.delete,
  'POST /users/:id/enrollments': c.hold,
  'POST /users/:id/purchases': p.hold,
  'POST /users/:id/bookings': e.hold,
  // A bulk import rewrites the catalog: one namespace clear, whatever the number of rows; users' lists live in
  // their own namespaces, so the lines of the updated courses are cleared by tag beside it.
  'POST /admin/courses/import': {
    namespaces: () => [courses.name],
    tags: importedSummaries(courses),
    before: (req: Request) => [courses.name, ...usersTouched(req)],
  },
  // POST /admin/cache/clear is not a row: it calls cache.invalidateAll().
} satisfies Record<string, Clears>;

/** A mutation named in the map. */
export type Mutation = keyof typeof invalidationMap;

/** The cache.invalidate options of one row under a strategy. */
export function invalidateOptions(row: Clears, strategy: InvalidationStrategy): { tags?: ClearsOf; namespaces?: ClearsOf } {
  if (strategy === 'namespaces') return { namespaces: row.before };
  return { ...(row.tags ? { tags: row.tags } : {}), ...(row.namespaces ? { namespaces: row.namespaces } : {}) };
}
