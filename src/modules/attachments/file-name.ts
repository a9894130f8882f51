import { GsError } from '../../lib/errors.js';

const MAX_FILE_NAME = 255;

function invalid(field: string, reason: string, reasonZh: string): GsError {
  return new GsError('GS_ERR_ATTACHMENT_INVALID', { reason, reasonZh }, [{ field, rule: 'fileName', message: reason, messageZh: reasonZh }]);
}

/**
 * A file name as a client gave it, made safe to store and to send back in Content-Disposition:
 * the last path segment only (a browser or tool may send `C:\\Users\\…\\保密协议.pdf`), NFC, no
 * control or bidirectional-override characters (a name must not pretend to end in `.pdf`), no
 * characters Windows refuses in names, at most 255 characters (whole characters, not halves of
 * a surrogate pair). Nothing left is refused.
 */
export function sanitiseFileName(raw: string, field: string): string {
  const last = raw.split(/[/\\]/).at(-1) ?? '';
  const cleaned = last
    .normalize('NFC')
    // C0, DEL, C1 controls; bidi embeddings, overrides and isolates; zero-width and BOM.
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .replace(/[<>:"|?*]/g, '_')
    .trim()
    // Trailing dots and spaces are dropped by Windows; leading dots make hidden files.
    .replace(/[. ]+$/, '')
    .replace(/^\.+/, '');
  const name = [...cleaned].slice(0, MAX_FILE_NAME).join('');
  if (name === '') throw invalid(field, 'the file name is missing or has no usable characters', '文件名缺失或不含可用字符');
  return name;
}

/**
 * The file name of a `Content-Disposition` request header (RFC 6266): `filename*` (RFC 5987,
 * UTF-8 percent-encoded) before `filename`; undefined when the header names none.
 */
export function fileNameOfDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*([^;]+)/i.exec(header)?.[1]?.trim();
  if (extended) {
    const m = /^([A-Za-z0-9_-]+)'[^']*'(.*)$/.exec(extended);
    if (m && m[1]!.toLowerCase() === 'utf-8') {
      try {
        return decodeURIComponent(m[2]!);
      } catch {
        // a broken encoding: fall back to the plain parameter
      }
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)?.[1];
  if (quoted !== undefined) return quoted.replace(/\\(.)/g, '$1');
  return /filename\s*=\s*([^;\s]+)/i.exec(header)?.[1];
}

/**
 * A `Content-Disposition` response header for a download: an ASCII fallback for old clients and
 * the real name RFC 5987-encoded (`filename*=UTF-8''%E4%BF%9D…`), which browsers prefer.
 */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/** The media type of an upload, lower-cased and without parameters; absent: application/octet-stream. */
export function mediaTypeOf(header: string | undefined): string {
  const essence = (header ?? '').split(';')[0]!.trim().toLowerCase();
  if (essence === '') return 'application/octet-stream';
  if (!MEDIA_TYPE.test(essence)) {
    const reason = `Content-Type ${JSON.stringify(essence.slice(0, 100))} is not a media type`;
    throw new GsError('GS_ERR_ATTACHMENT_INVALID', { reason, reasonZh: `Content-Type ${JSON.stringify(essence.slice(0, 100))} 不是合法的媒体类型` }, [{ field: 'headers.content-type', rule: 'mediaType', message: reason, messageZh: '不是合法的媒体类型' }]);
  }
  return essence;
}

const MEDIA_TYPES: Readonly<Record<string, string>> = {
  pdf: 'application/pdf',
  ofd: 'application/ofd',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  zip: 'application/zip',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** The media type a file's extension usually means (absent: application/octet-stream). */
export function mediaTypeOfName(name: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
  return ext === undefined ? undefined : MEDIA_TYPES[ext];
}
