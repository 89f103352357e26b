/**
 * Which cache namespaces each mutation of the shop clears when it succeeds,
 * in one table. `courses`, `products` and `events` hold each catalog's lists,
 * details and counts; `user:<id>` holds that user's enrollments, purchases and
 * bookings. Functions run after the handler has answered 2xx and before the
 * response is sent, so they can read what the handler found out: the users
 * whose lists show an edited item, left on `res.locals.usersTouched`.
 */
import type { Request } from 'express';
import { pathParam } from './validation';

/** Cache namespace of one user's enrollments, purchases and bookings. */
export function userNamespace(userId: number | string): string {
  return `user:${userId}`;
}

/** What a mutation clears, given its request. */
export type NamespacesOf = (req: Request) => string[];

/** Namespaces of the users the handler reported on `res.locals.usersTouched`. */
function usersTouched(req: Request): string[] {
  const ids: unknown = req.res?.locals.usersTouched;
  return Array.isArray(ids) ? ids.map((id) => userNamespace(String(id))) : [];
}

/** The user in the path of `/users/:id/...` (already validated by the route). */
function pathUser(req: Request): string[] {
  return [userNamespace(pathParam(req, 'id') ?? '')];
}

/** Every mutation and what it clears. */
export const invalidationMap = {
  // A new item shows up in its catalog's lists and counts; nobody holds it yet.
  'POST /courses': () => ['courses'],
  'POST /products': () => ['products'],
  'POST /events': () => ['events'],

  // An edit changes the catalog, and, when it touches a field the per-user lists show
  // (title, slug, image / type / date, venue), the lists of every user holding the item.
  'PUT /courses/:id': (req) => ['courses', ...usersTouched(req)],
  'PUT /products/:id': (req) => ['products', ...usersTouched(req)],
  'PUT /events/:id': (req) => ['events', ...usersTouched(req)],

  // A soft delete removes the item from its catalog and from every holder's list.
  'DELETE /courses/:id': (req) => ['courses', ...usersTouched(req)],
  'DELETE /products/:id': (req) => ['products', ...usersTouched(req)],
  'DELETE /events/:id': (req) => ['events', ...usersTouched(req)],

  // Enrolling, buying or booking changes that user's lists only: catalog data
  // shows no per-user counts, so the catalog entries stay valid.
  'POST /users/:id/enrollments': pathUser,
  'POST /users/:id/purchases': pathUser,
  'POST /users/:id/bookings': pathUser,
} satisfies Record<string, NamespacesOf>;

/** A mutation named in the map. */
export type Mutation = keyof typeof invalidationMap;
