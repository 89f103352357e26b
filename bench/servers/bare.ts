// Variant "bare": no cache, the body precomputed and sent with res.end.
// The ceiling: what Express itself costs per request on this machine.

import express from 'express';
import { ITEM_IDS, itemJson, sendItemBody } from '../lib/body';
import { runServer } from '../lib/server-main';

runServer(() => {
  const bodies = new Map(ITEM_IDS.map((id) => [id, Buffer.from(itemJson(id))]));
  const app = express();
  app.get('/item/:id', (req, res) => sendItemBody(res, bodies.get(String(req.params.id))));
  return { app };
});
