/**
 * Unit tests of the deadline queue: waiters expire in order at their
 * deadline (fake timers), a settled waiter never expires, and a settled
 * waiter releases its expiry callback (and so the payload it reaches) at
 * once, not when the queue next compacts (issue 14 item 18).
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { DeadlineQueue } from '../../src/deadline-queue';
import { fullGc } from '../helpers/gc';

describe('deadline-queue', function () {
  it('expires unsettled waiters in order at their deadline, never a settled one', function () {
    const clock = sinon.useFakeTimers();
    const queue = new DeadlineQueue(100);
    const expired: string[] = [];
    queue.add(() => expired.push('a'));
    clock.tick(30);
    const b = queue.add(() => expired.push('b'));
    queue.add(() => expired.push('c'));
    b.settled = true;
    clock.tick(69);
    expect(expired).to.deep.equal([]);
    clock.tick(1);
    expect(expired).to.deep.equal(['a']);
    clock.tick(30);
    expect(expired).to.deep.equal(['a', 'c']);
    expect(queue.size, 'walked-past waiters are dropped').to.equal(0);
    queue.stop();
  });

  it('a waiter expires once, and reports settled after it did', function () {
    const clock = sinon.useFakeTimers();
    const queue = new DeadlineQueue(10);
    let runs = 0;
    const waiter = queue.add(() => {
      runs += 1;
    });
    clock.tick(50);
    waiter.expire();
    expect(runs).to.equal(1);
    expect(waiter.settled).to.equal(true);
    queue.stop();
  });

  it('releases the payload a settled waiter reaches at once, while the waiter is still queued', async function () {
    const queue = new DeadlineQueue(60_000);
    const refs: Array<WeakRef<Buffer>> = [];
    for (let i = 0; i < 20; i += 1) {
      (() => {
        const payload = Buffer.alloc(1024 * 1024, i);
        refs.push(new WeakRef(payload));
        const waiter = queue.add(() => void payload.length);
        waiter.settled = true;
      })();
    }
    expect(queue.size, 'still queued: the timer has not walked past them').to.equal(20);
    await fullGc();
    expect(refs.filter((ref) => ref.deref() !== undefined).length, 'payloads still reachable').to.equal(0);
    queue.stop();
  });
});
