import { Ajv, type Options as AjvOptions, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Static, TSchema } from 'typebox';
import { validationError } from './http-errors.js';

// ajv-formats is CommonJS with a default export
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** The JSON Schema validator the API checks requests with (formats such as date and uuid included). */
export function makeAjv(options: AjvOptions): Ajv {
  const ajv = new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, strict: false, ...options });
  addFormats(ajv);
  return ajv;
}

// Strict like request bodies: a string is not coerced into a number.
const plainJson = makeAjv({ coerceTypes: false });
const compiled = new WeakMap<TSchema, ValidateFunction>();

/**
 * Checks plain JSON that did not come through an HTTP route — an admin operation's input, a
 * file the CLI read — against the same schema an API body is checked with, failing as the API
 * does: GS_ERR_REQUEST_INVALID naming each field (prefixed with `context`) and the rule broken.
 */
export function checkInput<T extends TSchema>(schema: T, value: unknown, context = ''): Static<T> {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = plainJson.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return value as Static<T>;
  throw validationError(context, validate.errors ?? []);
}
