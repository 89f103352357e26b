// Miss-path baseline: a handler that waits 1 ms (a stand-in for a fast
// database call) and sends the 2 KB body, with no cache in front.

import express from 'express';
import { slowItemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(() => {
  const app = express();
  app.get('/miss', slowItemHandler(1));
  return { app };
});
