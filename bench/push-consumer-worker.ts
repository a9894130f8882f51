// The consumer of the push benchmark (exchange-push.ts), in its own thread as a consumer is its
// own process: fetches the subscription's batches over mutual TLS, each fetch acknowledging the
// previous batch, parses every answer, and reports what it received and how long it took.
import { Agent, request } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

export interface ConsumerRequest {
  readonly base: string;
  readonly tls: { readonly key: string; readonly cert: string; readonly ca: string };
  readonly batchRows: number;
}

export type ConsumerReply = { readonly ok: true; readonly delivered: number; readonly batches: number; readonly seconds: number } | { readonly ok: false; readonly error: string };

interface Batch {
  readonly generation: number;
  readonly cursor: number;
  readonly more: boolean;
  readonly changes: readonly unknown[];
}

/** POSTs JSON over the agent's connection; the answer's text, or an error naming a non-200 status. */
export function postJson(agent: Agent, url: string, body: unknown): Promise<string> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`POST ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(text);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function consume({ base, tls, batchRows }: ConsumerRequest): Promise<ConsumerReply> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ...tls });
  try {
    const started = performance.now();
    let delivered = 0;
    let batches = 0;
    let ack: { generation: number; cursor: number } | undefined;
    for (;;) {
      const batch = JSON.parse(await postJson(agent, `${base}/changes`, { limit: batchRows, ...(ack ? { ack } : {}) })) as Batch;
      delivered += batch.changes.length;
      batches++;
      ack = { generation: batch.generation, cursor: batch.cursor };
      if (!batch.more) {
        await postJson(agent, `${base}/ack`, ack);
        break;
      }
    }
    return { ok: true, delivered, batches, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    agent.destroy();
  }
}

// Only in the consumer's thread (the benchmark imports postJson from here too).
if (parentPort) void consume(workerData as ConsumerRequest).then((reply) => parentPort!.postMessage(reply));
