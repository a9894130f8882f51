/**
 * Login attempts per client address. The account lockout stops guessing one account's password;
 * this stops one address from trying many accounts (or none: unknown names cost a password hash
 * too, which is what makes login expensive). Counted per process in fixed one-minute windows — with
 * several servers behind a balancer each enforces its own share, which is enough to take away the
 * cheap volume attack; the per-account lockout in the database stays exact.
 */
export class LoginThrottle {
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => Date,
  ) {}

  /** Counts an attempt; returns the seconds to wait when over the limit, else 0. */
  take(address: string): number {
    const t = this.now().getTime();
    if (this.#windows.size > 10_000) this.#sweep(t);
    const w = this.#windows.get(address);
    if (!w || t - w.start >= 60_000) {
      this.#windows.set(address, { start: t, count: 1 });
      return 0;
    }
    w.count++;
    return w.count > this.perMinute ? Math.max(1, Math.ceil((w.start + 60_000 - t) / 1000)) : 0;
  }

  #sweep(t: number): void {
    for (const [k, w] of this.#windows) if (t - w.start >= 60_000) this.#windows.delete(k);
  }
}
