// The origin handlers the cached variants wrap: what an application would
// write. They count their calls, so the parent can tell hits from misses
// even for libraries that do not say what they did.

import type { Request, Response } from 'express';
import { itemJson } from './body';

let handlerCalls = 0;
const callTimesMs: number[] = [];

/** How many times any origin handler in this process ran. */
export function originCalls(): number {
  return handlerCalls;
}

/** When each origin call started (ms since the epoch), for the stampede suite. */
export function originCallTimes(): readonly number[] {
  return callTimesMs;
}

/** GET /item/:id: renders the item's JSON with res.send, as an Express app would. */
export function itemHandler(req: Request, res: Response): void {
  handlerCalls += 1;
  res.type('application/json').send(itemJson(String(req.params.id)));
}

/** A handler that waits `delayMs` (a stand-in for a database call) before answering. */
export function slowItemHandler(delayMs: number, recordTimes = false) {
  const body = itemJson('1');
  return (_req: Request, res: Response): void => {
    handlerCalls += 1;
    if (recordTimes) callTimesMs.push(Date.now());
    setTimeout(() => {
      res.type('application/json').send(body);
    }, delayMs);
  };
}
