/**
 * The official SARIF 2.1.0 JSON Schema (OASIS, final "rtm.5" revision, draft-04), as shipped in Microsoft's
 * @microsoft/jest-sarif package (lib/schemas/sarif-2.1.0-rtm.5.json; no copy is kept here), compiled with ajv's
 * draft-04 class and formats. Its patterns are ECMAScript, not Unicode-mode, expressions, hence unicodeRegExp off.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Ajv04Module from 'ajv-draft-04';
import addFormats from 'ajv-formats';

let validator: (((doc: unknown) => boolean) & { errors?: unknown }) | undefined;

export function sarifValidator(): ((doc: unknown) => boolean) & { errors?: unknown } {
  if (!validator) {
    const req = createRequire(import.meta.url);
    const schema = JSON.parse(
      readFileSync(req.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'),
    );
    const ajv = new Ajv04Module.default({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats.default(ajv);
    validator = ajv.compile(schema);
  }
  return validator;
}
