/**
 * A circuit breaker in front of the store: after `failures` consecutive
 * failures it opens for `cooldownMs`, during which requests skip the store
 * at once instead of each paying a timeout; then one probe is let through,
 * and its outcome closes or reopens the circuit.
 */

/** The breaker's state machine. */
export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly failures: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a store call may be made now; in half-open state only one caller gets true. */
  allow(): boolean {
    if (this.consecutiveFailures < this.failures) return true;
    if (this.now() < this.openUntil || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** Records a store call that answered. */
  success(): void {
    this.consecutiveFailures = 0;
    this.probing = false;
  }

  /** Records a failed or timed-out store call; returns true when this failure opened the circuit. */
  failure(): boolean {
    this.probing = false;
    this.consecutiveFailures++;
    if (this.consecutiveFailures >= this.failures) {
      const opened = this.now() >= this.openUntil;
      this.openUntil = this.now() + this.cooldownMs;
      return opened;
    }
    return false;
  }

  /** Whether the circuit is open (store being skipped). */
  isOpen(): boolean {
    return this.consecutiveFailures >= this.failures;
  }
}
