// Variant "bare": no cache, the body precomputed and sent with res.end.
// The ceiling: what Express itself costs per request on this machine.

import express from 'express';
import { ITEM_IDS, itemJson } from '../lib/body';
import { runServer } from '../lib/server-main';

runServer(() => {
  const bodies = new Map(ITEM_IDS.map((id) => [id, Buffer.from(itemJson(id))]));
  const app = express();
  app.get('/item/:id', (req, res) => {
    const body = bodies.get(String(req.params.id));
    if (!body) {
      res.status(404).end();
      return;
    }
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(body);
  });
  return { app };
});
