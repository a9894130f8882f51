import { Type, type Static } from 'typebox';
import { DateTime, Uuid } from '../../server/schema-kit.js';
import { LangQuery } from '../catalog/schemas.js';

const AgencyRef = Type.Object({ id: Uuid, code: Type.String(), name: Type.String() });

export const AttachmentView = Type.Object({
  id: Uuid,
  fileName: Type.String({ description: 'As uploaded, made safe: no folders, no control characters, at most 255 characters' }),
  contentType: Type.String(),
  bytes: Type.Integer(),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the content, hex; the blob store keeps the bytes under it' }),
  uploadedBy: Type.String(),
  agency: Type.Union([AgencyRef, Type.Null()], { description: 'The uploading agency; null for platform staff' }),
  createdAt: DateTime,
});
export type AttachmentView = Static<typeof AttachmentView>;

export const UploadQuery = Type.Object(
  {
    fileName: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The file name (else from a Content-Disposition header)' })),
    lang: LangQuery,
  },
  { additionalProperties: false },
);
export type UploadQuery = Static<typeof UploadQuery>;
