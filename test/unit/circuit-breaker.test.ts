/** The circuit breaker's states, on a fake clock. */
import { expect } from 'chai';
import { CircuitBreaker } from '../../src/circuit-breaker';

describe('circuit breaker', function () {
  it('opens after N consecutive failures, lets one probe through after the cooldown, closes on success', function () {
    let now = 0;
    const breaker = new CircuitBreaker(3, 1000, () => now);
    expect(breaker.failure()).to.equal(false);
    breaker.failure();
    expect(breaker.allow()).to.equal(true);
    expect(breaker.failure()).to.equal(true);
    expect(breaker.allow()).to.equal(false);
    now = 999;
    expect(breaker.allow()).to.equal(false);
    now = 1000;
    expect(breaker.allow()).to.equal(true);
    expect(breaker.allow()).to.equal(false);
    breaker.success();
    expect(breaker.isOpen()).to.equal(false);
    expect(breaker.allow()).to.equal(true);
  });

  it('a failed probe reopens it for another cooldown', function () {
    let now = 0;
    const breaker = new CircuitBreaker(1, 500, () => now);
    breaker.failure();
    now = 500;
    expect(breaker.allow()).to.equal(true);
    breaker.failure();
    now = 900;
    expect(breaker.allow()).to.equal(false);
    now = 1000;
    expect(breaker.allow()).to.equal(true);
  });

  it('a success between failures resets the count', function () {
    const breaker = new CircuitBreaker(2, 1000, () => 0);
    breaker.failure();
    breaker.success();
    breaker.failure();
    expect(breaker.isOpen()).to.equal(false);
  });
});
