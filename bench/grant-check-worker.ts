// The second process of the revocation-latency measurement (see grant-check.ts): its own
// PostgreSQL connection pool and LISTEN connection, its own GrantCheck, as a second `serve`
// process has. For each key the parent names it warms the key (allowed, answered from the
// cache), says so, then checks it continuously and reports the instant its answer flips.
import { openDatabase } from '../src/db/database.js';
import { GrantCheck, type GrantMethod } from '../src/modules/grants/check.js';

export type WorkerRequest = { readonly type: 'watch'; readonly systemId: string; readonly resource: string; readonly method: GrantMethod } | { readonly type: 'stop' };
export type WorkerReply =
  | { readonly type: 'started' }
  | { readonly type: 'watching' }
  /** `at`: performance.timeOrigin + performance.now() when the check first refused. */
  | { readonly type: 'flipped'; readonly at: number; readonly code: string; readonly checks: number }
  | { readonly type: 'failed'; readonly reason: string };

const send = (reply: WorkerReply): void => {
  process.send!(reply);
};

const url = process.argv[2];
if (!url) throw new Error('usage: grant-check-worker.js <database url>');
const handle = await openDatabase({ kind: 'postgres', url, poolSize: 2 });
const check = new GrantCheck({ db: handle.db, listen: handle.listen, now: () => new Date() });
await check.start();

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function watch(r: Extract<WorkerRequest, { type: 'watch' }>): Promise<void> {
  // Warm: allowed, and from the cache (a load overlapping a notification is not cached).
  for (let tries = 0; ; tries++) {
    const answer = check.check(r.systemId, r.resource, r.method);
    if (!(answer instanceof Promise)) {
      if (!answer.allowed) throw new Error(`the key is refused before the revocation: ${answer.code}`);
      break;
    }
    await answer;
    if (tries > 1_000) throw new Error('the key never came from the cache');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  send({ type: 'watching' });
  let checks = 0;
  for (;;) {
    const a = check.check(r.systemId, r.resource, r.method);
    const answer = a instanceof Promise ? await a : a;
    checks += 1;
    if (!answer.allowed) {
      send({ type: 'flipped', at: performance.timeOrigin + performance.now(), code: answer.code, checks });
      return;
    }
    // Let the notification in: one check per turn of the event loop.
    await tick();
  }
}

process.on('message', (m: WorkerRequest) => {
  if (m.type === 'stop') {
    void check
      .stop()
      .then(() => handle.close())
      .finally(() => process.exit(0));
    return;
  }
  watch(m).catch((e: unknown) => send({ type: 'failed', reason: e instanceof Error ? e.message : String(e) }));
});
send({ type: 'started' });
