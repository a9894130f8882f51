/** The console's only way to the platform: JSON calls to /api/v1 with the session cookie. */

export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly messageZh?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly requestId?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
  get code(): string {
    return this.body.code;
  }
}

type Listener = (e: ApiError) => void;
const sessionEndListeners = new Set<Listener>();

/** Called when a call finds the session gone (idle or absolute timeout, ended elsewhere). */
export function onSessionEnd(listener: Listener): () => void {
  sessionEndListeners.add(listener);
  return () => sessionEndListeners.delete(listener);
}

const SESSION_END_CODES = new Set(['GS_ERR_AUTH_SESSION_EXPIRED', 'GS_ERR_AUTH_REQUIRED', 'GS_ERR_AUTH_SESSION_CERT_MISMATCH']);

export type Query = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;

export function queryString(q: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === '') continue;
    if (Array.isArray(v)) for (const one of v) p.append(k, one);
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A JSON call to the API; an error answer throws an ApiError with the platform's code and message. */
export async function api<T>(method: Method, path: string, body?: unknown, opts: { quiet?: boolean } = {}): Promise<T> {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer<T>(res, opts);
}

/**
 * Sends a file as the raw body (the catalog import, attachments), with its own content type; the
 * answer is JSON like `api`'s.
 */
export async function upload<T>(path: string, file: Blob, contentType = file.type || 'application/octet-stream', opts: { quiet?: boolean } = {}): Promise<T> {
  const res = await fetch(`/api/v1${path}`, { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json', 'content-type': contentType }, body: file });
  return answer<T>(res, opts);
}

/**
 * `upload` with progress: the share of the file sent so far (0–1) is reported as it goes (fetch
 * cannot report an upload's progress; XMLHttpRequest can).
 */
export function uploadWithProgress<T>(path: string, file: Blob, contentType: string, onProgress: (sent: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1${path}`);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.setRequestHeader('content-type', contentType);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new TypeError('network error'));
    xhr.onload = () => {
      const headers = new Headers({ 'content-type': xhr.getResponseHeader('content-type') ?? 'application/json' });
      answer<T>(new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText, headers }), {}).then(resolve, reject);
    };
    xhr.send(file);
  });
}

/**
 * Fetches a file (an export, an attachment) and hands it to the browser as a download under the
 * name the server gives in Content-Disposition, else `fallbackName`.
 */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await fetch(`/api/v1${path}`, { credentials: 'same-origin' });
  if (!res.ok) await answer<never>(res, {});
  const blob = await res.blob();
  const name = fileNameOf(res.headers.get('content-disposition')) ?? fallbackName;
  const url = URL.createObjectURL(blob);
  try {
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

/** The file name of a Content-Disposition header (`filename*=UTF-8''…` preferred). */
export function fileNameOf(disposition: string | null): string | null {
  if (!disposition) return null;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain?.[1] ?? null;
}

async function answer<T>(res: Response, opts: { quiet?: boolean }): Promise<T> {
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const b = (json ?? {}) as Partial<ApiErrorBody>;
    const err = new ApiError(res.status, { code: b.code ?? `HTTP_${res.status}`, message: b.message ?? res.statusText, messageZh: b.messageZh, details: b.details, requestId: b.requestId });
    if (!opts.quiet && SESSION_END_CODES.has(err.code)) for (const l of sessionEndListeners) l(err);
    throw err;
  }
  return json as T;
}

// ---- the shapes this slice reads (a subset of the OpenAPI description) ------------------------

export type SetupStep = 'changePassword' | 'enrolTotp';

export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly agencyId: string | null;
  readonly roles: readonly string[];
  readonly totpEnabled: boolean;
}

export interface Me {
  readonly user: User;
  readonly permissions: readonly string[];
  readonly setupRequired: readonly SetupStep[];
  readonly totpRequired: boolean;
}

export interface Agency {
  readonly id: string;
  readonly code: string;
  readonly nameZh: string;
  readonly names?: Readonly<Record<string, string>>;
}

export interface Segment {
  readonly text: string;
  readonly match: boolean;
}

export interface SearchHit {
  readonly entryId: string;
  readonly resourceCode: string;
  readonly version: number;
  readonly name: string;
  readonly abstract: string | null;
  readonly provider: { readonly id: string; readonly code: string; readonly name: string };
  readonly shareType: string;
  readonly shareMethods: readonly string[];
  readonly formatType: string | null;
  readonly updateCycle: string | null;
  readonly publishDate: string;
  readonly highlight: { readonly name: readonly Segment[]; readonly abstract: readonly Segment[] };
}

export interface FacetValue {
  readonly value: string;
  readonly count: number;
  readonly label?: string;
  readonly code?: string;
}

export const FACETS = ['provider', 'region', 'classification', 'shareType', 'shareMethod', 'format', 'updateCycle'] as const;
export type Facet = (typeof FACETS)[number];

export interface SearchResult {
  readonly total: number;
  readonly totalIsLowerBound: boolean;
  readonly terms: readonly string[];
  readonly items: readonly SearchHit[];
  readonly facets: Readonly<Record<Facet, readonly FacetValue[]>> | null;
}

export interface DataItem {
  readonly name: string;
  readonly nameZh: string;
  readonly dataType: string;
  readonly length: number | null;
  readonly precision: number | null;
  readonly scale: number | null;
  readonly sqlType: string;
  readonly description: string;
  readonly sensitive: boolean;
  readonly format: string | null;
  readonly key: boolean;
}

export interface Version {
  readonly number: number;
  readonly state: string;
  readonly classification: { readonly code: string } | null;
  readonly name: string;
  readonly abstract: string | null;
  readonly format: { readonly type: string; readonly subtype: string | null } | null;
  readonly dataItems: readonly DataItem[];
  readonly shareType: string | null;
  readonly shareCondition: string | null;
  readonly legalBasis: { readonly law: string; readonly article: string } | null;
  readonly shareMethods: readonly string[];
  readonly openness: { readonly open: boolean; readonly condition: string | null } | null;
  readonly updateCycle: string | null;
  readonly relatedCodes: readonly string[];
  readonly publishDate: string | null;
  readonly createdAt: string;
  readonly reviewed: { readonly by: string; readonly at: string; readonly comment: string | null } | null;
}

export interface Entry {
  readonly id: string;
  readonly resourceCode: string | null;
  readonly status: string;
  readonly provider: { readonly id: string; readonly code: string; readonly name: string };
  /** Concurrency version of the entry, passed back as expectedVersion. */
  readonly version: number;
  readonly updatedAt: string;
  readonly publishedVersion: number | null;
  readonly published: Version | null;
  readonly pending: Version | null;
}

export interface InboxItem {
  readonly id: string;
  readonly kind: string;
  readonly subjectZh: string;
  readonly subject: string;
  readonly bodyZh: string;
  readonly body: string;
  readonly read: boolean;
  readonly createdAt: string;
}
