// examples/quickstart/server.cjs: run with `node server.cjs` (CommonJS).
const express = require('express');
const { Redis } = require('ioredis');
const { createCache } = require('express-cache-aside');

// Stand-in data: your handlers would query a database here.
const courses = new Map([
  ['1', { id: 1, title: 'SQL from scratch' }],
  ['2', { id: 2, title: 'Caching with Redis' }],
]);

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const cache = createCache({ redis, prefix: process.env.CACHE_PREFIX ?? 'quickstart', ttl: 300 });
const app = express();
app.use(express.json());

app.get('/courses', cache.route({ namespace: 'courses', key: 'list', ttl: '10m' }), (_req, res) => {
  res.json([...courses.values()]);
});

app.get('/courses/:id', cache.route({ namespace: 'courses', key: (req) => `id:${req.params.id}` }), (req, res) => {
  const course = courses.get(req.params.id);
  if (!course) {
    res.status(404).json({ error: 'course not found' });
    return;
  }
  res.json(course);
});

// A 2xx answer clears the whole `courses` namespace before it reaches the client.
app.put('/courses/:id', cache.invalidate({ namespaces: ['courses'] }), (req, res) => {
  const course = courses.get(req.params.id);
  if (!course) {
    res.status(404).json({ error: 'course not found' });
    return;
  }
  if (typeof req.body?.title === 'string') course.title = req.body.title;
  res.json(course);
});

// CommonJS has no top-level await: warm up, then listen.
async function main() {
  const report = await cache.warmup(app, ['/courses', '/courses/1']);
  console.log(`warmed ${report.ok}, failed ${report.failed}`);
  const port = Number(process.env.PORT ?? 3000);
  // Express 5 hands a failed listen (EADDRINUSE: the port is taken) to this callback.
  app.listen(port, (error) => {
    if (error) throw error;
    console.log(`listening on http://localhost:${port}`);
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
